import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { H2Connection, H2ConnectionState } from "../h2/connection.js";
import type { CallStream } from "./call-stream.js";

/**
 * Node refuses new streams (ENHANCE_YOUR_CALM, which gRPC clients report as
 * ResourceExhausted) while a session holds more than this in data waiting
 * for the client to read it. Its default, 10 MB, is less than three answers
 * to a List of 10,000 images; this allows eight messages of the largest
 * size gRPC clients accept (16 MiB).
 */
export const MAX_SESSION_MEMORY_MB = 128;

/** A connection that sends no byte within this time is dropped. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

// RFC 9113 section 3.4: a client speaking HTTP/2 with prior knowledge starts with this.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface OnePortServer extends net.Server {
  /** Ends HTTP/1.1 keep-alive connections that have no request in flight. */
  closeIdleConnections(): void;
  /** Sends GOAWAY to every HTTP/2 session; streams in flight still finish. */
  closeHttp2Sessions(): void;
  /** The connections served by ownHttp2, whether accepted here or adopted. */
  ownHttp2Connections: ReadonlySet<H2Connection>;
  /** Goes on serving a connection another process handed over, from its state. */
  adoptHttp2(socket: net.Socket, state: H2ConnectionState): void;
  /** Stops listening; resolves once every connection, adopted ones too, has closed. */
  drain(): Promise<void>;
}

/** Serves an HTTP/2 stream itself (true), or leaves it to the RequestHandler (false). */
export type StreamHandler = (stream: CallStream, headers: http2.IncomingHttpHeaders) => boolean;

/**
 * Node turns each HTTP/2 stream into a request/response pair in a "stream"
 * listener that it adds with the "request" one; streamHandler is asked first.
 */
function askFirst(h2: http2.Http2Server, streamHandler: StreamHandler): void {
  const compat = h2.listeners("stream") as ((...args: unknown[]) => void)[];
  if (compat.length !== 1) throw new Error(`expected Node's one HTTP/2 compatibility listener, found ${compat.length}`);
  h2.removeAllListeners("stream");
  h2.on("stream", function (this: http2.Http2Server, stream, headers, ...rest: unknown[]) {
    if (!streamHandler(stream, headers)) compat[0]!.call(this, stream, headers, ...rest);
  });
}

/** An HTTP/2 connection served by the project's own HTTP/2 (server/h2) instead of Node's. */
export interface OwnHttp2 {
  serve(socket: net.Socket, resumed?: H2ConnectionState): H2Connection;
}

/**
 * One listening socket for HTTP/1.1 (browsers, curl) and cleartext HTTP/2
 * with prior knowledge (gRPC): each connection's first bytes say which.
 * Node has no plaintext allowHTTP1, so the choice is made here. With
 * ownHttp2, HTTP/2 connections are served by it rather than by Node.
 */
export function createOnePortServer(handler: RequestHandler, streamHandler?: StreamHandler, ownHttp2?: OwnHttp2): OnePortServer {
  const h1 = http.createServer(handler as http.RequestListener);
  const h2 = http2.createServer({ maxSessionMemory: MAX_SESSION_MEMORY_MB }, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  if (streamHandler !== undefined) askFirst(h2, streamHandler);
  const sessions = new Set<{ close(): void }>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const ownConnections = new Set<H2Connection>();
  const adopted = new Set<net.Socket>();
  const serveOwn = (socket: net.Socket, resumed?: H2ConnectionState) => {
    const connection = ownHttp2!.serve(socket, resumed);
    sessions.add(connection);
    ownConnections.add(connection);
    socket.once("close", () => {
      sessions.delete(connection);
      ownConnections.delete(connection);
    });
    server.emit("ownHttp2Connection", connection);
    return connection;
  };

  const server = net.createServer((socket) => {
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    // Until the protocol is known, an error (a client's reset) ends the connection here; each protocol's server then listens for its own.
    const onError = () => socket.destroy();
    socket.on("error", onError);
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const compared = Math.min(received.length, HTTP2_PREFACE.length);
      const isHttp2 = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (isHttp2 && received.length < HTTP2_PREFACE.length) return;
      socket.off("data", onData).off("error", onError);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(received);
      if (isHttp2 && ownHttp2 !== undefined) {
        serveOwn(socket);
        socket.resume();
      } else if (isHttp2) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }) as OnePortServer;

  server.closeIdleConnections = () => h1.closeIdleConnections();
  server.closeHttp2Sessions = () => {
    for (const session of sessions) session.close();
  };
  server.ownHttp2Connections = ownConnections;
  server.adoptHttp2 = (socket, state) => {
    if (ownHttp2 === undefined) throw new Error("no HTTP/2 of our own to adopt a connection with");
    adopted.add(socket);
    socket.once("close", () => {
      adopted.delete(socket);
      if (adopted.size === 0) server.emit("adoptedDrained");
    });
    const connection = serveOwn(socket, state);
    if (!server.listening) connection.close();
  };
  server.drain = async () => {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
    if (adopted.size > 0) await new Promise((resolve) => server.once("adoptedDrained", resolve));
  };
  return server;
}
