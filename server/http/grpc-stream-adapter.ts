import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import http2 from "node:http2";
import type { CallStream } from "./call-stream.js";
import { nodeHeaders, sendTrailers, webHeaders } from "./h2-headers.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_STREAM_CLOSED, NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } =
  http2.constants;

/** Why a client's RST_STREAM ended a call, read as connect-node reads it. */
function resetReason(rstCode: number): ConnectError | undefined {
  const message = `http/2 stream closed with error code 0x${rstCode.toString(16)}`;
  switch (rstCode) {
    case NGHTTP2_NO_ERROR:
    case NGHTTP2_STREAM_CLOSED:
      return undefined;
    case NGHTTP2_REFUSED_STREAM:
      return new ConnectError(message, Code.Unavailable);
    case NGHTTP2_CANCEL:
      return new ConnectError(message, Code.Canceled);
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(message, Code.ResourceExhausted);
    default:
      return new ConnectError(message, Code.Internal);
  }
}

/** What was read already, then the rest of the stream, one DATA chunk at a time. */
async function* requestBody(stream: CallStream, read: Buffer[]): AsyncGenerator<Uint8Array> {
  const chunks = [...read];
  let ended = stream.readableEnded;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  if (!ended) {
    stream.on("data", (chunk: Buffer) => (chunks.push(chunk), notify()));
    stream.once("end", () => ((ended = true), notify()));
    stream.once("close", () => ((ended = true), notify()));
    stream.once("error", (error) => ((failure = error), notify()));
    stream.resume();
  }
  for (;;) {
    if (chunks.length > 0) {
      yield chunks.shift()!;
      continue;
    }
    if (failure) throw failure;
    if (ended || stream.destroyed) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

/** The answer's head at once, then each message as it is made (streaming calls), then the trailers. */
async function respond(stream: CallStream, response: UniversalServerResponse): Promise<void> {
  if (stream.destroyed || stream.closed) return;
  const { trailer } = response;
  stream.respond(nodeHeaders(response.header, { ":status": response.status }), { waitForTrailers: trailer !== undefined });
  // The trailers are complete once the body is.
  if (trailer !== undefined) stream.once("wantTrailers", () => sendTrailers(stream, nodeHeaders(trailer)));
  if (response.body !== undefined && Symbol.asyncIterator in response.body) {
    for await (const chunk of response.body) {
      if (stream.destroyed || stream.closed) return;
      stream.write(chunk);
    }
  }
  stream.end();
}

/**
 * Serves a call's HTTP/2 stream with connect's own handler for the method,
 * as connect-node's adapter would; `read` is what was taken from the stream
 * before (the stream is paused).
 */
export function serveThroughConnect(
  handler: UniversalHandler,
  stream: CallStream,
  headers: http2.IncomingHttpHeaders,
  read: Buffer[],
): void {
  const abort = new AbortController();
  let finished = false;
  stream.once("close", () => {
    if (!finished) abort.abort(resetReason(stream.rstCode ?? NGHTTP2_NO_ERROR));
  });
  handler({
    httpVersion: "2.0",
    method: headers[":method"] ?? "POST",
    url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
    header: webHeaders(headers),
    body: requestBody(stream, read),
    signal: abort.signal,
  })
    .then((response) => respond(stream, response))
    .catch(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR))
    .finally(() => (finished = true));
}
