import http2 from "node:http2";
import { H2Stream } from "../h2/stream.js";
import type { CallStream } from "./call-stream.js";
import { sendTrailersNow } from "./early-trailers.js";

/** An HTTP/2 request's headers without the pseudo-headers, as a Fetch API Headers. */
export function webHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const name in headers) {
    if (name.startsWith(":")) continue;
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) header.append(name, v);
    else if (value !== undefined) header.append(name, value);
  }
  return header;
}

/** Adds a Headers' entries to Node's outgoing header object. */
export function nodeHeaders(header: Headers | undefined, into: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
  header?.forEach((value, name) => (into[name] = value));
  return into;
}

/**
 * Trailers for a stream that asked for them ('wantTrailers'), at once where
 * possible (server/h2's streams always send them at once); a stream gone
 * meanwhile is reset, not a crash.
 */
export function sendTrailers(stream: CallStream, trailers: http2.OutgoingHttpHeaders): void {
  if (!(stream instanceof H2Stream) && sendTrailersNow(stream, trailers)) return;
  try {
    stream.sendTrailers(trailers);
  } catch {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

/**
 * An HTTP/2 request's headers as a Fetch API Headers, read straight from
 * Node's header object: get() and has() are what handlers use, and making a
 * real Headers (which validates every name and value) costs more than a
 * small call. Anything else makes one first.
 */
export class IncomingHeaders implements Headers {
  private full?: Headers;

  constructor(private readonly raw: http2.IncomingHttpHeaders) {}

  private headers(): Headers {
    return (this.full ??= webHeaders(this.raw));
  }

  get(name: string): string | null {
    if (this.full !== undefined || name.startsWith(":")) return this.headers().get(name);
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : value;
  }
  has(name: string): boolean {
    return this.get(name) !== null;
  }
  append(name: string, value: string): void {
    this.headers().append(name, value);
  }
  set(name: string, value: string): void {
    this.headers().set(name, value);
  }
  delete(name: string): void {
    this.headers().delete(name);
  }
  getSetCookie(): string[] {
    return this.headers().getSetCookie();
  }
  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.headers().forEach((value, key) => callback.call(thisArg, value, key, this));
  }
  keys() {
    return this.headers().keys();
  }
  values() {
    return this.headers().values();
  }
  entries() {
    return this.headers().entries();
  }
  [Symbol.iterator]() {
    return this.headers()[Symbol.iterator]();
  }
}
