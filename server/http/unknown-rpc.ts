import type { FastifyReply, FastifyRequest } from "fastify";

const GRPC_UNIMPLEMENTED = "12";

/**
 * gRPC clients expect status 12 in a trailers-only response for a method
 * nobody serves, not an HTTP 404 page; Connect clients expect 404 with a
 * Connect error body. Anything else gets Fastify's usual 404.
 */
export function answerUnknownRoute(request: FastifyRequest, reply: FastifyReply) {
  const contentType = request.headers["content-type"] ?? "";
  const message = `unknown method ${request.url}`;
  if (contentType.startsWith("application/grpc")) {
    return reply
      .code(200)
      .header("content-type", contentType.split(";")[0])
      .header("grpc-status", GRPC_UNIMPLEMENTED)
      .header("grpc-message", encodeURIComponent(message))
      .send();
  }
  if (request.method === "POST" && /^application\/(json|proto|connect\+)/.test(contentType)) {
    return reply.code(404).send({ code: "unimplemented", message });
  }
  return reply.code(404).send({ error: "Not Found", message: `Route ${request.method}:${request.url} not found` });
}
