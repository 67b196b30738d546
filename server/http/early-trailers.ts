import http2 from "node:http2";

/**
 * Ends a stream answered with `waitForTrailers`: writes `chunks`, then sends
 * `trailers`, so that the answer's headers, data and trailers leave in one
 * write where possible. Returns whether they do.
 *
 * Node's own way costs every gRPC answer an extra write, and the client an
 * extra wake-up, for two reasons (docs/node-http2-trailers.md):
 * - a stream with trailers pending is not ended right after its last write,
 *   as other streams are (the check in Http2Stream's write path), so its
 *   data leaves before nghttp2 learns that it is complete and asks for the
 *   trailers;
 * - sendTrailers() validates the trailers and then defers their submission
 *   with setImmediate.
 * nghttp2 accepts trailers from inside the data source callback in which Node
 * emits 'wantTrailers' (see nghttp2_submit_trailer). So here the stream's
 * pending-trailers flag is cleared before the data is written, which lets
 * Node end the stream after the last chunk, and the trailers are submitted
 * through the stream's internal handle as soon as they are wanted: what
 * Node's deferred step does, at once. This is done only on the Node major
 * whose internals it was checked against, and only for trailers it can pass
 * on exactly as sendTrailers would (at least one, plain lowercase names,
 * single string values). Otherwise the trailers go through sendTrailers.
 */
export function endWithTrailers(
  stream: http2.ServerHttp2Stream,
  chunks: readonly Uint8Array[],
  trailers: http2.OutgoingHttpHeaders,
): boolean {
  const list = plainTrailerList(trailers);
  const inner = list === null ? null : internalsOf(stream);
  if (inner !== null && list !== null) {
    inner.state.flags &= ~STREAM_FLAGS_HAS_TRAILERS;
    stream.once("wantTrailers", () => {
      if (inner.handle.trailers(list) < 0) stream.destroy(new Error("nghttp2 refused the trailers"));
    });
  } else {
    stream.once("wantTrailers", () => sendThroughNode(stream, trailers));
  }
  // Corked, the chunks go to Node as one write, which Node ends the stream after.
  stream.cork();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return inner !== null;
}

/** Whether endWithTrailers can send trailers at once on this stream: on the checked Node, with the expected internals. */
export function canSendTrailersNow(stream: http2.ServerHttp2Stream): boolean {
  return internalsOf(stream) !== null;
}

/** Node's sendTrailers(); a stream gone meanwhile is reset, not a crash. */
function sendThroughNode(stream: http2.ServerHttp2Stream, trailers: http2.OutgoingHttpHeaders): void {
  try {
    stream.sendTrailers(trailers);
  } catch {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

// What lib/internal/http2/core.js and util.js of Node 20 use: the handle's
// trailers() takes [`name\0value\0flags` repeated, count], and the stream's
// state flags mark trailers as pending until they are submitted.
const CHECKED_NODE_MAJOR = 20;
const STREAM_FLAGS_HAS_TRAILERS = 0x20;
const NO_HEADER_FLAGS = "\0";

const PLAIN_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]);
const UNSENDABLE = /[\0\r\n]/;

type TrailerList = [string, number];

/** The trailers in the handle's format, or null when sendTrailers would have to check or change them. */
function plainTrailerList(trailers: http2.OutgoingHttpHeaders): TrailerList | null {
  let list = "";
  let count = 0;
  for (const name in trailers) {
    const value = trailers[name];
    if (typeof value !== "string" || !PLAIN_NAME.test(name) || CONNECTION_SPECIFIC.has(name) || UNSENDABLE.test(value)) {
      return null;
    }
    list += `${name}\0${value}\0${NO_HEADER_FLAGS}`;
    count++;
  }
  // No trailers means an empty DATA frame to end the stream, which nghttp2
  // refuses while the stream's data is still being sent (NGHTTP2_ERR_DATA_EXIST).
  return count === 0 ? null : [list, count];
}

interface Internals {
  handle: { trailers(headers: TrailerList): number };
  state: { flags: number };
}

type Keys = { handle: symbol; state: symbol };

// undefined until the first stream shows whether its internals are as expected.
let keys: Keys | null | undefined = Number(process.versions.node.split(".")[0]) === CHECKED_NODE_MAJOR ? undefined : null;

function internalsOf(stream: http2.ServerHttp2Stream): Internals | null {
  if (keys === undefined) {
    const symbols = Object.getOwnPropertySymbols(stream);
    const handle = symbols.find((s) => s.description === "kHandle");
    const state = symbols.find((s) => s.description === "state");
    keys = handle !== undefined && state !== undefined ? { handle, state } : null;
  }
  if (keys === null) return null;
  const own = stream as unknown as Record<symbol, unknown>;
  const handle = own[keys.handle] as Internals["handle"] | undefined;
  const state = own[keys.state] as Internals["state"] | undefined;
  if (typeof handle?.trailers !== "function" || typeof state?.flags !== "number") return null;
  return { handle, state };
}
