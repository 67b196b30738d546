import type http2 from "node:http2";
import type net from "node:net";
import {
  CONNECTION_PREFACE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  frameHeader,
  FrameType,
  goawayFrame,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  Setting,
  settingsFrame,
  uint32Frame,
} from "./frames.js";
import { CompressionError, encodeHeaderBlock, HeaderListTooLarge, HpackDecoder, type HeaderField, type HpackDecoderSnapshot } from "./hpack.js";
import { requestHeaders } from "./request-headers.js";
import { H2Stream, type StreamOwner } from "./stream.js";

export interface H2ConnectionOptions {
  /** A new request; listeners must be attached before this returns. */
  onStream(stream: H2Stream, headers: http2.IncomingHttpHeaders): void;
  /** New streams are refused while more than this waits to be written to the socket. */
  maxSessionMemoryBytes: number;
}

/**
 * What the next frame from the client may depend on, taken from a quiet
 * connection (no stream open, nothing left to write) so that another
 * process can go on serving the same socket. JSON, for cluster messages.
 */
export interface H2ConnectionState {
  maxFrameSize: number;
  peerInitialWindow: number;
  sendWindow: number;
  lastStreamId: number;
  receivedUnacked: number;
  /** The start of a frame already read from the socket, base64. */
  pending: string;
  decoder: HpackDecoderSnapshot;
}

const MAX_CONCURRENT_STREAMS = 100;
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const MAX_HEADER_LIST_BYTES = 64 * 1024;
/** Compressed header blocks larger than this end the connection (CONTINUATION floods). */
const MAX_HEADER_BLOCK_BYTES = 2 * MAX_HEADER_LIST_BYTES;
/** Frames that make us work without making progress (resets, pings, settings, empty data), per second. */
const MAX_CHEAP_FRAMES_PER_SECOND = 1000;

class ConnectionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The server side of one cleartext HTTP/2 connection (RFC 9113), written for
 * gRPC on the unix socket: Node's HTTP/2 session costs more CPU per unary
 * call than the call itself (docs/performance.md). It does what a gRPC
 * server needs: streams, HPACK, flow control both ways, SETTINGS, PING,
 * RST_STREAM and GOAWAY, with limits on concurrent streams, header sizes,
 * buffered output and floods of frames that do no work. No server push, no
 * priorities (they are read and ignored).
 */
export class H2Connection implements StreamOwner {
  maxFrameSize = MIN_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sendWindow = DEFAULT_WINDOW;
  private readonly waitingForWindow = new Set<H2Stream>();
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder: HpackDecoder;
  private lastStreamId = 0;
  private receivedUnacked = 0;
  private pending: Buffer | null = null;
  private prefaceRead = false;
  private settingsRead = false;
  private headerBlock: { streamId: number; endStream: boolean; chunks: Buffer[]; bytes: number } | null = null;
  private goingAway = false;
  private destroyed = false;
  private output: Buffer[] = [];
  private flushScheduled = false;
  private cheapFrames = 0;
  private cheapWindowStart = Date.now();
  private onQuiet: ((state: H2ConnectionState) => void) | null = null;
  private readonly onData = (chunk: Buffer) => this.read(chunk);
  private readonly onEnd = () => this.destroy();

  /** resumed: the state of a connection handed over by another process, whose settings were already sent. */
  constructor(
    readonly socket: net.Socket,
    private readonly options: H2ConnectionOptions,
    resumed?: H2ConnectionState,
  ) {
    if (resumed === undefined) {
      this.decoder = new HpackDecoder();
      this.send(
        settingsFrame([
          [Setting.MaxConcurrentStreams, MAX_CONCURRENT_STREAMS],
          [Setting.InitialWindowSize, STREAM_WINDOW],
          [Setting.MaxHeaderListSize, MAX_HEADER_LIST_BYTES],
        ]),
      );
      this.send(uint32Frame(FrameType.WindowUpdate, 0, CONNECTION_WINDOW - DEFAULT_WINDOW));
    } else {
      this.decoder = HpackDecoder.restore(resumed.decoder);
      this.maxFrameSize = resumed.maxFrameSize;
      this.peerInitialWindow = resumed.peerInitialWindow;
      this.sendWindow = resumed.sendWindow;
      this.lastStreamId = resumed.lastStreamId;
      this.receivedUnacked = resumed.receivedUnacked;
      this.pending = resumed.pending === "" ? null : Buffer.from(resumed.pending, "base64");
      this.prefaceRead = this.settingsRead = true;
    }
    socket.on("data", this.onData);
    socket.on("error", this.onEnd);
    socket.on("close", this.onEnd);
  }

  /**
   * Gives the connection up at its next quiet moment: no stream open, no
   * header block half read, nothing left to write. The socket is then
   * paused with none of its listeners left, and onQuiet has the state that
   * lets another H2Connection go on serving it.
   */
  handOverWhenQuiet(onQuiet: (state: H2ConnectionState) => void): void {
    this.onQuiet = onQuiet;
    this.handOverIfQuiet();
  }

  /** Still served here: not ended, and not handed over. */
  get open(): boolean {
    return !this.destroyed;
  }

  cancelHandover(): void {
    this.onQuiet = null;
  }

  private handOverIfQuiet(): void {
    const onQuiet = this.onQuiet;
    if (onQuiet === null || this.destroyed || this.goingAway || !this.settingsRead) return;
    if (this.streams.size > 0 || this.headerBlock !== null || this.output.length > 0) return;
    if (this.socket.writableLength > 0 || this.socket.readableLength > 0) return;
    // A failed write leaves nothing to write, and its error is emitted after the write's callback: to the listeners removed below.
    if (this.socket.errored !== null || this.socket.destroyed) return;
    this.onQuiet = null;
    this.destroyed = true;
    this.socket.pause();
    this.socket.off("data", this.onData);
    this.socket.off("error", this.onEnd);
    this.socket.off("close", this.onEnd);
    onQuiet({
      maxFrameSize: this.maxFrameSize,
      peerInitialWindow: this.peerInitialWindow,
      sendWindow: this.sendWindow,
      lastStreamId: this.lastStreamId,
      receivedUnacked: this.receivedUnacked,
      pending: this.pending === null ? "" : this.pending.toString("base64"),
      decoder: this.decoder.snapshot(),
    });
  }

  /** Graceful close: no new streams; the socket ends when the open ones are done. */
  close(): void {
    if (this.goingAway || this.destroyed) return;
    this.goingAway = true;
    this.send(goawayFrame(this.lastStreamId, ErrorCode.NoError));
    this.endIfIdle();
  }

  private read(chunk: Buffer): void {
    let buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    try {
      if (!this.prefaceRead) {
        if (buffer.length < CONNECTION_PREFACE.length) return void (this.pending = buffer);
        if (!buffer.subarray(0, CONNECTION_PREFACE.length).equals(CONNECTION_PREFACE)) {
          throw new ConnectionError(ErrorCode.ProtocolError, "invalid connection preface");
        }
        this.prefaceRead = true;
        buffer = buffer.subarray(CONNECTION_PREFACE.length);
      }
      let at = 0;
      while (!this.destroyed && buffer.length - at >= FRAME_HEADER_BYTES) {
        const length = buffer.readUIntBE(at, 3);
        if (length > MIN_MAX_FRAME_SIZE) throw new ConnectionError(ErrorCode.FrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
        if (buffer.length - at - FRAME_HEADER_BYTES < length) break;
        const type = buffer[at + 3]!;
        const flags = buffer[at + 4]!;
        const streamId = buffer.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buffer.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
        at += FRAME_HEADER_BYTES + length;
        this.frame(type, flags, streamId, payload);
      }
      this.pending = at === buffer.length ? null : buffer.subarray(at);
    } catch (error) {
      if (error instanceof ConnectionError) this.fail(error.code, error.message);
      else if (error instanceof CompressionError) this.fail(ErrorCode.CompressionError, error.message);
      else if (error instanceof HeaderListTooLarge) this.fail(ErrorCode.EnhanceYourCalm, error.message);
      else this.fail(ErrorCode.InternalError, "internal error");
    }
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlock !== null && (type !== FrameType.Continuation || streamId !== this.headerBlock.streamId)) {
      throw new ConnectionError(ErrorCode.ProtocolError, "expected CONTINUATION");
    }
    if (!this.settingsRead && type !== FrameType.Settings) throw new ConnectionError(ErrorCode.ProtocolError, "expected SETTINGS first");
    switch (type) {
      case FrameType.Data:
        return this.data(flags, streamId, payload);
      case FrameType.Headers:
        return this.headers(flags, streamId, payload);
      case FrameType.Continuation:
        if (this.headerBlock === null) throw new ConnectionError(ErrorCode.ProtocolError, "unexpected CONTINUATION");
        return this.headerFragment(payload, (flags & Flag.EndHeaders) !== 0);
      case FrameType.Priority:
        if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, "PRIORITY on stream 0");
        if (payload.length !== 5) throw new ConnectionError(ErrorCode.FrameSizeError, "PRIORITY of the wrong size");
        return this.cheapFrame();
      case FrameType.RstStream:
        return this.rstStream(streamId, payload);
      case FrameType.Settings:
        return this.settings(flags, streamId, payload);
      case FrameType.PushPromise:
        throw new ConnectionError(ErrorCode.ProtocolError, "PUSH_PROMISE from a client");
      case FrameType.Ping:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, "PING on a stream");
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FrameSizeError, "PING of the wrong size");
        if (flags & Flag.Ack) return;
        this.cheapFrame();
        return this.send(Buffer.concat([frameHeader(8, FrameType.Ping, Flag.Ack, 0), payload]));
      case FrameType.Goaway:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, "GOAWAY on a stream");
        this.goingAway = true;
        return this.endIfIdle();
      case FrameType.WindowUpdate:
        return this.windowUpdate(streamId, payload);
      default:
        return this.cheapFrame(); // unknown frame types are ignored (RFC 9113 section 4.1)
    }
  }

  /** Padding removed, or a PROTOCOL_ERROR if it does not fit. */
  private unpadded(flags: number, payload: Buffer): Buffer {
    if (!(flags & Flag.Padded)) return payload;
    if (payload.length < 1 || payload[0]! >= payload.length) throw new ConnectionError(ErrorCode.ProtocolError, "bad padding");
    return payload.subarray(1, payload.length - payload[0]!);
  }

  private data(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, "DATA on stream 0");
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, "DATA on an idle stream");
    this.creditConnection(payload.length);
    const data = this.unpadded(flags, payload);
    const endStream = (flags & Flag.EndStream) !== 0;
    if (data.length === 0 && !endStream) this.cheapFrame();
    const stream = this.streams.get(streamId);
    if (stream === undefined) return; // closed by us: RFC 9113 section 5.1 lets us ignore it
    if (stream.remoteEnded) return stream.close(ErrorCode.StreamClosed);
    stream.receiveWindow -= payload.length;
    if (stream.receiveWindow < 0) return stream.close(ErrorCode.FlowControlError);
    this.grantReceiveWindow(streamId, payload.length - data.length);
    if (data.length > 0) stream.receive(data);
    if (endStream && !stream.closed) stream.receiveEnd();
  }

  private headers(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new ConnectionError(ErrorCode.ProtocolError, "HEADERS on an invalid stream");
    let fragment = this.unpadded(flags, payload);
    if (flags & Flag.Priority) {
      if (fragment.length < 5) throw new ConnectionError(ErrorCode.FrameSizeError, "HEADERS too short for its priority");
      fragment = fragment.subarray(5);
    }
    this.headerBlock = { streamId, endStream: (flags & Flag.EndStream) !== 0, chunks: [], bytes: 0 };
    this.headerFragment(fragment, (flags & Flag.EndHeaders) !== 0);
  }

  private headerFragment(fragment: Buffer, last: boolean): void {
    const block = this.headerBlock!;
    block.bytes += fragment.length;
    if (block.bytes > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(ErrorCode.EnhanceYourCalm, "header block too large");
    block.chunks.push(fragment);
    if (!last) return;
    this.headerBlock = null;
    const fields = this.decoder.decode(block.chunks.length === 1 ? block.chunks[0]! : Buffer.concat(block.chunks), MAX_HEADER_LIST_BYTES);
    this.headerList(block.streamId, block.endStream, fields);
  }

  private headerList(streamId: number, endStream: boolean, fields: HeaderField[]): void {
    const open = this.streams.get(streamId);
    if (open !== undefined) {
      // Trailers: they end the request, and nothing in them is used.
      if (!endStream || open.remoteEnded) return open.close(ErrorCode.ProtocolError);
      return open.receiveEnd();
    }
    if (streamId <= this.lastStreamId) return; // trailers of a stream already closed
    this.lastStreamId = streamId;
    if (this.goingAway) return this.resetStream(streamId, ErrorCode.RefusedStream);
    if (this.streams.size >= MAX_CONCURRENT_STREAMS) return this.resetStream(streamId, ErrorCode.RefusedStream);
    if (this.socket.writableLength > this.options.maxSessionMemoryBytes) return this.resetStream(streamId, ErrorCode.EnhanceYourCalm);
    const headers = requestHeaders(fields);
    if (headers === null) return this.resetStream(streamId, ErrorCode.ProtocolError);
    const stream = new H2Stream(streamId, this, this.peerInitialWindow, STREAM_WINDOW);
    this.streams.set(streamId, stream);
    try {
      this.options.onStream(stream, headers);
    } catch {
      return stream.close(ErrorCode.InternalError);
    }
    if (endStream && !stream.closed) stream.receiveEnd();
  }

  private rstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, "RST_STREAM on stream 0");
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, "RST_STREAM of the wrong size");
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, "RST_STREAM on an idle stream");
    this.cheapFrame();
    this.streams.get(streamId)?.abort(payload.readUInt32BE(0));
  }

  private settings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, "SETTINGS on a stream");
    if (flags & Flag.Ack) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FrameSizeError, "SETTINGS ack with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FrameSizeError, "SETTINGS of the wrong size");
    if (this.settingsRead) this.cheapFrame();
    this.settingsRead = true;
    for (let at = 0; at < payload.length; at += 6) {
      const value = payload.readUInt32BE(at + 2);
      switch (payload.readUInt16BE(at)) {
        case Setting.EnablePush:
          if (value > 1) throw new ConnectionError(ErrorCode.ProtocolError, "invalid SETTINGS_ENABLE_PUSH");
          break;
        case Setting.InitialWindowSize: {
          if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FlowControlError, "invalid SETTINGS_INITIAL_WINDOW_SIZE");
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const stream of this.streams.values()) {
            if (!stream.adjustSendWindow(delta)) throw new ConnectionError(ErrorCode.FlowControlError, "stream window overflow");
          }
          break;
        }
        case Setting.MaxFrameSize:
          if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) throw new ConnectionError(ErrorCode.ProtocolError, "invalid SETTINGS_MAX_FRAME_SIZE");
          this.maxFrameSize = value;
          break;
        // The others do not concern us: we push nothing and index nothing in our answers.
      }
    }
    this.send(frameHeader(0, FrameType.Settings, Flag.Ack, 0));
  }

  private windowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, "WINDOW_UPDATE of the wrong size");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.ProtocolError, "WINDOW_UPDATE of 0");
      if (this.sendWindow + increment > MAX_WINDOW) throw new ConnectionError(ErrorCode.FlowControlError, "connection window overflow");
      this.sendWindow += increment;
      const waiting = [...this.waitingForWindow];
      this.waitingForWindow.clear();
      for (const stream of waiting) stream.pump();
      return;
    }
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, "WINDOW_UPDATE on an idle stream");
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) return stream.close(ErrorCode.ProtocolError);
    if (!stream.adjustSendWindow(increment)) stream.close(ErrorCode.FlowControlError);
  }

  /** Resets, pings and the like cost us work; more than a set number a second ends the connection. */
  private cheapFrame(): void {
    const now = Date.now();
    if (now - this.cheapWindowStart >= 1000) {
      this.cheapWindowStart = now;
      this.cheapFrames = 0;
    }
    if (++this.cheapFrames > MAX_CHEAP_FRAMES_PER_SECOND) throw new ConnectionError(ErrorCode.EnhanceYourCalm, "too many frames that do no work");
  }

  /** Connection-level window is given back as soon as data arrives; streams' windows bound what is held. */
  private creditConnection(bytes: number): void {
    this.receivedUnacked += bytes;
    if (this.receivedUnacked >= CONNECTION_WINDOW / 2) {
      this.send(uint32Frame(FrameType.WindowUpdate, 0, this.receivedUnacked));
      this.receivedUnacked = 0;
    }
  }

  // ---- StreamOwner ----

  grantReceiveWindow(streamId: number, bytes: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.remoteEnded || bytes === 0) return;
    stream.receiveUnacked += bytes;
    if (stream.receiveUnacked < STREAM_WINDOW / 2) return;
    stream.receiveWindow += stream.receiveUnacked;
    this.send(uint32Frame(FrameType.WindowUpdate, streamId, stream.receiveUnacked));
    stream.receiveUnacked = 0;
  }

  takeSendWindow(stream: H2Stream, wanted: number): number {
    const granted = Math.min(wanted, this.sendWindow);
    if (granted === 0) this.waitingForWindow.add(stream);
    this.sendWindow -= granted;
    return granted;
  }

  sendHeaders(streamId: number, fields: HeaderField[], endStream: boolean): void {
    const block = encodeHeaderBlock(fields);
    const endFlag = endStream ? Flag.EndStream : 0;
    if (block.length <= this.maxFrameSize) {
      return this.send(frameHeader(block.length, FrameType.Headers, endFlag | Flag.EndHeaders, streamId), block);
    }
    for (let at = 0; at < block.length; at += this.maxFrameSize) {
      const part = block.subarray(at, at + this.maxFrameSize);
      const last = at + this.maxFrameSize >= block.length ? Flag.EndHeaders : 0;
      const type = at === 0 ? FrameType.Headers : FrameType.Continuation;
      this.send(frameHeader(part.length, type, (at === 0 ? endFlag : 0) | last, streamId), part);
    }
  }

  sendData(streamId: number, data: Uint8Array, endStream: boolean): void {
    this.send(frameHeader(data.length, FrameType.Data, endStream ? Flag.EndStream : 0, streamId), data);
  }

  resetStream(streamId: number, code: ErrorCode): void {
    this.send(uint32Frame(FrameType.RstStream, streamId, code));
  }

  streamClosed(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.waitingForWindow.delete(stream);
    this.endIfIdle();
  }

  // ---- output and ending ----

  /** Frames leave together once this turn of the event loop is over: one write for all the answers it made. */
  private send(...parts: Uint8Array[]): void {
    if (this.destroyed) return;
    for (const part of parts) this.output.push(part as Buffer);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.destroyed || this.output.length === 0) return;
    const output = this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output);
    this.output = [];
    if (this.onQuiet === null) this.socket.write(output);
    else this.socket.write(output, () => this.handOverIfQuiet());
    if (this.socket.writableLength > this.options.maxSessionMemoryBytes * 2) this.fail(ErrorCode.EnhanceYourCalm, "client does not read");
    this.handOverIfQuiet();
  }

  private endIfIdle(): void {
    if (!this.goingAway || this.streams.size > 0 || this.destroyed) return;
    this.flush();
    // Closed once written, whether or not the client ends its side.
    this.socket.destroySoon();
  }

  /** A connection error: GOAWAY with its code, after whatever was already due. */
  private fail(code: ErrorCode, message: string): void {
    if (this.destroyed) return;
    this.socket.end(Buffer.concat([...this.output, goawayFrame(this.lastStreamId, code, message)]));
    this.destroy();
  }

  private destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.output = [];
    for (const stream of [...this.streams.values()]) stream.abort(ErrorCode.Cancel);
    this.streams.clear();
    if (!this.socket.destroyed) this.socket.destroySoon();
  }
}
