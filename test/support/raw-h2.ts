// Test support: an HTTP/2 client that writes frames by hand, to send what
// real clients never do (floods, bad framing) and read each frame sent back.

import net from "node:net";
import { CONNECTION_PREFACE, ErrorCode, Flag, frameHeader, FrameType } from "../../server/h2/frames.js";
import { encodeHeaderBlock, type HeaderField } from "../../server/h2/hpack.js";

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class RawH2Client {
  readonly frames: Frame[] = [];
  readonly ended: Promise<void>;
  private waiters: (() => void)[] = [];
  private pending = Buffer.alloc(0);

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 9) {
        const length = this.pending.readUIntBE(0, 3);
        if (this.pending.length < 9 + length) break;
        this.frames.push({
          type: this.pending[3]!,
          flags: this.pending[4]!,
          streamId: this.pending.readUInt32BE(5) & 0x7fffffff,
          payload: this.pending.subarray(9, 9 + length),
        });
        this.pending = this.pending.subarray(9 + length);
      }
      this.wake();
    });
    this.ended = new Promise((resolve) => socket.once("close", () => (this.wake(), resolve())));
    socket.on("error", () => {});
  }

  /** Connected, preface and an empty SETTINGS sent (unless `preface` says otherwise). */
  static async connect(path: string, preface: Buffer = Buffer.concat([CONNECTION_PREFACE, frameHeader(0, FrameType.Settings, 0, 0)])): Promise<RawH2Client> {
    const socket = net.connect(path);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new RawH2Client(socket);
    socket.write(preface);
    return client;
  }

  send(type: FrameType, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): void {
    this.socket.write(Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]));
  }

  /** HEADERS with END_HEADERS for a POST to `path`, plus `extra` fields. */
  request(streamId: number, path: string, endStream: boolean, extra: HeaderField[] = []): void {
    const block = encodeHeaderBlock([[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "localhost"], ...extra]);
    this.send(FrameType.Headers, Flag.EndHeaders | (endStream ? Flag.EndStream : 0), streamId, block);
  }

  reset(streamId: number, code: ErrorCode): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code);
    this.send(FrameType.RstStream, 0, streamId, payload);
  }

  /** The first frame (from the start of the connection) that matches, once it has arrived. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.socket.destroyed || Date.now() > deadline) throw new Error("no such frame arrived");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The GOAWAY's error code, once one has arrived. */
  async goawayCode(): Promise<number> {
    const goaway = await this.waitFor((f) => f.type === FrameType.Goaway);
    return goaway.payload.readUInt32BE(4);
  }

  /** The error code of the RST_STREAM for this stream, once one has arrived. */
  async resetCode(streamId: number): Promise<number> {
    const reset = await this.waitFor((f) => f.type === FrameType.RstStream && f.streamId === streamId);
    return reset.payload.readUInt32BE(0);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
