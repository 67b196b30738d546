// Tells a session that failed from a statement that failed: only the
// first is the database being away. Each layer reports it its own way:
// Postgres with SQLSTATE class 08 or 57P01-57P03, node with a socket
// errno, and pg with an error of its own that has no code.

/** "lost": a session that was open ended; "unreachable": none could be opened. */
export type ConnectionFailure = "lost" | "unreachable";

const UNREACHABLE_ERRNO = new Set(["ECONNREFUSED", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND"]);
const LOST_ERRNO = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
// Raised by pg itself when a session ends under a query, or a query meets a session that did.
const LOST_MESSAGES = [
  "Connection terminated unexpectedly",
  "Client has encountered a connection error and is not queryable",
];

export function connectionFailure(error: unknown): ConnectionFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    // the database system is starting up, or shutting down: not taking sessions now
    if (code === "57P03") return "unreachable";
    // administrator command or crash ended the session; class 08: connection exception
    if (code === "57P01" || code === "57P02" || code.startsWith("08")) return "lost";
    if (LOST_ERRNO.has(code)) return "lost";
    if (UNREACHABLE_ERRNO.has(code)) return "unreachable";
  }
  if (LOST_MESSAGES.includes(error.message)) return "lost";
  return undefined;
}
