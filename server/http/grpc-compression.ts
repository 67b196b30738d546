import type { IncomingHttpHeaders } from "node:http";

/**
 * gRPC and gRPC-Web responses are compressed only for clients that compress
 * their requests, as grpc-go does. Left alone, connect gzips every response
 * over 1 KiB for any client that merely accepts gzip, and gRPC's C core
 * always says it does: on a local socket that costs far more CPU than it
 * saves (a List of 10,000 images is 2.6 MB). Connect's own HTTP compression
 * (Accept-Encoding, browsers) is not touched.
 */
export function compressGrpcOnlyWhenAsked(headers: IncomingHttpHeaders): void {
  if (!headers["content-type"]?.startsWith("application/grpc")) return;
  const encoding = headers["grpc-encoding"];
  if (encoding === undefined || encoding === "identity") delete headers["grpc-accept-encoding"];
}
