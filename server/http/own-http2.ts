import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { FastifyInstance } from "fastify";
import type http from "node:http";
import type http2 from "node:http2";
import { H2Connection } from "../h2/connection.js";
import { ErrorCode } from "../h2/frames.js";
import { CONNECTION_SPECIFIC_HEADERS } from "../h2/request-headers.js";
import type { H2Stream } from "../h2/stream.js";
import { compressGrpcOnlyWhenAsked } from "./grpc-compression.js";
import { serveThroughConnect } from "./grpc-stream-adapter.js";
import { webHeaders } from "./h2-headers.js";
import { MAX_SESSION_MEMORY_MB, type OwnHttp2, type StreamHandler } from "./one-port-server.js";

export interface OwnHttp2Routes {
  /** Unary gRPC calls it takes (the lane). */
  lane: StreamHandler;
  /** connect's handler for each RPC path, for every other call to an RPC. */
  rpc: ReadonlyMap<string, UniversalHandler>;
  /** Anything else (health checks, unknown paths) goes through Fastify's routes, request bodies up to this size. */
  app: FastifyInstance;
  maxBodyBytes: number;
}

function collectBody(stream: H2Stream, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else resolve(null);
    });
    stream.once("end", () => resolve(size <= maxBytes ? Buffer.concat(chunks) : null));
    stream.once("close", () => resolve(null));
  });
}

/** A request for no RPC, answered by Fastify's routes as over HTTP/1.1. */
async function serveThroughFastify(routes: OwnHttp2Routes, stream: H2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
  const body = await collectBody(stream, routes.maxBodyBytes);
  if (stream.closed) return;
  if (body === null) return stream.respond({ ":status": 413 }, { waitForTrailers: false, endStream: true });
  const response = await routes.app.inject({
    method: (headers[":method"] ?? "GET") as "GET",
    url: headers[":path"] ?? "/",
    headers: Object.fromEntries(webHeaders(headers)),
    payload: body,
  });
  const answer: http2.OutgoingHttpHeaders = { ":status": response.statusCode };
  for (const [name, value] of Object.entries(response.headers as http.OutgoingHttpHeaders)) {
    if (!CONNECTION_SPECIFIC_HEADERS.has(name) && value !== undefined) answer[name] = value;
  }
  const payload = response.rawPayload;
  stream.respond(answer, { waitForTrailers: false, endStream: payload.length === 0 });
  if (payload.length > 0) stream.end(payload);
}

/**
 * The unix socket's HTTP/2, served by server/h2 rather than Node's: the lane
 * takes the unary gRPC calls it can, connect the other RPCs (streaming, gRPC
 * with compression, gRPC-Web, Connect), and Fastify whatever is left.
 */
export function ownHttp2(routes: OwnHttp2Routes): OwnHttp2 {
  const onStream = (stream: H2Stream, headers: http2.IncomingHttpHeaders) => {
    if (routes.lane(stream, headers)) return;
    const rpc = routes.rpc.get(headers[":path"] ?? "");
    if (rpc !== undefined && headers[":method"] === "POST") {
      compressGrpcOnlyWhenAsked(headers);
      return serveThroughConnect(rpc, stream.pause(), headers, []);
    }
    serveThroughFastify(routes, stream, headers).catch(() => stream.close(ErrorCode.InternalError));
  };
  return {
    serve: (socket, resumed) => new H2Connection(socket, { onStream, maxSessionMemoryBytes: MAX_SESSION_MEMORY_MB * 1024 * 1024 }, resumed),
  };
}
