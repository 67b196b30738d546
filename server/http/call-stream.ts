import type http2 from "node:http2";

/**
 * What the gRPC lane and the bridge to connect use of an HTTP/2 stream: a
 * subset of Node's ServerHttp2Stream, which the gRPC connection of the unix
 * socket (server/h2) implements too.
 */
export interface CallStream {
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly readableEnded: boolean;
  readonly rstCode?: number;
  on(event: "data", listener: (chunk: Buffer) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  once(event: "end" | "close" | "wantTrailers", listener: () => void): this;
  once(event: "error", listener: (error: Error) => void): this;
  off(event: "data", listener: (chunk: Buffer) => void): this;
  off(event: "end" | "close", listener: () => void): this;
  pause(): this;
  resume(): this;
  respond(headers: http2.OutgoingHttpHeaders, options: { waitForTrailers: boolean }): void;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): this;
  sendTrailers(trailers: http2.OutgoingHttpHeaders): void;
  close(code: number): void;
}
