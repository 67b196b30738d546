import { EventEmitter } from "node:events";
import type http2 from "node:http2";
import type { CallStream } from "../http/call-stream.js";
import { ErrorCode, MAX_WINDOW } from "./frames.js";
import type { HeaderField } from "./hpack.js";

/** What a stream needs from its connection. */
export interface StreamOwner {
  readonly maxFrameSize: number;
  sendHeaders(streamId: number, fields: HeaderField[], endStream: boolean): void;
  sendData(streamId: number, data: Uint8Array, endStream: boolean): void;
  /** Up to `wanted` bytes of the connection's send window; 0 puts the stream in line for more. */
  takeSendWindow(stream: H2Stream, wanted: number): number;
  grantReceiveWindow(streamId: number, bytes: number): void;
  resetStream(streamId: number, code: ErrorCode): void;
  streamClosed(stream: H2Stream): void;
}

function fieldsOf(headers: http2.OutgoingHttpHeaders): HeaderField[] {
  const fields: HeaderField[] = [];
  const status = headers[":status"];
  if (status !== undefined) fields.push([":status", String(status)]);
  for (const name in headers) {
    const value = headers[name];
    if (name === ":status" || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) fields.push([name.toLowerCase(), v]);
    else fields.push([name.toLowerCase(), String(value)]);
  }
  return fields;
}

/**
 * One HTTP/2 stream of the unix socket's gRPC connection, with the part of
 * Node's ServerHttp2Stream that the gRPC lane and the bridge to connect use.
 * Request data is handed on as it arrives (or buffered while paused), and
 * the client's window is given back as it is handed on. Answer data waits
 * for the client's windows.
 */
export class H2Stream extends EventEmitter implements CallStream {
  closed = false;
  rstCode?: number;
  readableEnded = false;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  /** What the client may still send before we give window back, and what we have taken but not given back. */
  receiveWindow: number;
  receiveUnacked = 0;
  private paused = false;
  private inbound: Buffer[] = [];
  private outbound: Uint8Array[] = [];
  private ending = false;
  private waitForTrailers = false;
  private responded = false;

  constructor(
    readonly id: number,
    private readonly owner: StreamOwner,
    public sendWindow: number,
    receiveWindow: number,
  ) {
    super();
    this.receiveWindow = receiveWindow;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  /** Request data from the connection. */
  receive(chunk: Buffer): void {
    if (this.paused || this.inbound.length > 0) this.inbound.push(chunk);
    else this.deliver(chunk);
  }

  /** The client ended its side. */
  receiveEnd(): void {
    this.remoteEnded = true;
    if (!this.paused && this.inbound.length === 0) this.finishReading();
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    while (!this.paused && this.inbound.length > 0) this.deliver(this.inbound.shift()!);
    if (!this.paused && this.remoteEnded) this.finishReading();
    return this;
  }

  private deliver(chunk: Buffer): void {
    this.owner.grantReceiveWindow(this.id, chunk.length);
    this.emit("data", chunk);
  }

  private finishReading(): void {
    if (this.readableEnded) return;
    this.readableEnded = true;
    this.emit("end");
  }

  respond(headers: http2.OutgoingHttpHeaders, options: { waitForTrailers: boolean; endStream?: boolean }): void {
    if (this.closed || this.responded) return;
    this.responded = true;
    this.waitForTrailers = options.waitForTrailers;
    const endStream = options.endStream === true;
    this.owner.sendHeaders(this.id, fieldsOf(headers), endStream);
    if (endStream) this.localEnd();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.closed && chunk.length > 0) this.outbound.push(chunk);
    this.pump();
    return true;
  }

  end(chunk?: Uint8Array): this {
    if (chunk !== undefined && chunk.length > 0 && !this.closed) this.outbound.push(chunk);
    this.ending = true;
    this.pump();
    return this;
  }

  sendTrailers(trailers: http2.OutgoingHttpHeaders): void {
    if (this.closed) return;
    this.owner.sendHeaders(this.id, fieldsOf(trailers), true);
    this.localEnd();
  }

  /** Sends what the windows allow; called again when they open. */
  pump(): void {
    while (!this.closed && this.outbound.length > 0) {
      const head = this.outbound[0]!;
      const wanted = Math.min(head.length, this.sendWindow, this.owner.maxFrameSize);
      const granted = wanted === 0 ? 0 : this.owner.takeSendWindow(this, wanted);
      if (granted === 0) return;
      this.sendWindow -= granted;
      const last = granted === head.length && this.outbound.length === 1 && this.ending && !this.waitForTrailers;
      this.owner.sendData(this.id, head.subarray(0, granted), last);
      if (granted === head.length) this.outbound.shift();
      else this.outbound[0] = head.subarray(granted);
      if (last) return this.localEnd();
    }
    if (this.closed || !this.ending || this.outbound.length > 0) return;
    if (this.waitForTrailers) {
      this.waitForTrailers = false;
      this.emit("wantTrailers");
    } else {
      this.owner.sendData(this.id, new Uint8Array(0), true);
      this.localEnd();
    }
  }

  /** The peer's window for this stream changed (WINDOW_UPDATE or SETTINGS). */
  adjustSendWindow(delta: number): boolean {
    if (this.sendWindow + delta > MAX_WINDOW) return false;
    this.sendWindow += delta;
    if (delta > 0) this.pump();
    return true;
  }

  /** We sent END_STREAM, so the stream is done. */
  private localEnd(): void {
    if (this.closed) return;
    // RFC 9113 section 8.1: answered before the request ended, tell the client to stop sending.
    if (!this.remoteEnded) this.owner.resetStream(this.id, ErrorCode.NoError);
    this.markClosed(ErrorCode.NoError);
  }

  close(code: number = ErrorCode.NoError): void {
    if (this.closed) return;
    this.owner.resetStream(this.id, code);
    this.markClosed(code);
  }

  /** The client reset the stream, or the connection went away. */
  abort(code: number): void {
    if (!this.closed) this.markClosed(code);
  }

  private markClosed(code: number): void {
    this.closed = true;
    this.rstCode = code;
    this.outbound = [];
    this.inbound = [];
    this.owner.streamClosed(this);
    this.emit("close");
  }
}
