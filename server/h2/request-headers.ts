import type http2 from "node:http2";
import type { HeaderField } from "./hpack.js";

const REQUEST_PSEUDO_HEADERS = new Set([":method", ":scheme", ":path", ":authority"]);
/** HTTP/1.1 connection headers, which HTTP/2 forbids (RFC 9113 section 8.2.2; `te` is allowed as "trailers" only). */
export const CONNECTION_SPECIFIC_HEADERS: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
const UPPERCASE = /[A-Z]/;

/**
 * A request's header list as Node's HTTP/2 gives it (lowercase names, a
 * repeated field's values joined, cookies with "; "), or null where RFC 9113
 * section 8.2 calls the request malformed: uppercase names, unknown, repeated
 * or late pseudo-headers, connection-specific fields, a missing :method,
 * :scheme or :path.
 */
export function requestHeaders(fields: readonly HeaderField[]): http2.IncomingHttpHeaders | null {
  const headers: http2.IncomingHttpHeaders = Object.create(null);
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (UPPERCASE.test(name)) return null;
    if (name.startsWith(":")) {
      if (regularSeen || !REQUEST_PSEUDO_HEADERS.has(name) || name in headers) return null;
    } else {
      regularSeen = true;
      if (CONNECTION_SPECIFIC_HEADERS.has(name) || (name === "te" && value !== "trailers")) return null;
    }
    const previous = headers[name] as string | undefined;
    headers[name] = previous === undefined ? value : `${previous}${name === "cookie" ? "; " : ", "}${value}`;
  }
  if (headers[":method"] === undefined || headers[":scheme"] === undefined || headers[":path"] === undefined) return null;
  return headers;
}
