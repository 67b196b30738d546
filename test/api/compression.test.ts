import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { startServerWithImages, type RunningServer, type ServerWithImages } from "../support/server.js";

const LIST = "/containerd.services.images.v1.Images/List";
const EMPTY_LIST_REQUEST = new Uint8Array(0);

/** One gRPC call over raw HTTP/2: the response headers and the first message's compressed flag. */
function grpcCall(baseUrl: string, headers: Record<string, string>, message: Uint8Array, compressed: boolean) {
  return new Promise<{ encoding?: string; compressedFlag: number }>((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const frame = Buffer.alloc(5 + message.length);
    frame[0] = compressed ? 1 : 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const stream = session.request({
      ":method": "POST", ":path": LIST, "content-type": "application/grpc", te: "trailers",
      "containerd-namespace": "gz", ...headers,
    });
    let encoding: string | undefined;
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (encoding = h["grpc-encoding"] as string | undefined));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ encoding, compressedFlag: Buffer.concat(chunks)[0]! });
    });
    stream.end(frame);
  });
}

describe("response compression", () => {
  let running: ServerWithImages;
  let server: RunningServer;
  before(async () => {
    running = await startServerWithImages("gz", 40, (i) => `registry.example.com/app-${i}:v1`);
    server = running.server;
  });
  after(() => running.close());

  it("does not compress a gRPC response for a client that only accepts gzip", async () => {
    const result = await grpcCall(server.baseUrl, { "grpc-accept-encoding": "identity,deflate,gzip" }, EMPTY_LIST_REQUEST, false);
    assert.equal(result.encoding, undefined);
    assert.equal(result.compressedFlag, 0);
  });

  it("compresses a gRPC response for a client that compresses its request", async () => {
    const headers = { "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip" };
    const result = await grpcCall(server.baseUrl, headers, gzipSync(EMPTY_LIST_REQUEST), true);
    assert.equal(result.encoding, "gzip");
    assert.equal(result.compressedFlag, 1);
  });

  it("still compresses Connect JSON responses for HTTP clients that accept gzip", async () => {
    const response = await fetch(`${server.baseUrl}${LIST}`, {
      method: "POST",
      headers: { "content-type": "application/json", "accept-encoding": "gzip", "containerd-namespace": "gz" },
      body: "{}",
    });
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(((await response.json()) as { images: unknown[] }).images.length, 40);
  });
});
