import type http2 from "node:http2";
import { CONNECTION_SPECIFIC_HEADERS } from "../h2/request-headers.js";
import type { CallStream } from "./call-stream.js";

/**
 * Trailers submitted from inside the 'wantTrailers' event, so that they leave
 * in the same turn of the event loop as the answer's data.
 *
 * Node's sendTrailers() validates the trailers and then defers the actual
 * submission with setImmediate, so every gRPC answer needs one more turn of
 * the event loop to complete, and reaches the client in two parts that
 * arrive a turn apart. nghttp2 allows trailers to be submitted from the data
 * source callback in which Node emits 'wantTrailers' (see
 * nghttp2_submit_trailer), so this does what that deferred step does, at
 * once, through the stream's internal handle. It does so only on the Node
 * major whose internals it was checked against, only for trailers it can pass
 * on exactly as sendTrailers would (at least one, plain lowercase names,
 * single string values), and otherwise says no, so that the caller uses
 * sendTrailers. docs/node-http2-trailers.md has the measurements.
 */
export function sendTrailersNow(stream: CallStream, trailers: http2.OutgoingHttpHeaders): boolean {
  const inner = internalsOf(stream);
  if (inner === null) return false;
  let list = "";
  let count = 0;
  for (const name in trailers) {
    const value = trailers[name];
    const forbidden = CONNECTION_SPECIFIC_HEADERS.has(name) || name === "te";
    if (typeof value !== "string" || !PLAIN_NAME.test(name) || forbidden || UNSENDABLE.test(value)) {
      return false;
    }
    list += `${name}\0${value}\0${NO_HEADER_FLAGS}`;
    count++;
  }
  // No trailers means an empty DATA frame to end the stream, which nghttp2
  // refuses while the stream's data is still being sent (NGHTTP2_ERR_DATA_EXIST).
  if (count === 0) return false;
  inner.state.flags &= ~STREAM_FLAGS_HAS_TRAILERS;
  if (inner.handle.trailers([list, count]) < 0) (stream as http2.ServerHttp2Stream).destroy(new Error("nghttp2 refused the trailers"));
  return true;
}

/** Whether sendTrailersNow can work on this stream: on the checked Node, with the expected internals. */
export function canSendTrailersNow(stream: CallStream): boolean {
  return internalsOf(stream) !== null;
}

// What lib/internal/http2/core.js and util.js of Node 20 use: the handle's
// trailers() takes [`name\0value\0flags` repeated, count], and the stream's
// state flags mark trailers as pending until they are submitted.
const CHECKED_NODE_MAJOR = 20;
const STREAM_FLAGS_HAS_TRAILERS = 0x20;
const NO_HEADER_FLAGS = "\0";

const PLAIN_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const UNSENDABLE = /[\0\r\n]/;

interface Internals {
  handle: { trailers(headers: [string, number]): number };
  state: { flags: number };
}

type Keys = { handle: symbol; state: symbol };

// undefined until a stream shows its internals; null on other Node majors.
let keys: Keys | null | undefined = Number(process.versions.node.split(".")[0]) === CHECKED_NODE_MAJOR ? undefined : null;

function internalsOf(stream: CallStream): Internals | null {
  if (keys === undefined) {
    const symbols = Object.getOwnPropertySymbols(stream);
    const handle = symbols.find((s) => s.description === "kHandle");
    const state = symbols.find((s) => s.description === "state");
    if (handle === undefined || state === undefined) return null; // not one of Node's streams
    keys = { handle, state };
  }
  if (keys === null) return null;
  const own = stream as unknown as Record<symbol, unknown>;
  const handle = own[keys.handle] as Internals["handle"] | undefined;
  const state = own[keys.state] as Internals["state"] | undefined;
  if (typeof handle?.trailers !== "function" || typeof state?.flags !== "number") return null;
  return { handle, state };
}
