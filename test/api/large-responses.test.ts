import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { startServerWithImages, type RunningServer, type ServerWithImages } from "../support/server.js";

const IMAGES = 100;
// Nine labels near containerd's 4 KiB limit: about 36 KB per image, 3.6 MB per List.
const LABELS = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`label-${i}`, "x".repeat(4_000)]));

describe("large responses on one HTTP/2 connection", () => {
  let running: ServerWithImages;
  let server: RunningServer;
  before(async () => {
    running = await startServerWithImages("large", IMAGES, (i) => `registry.example.com/large-${i}:v1`, LABELS);
    server = running.server;
  });
  after(() => running.close());

  it("keeps accepting calls while answers wait for a client that reads slowly", async () => {
    // The client reads nothing until all 16 calls are made: the answers wait in
    // the server's session (HTTP/2 flow control), and no call may be refused for that.
    const session = http2.connect(server.baseUrl);
    const streams: http2.ClientHttp2Stream[] = [];
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 16; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": "/containerd.services.images.v1.Images/List",
        "content-type": "application/grpc",
        te: "trailers",
        "containerd-namespace": "large",
      });
      stream.pause();
      streams.push(stream);
      outcomes.push(
        new Promise((resolve) => {
          let status = "no status";
          stream.on("trailers", (t) => (status = `grpc-status ${t["grpc-status"]}`));
          stream.on("error", () => {});
          stream.on("close", () => resolve(stream.rstCode ? `reset with code ${stream.rstCode}` : status));
        }),
      );
      stream.end(Buffer.alloc(5)); // one empty ListImagesRequest
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const stream of streams) stream.resume();
    const results = await Promise.all(outcomes);
    session.close();
    assert.deepEqual(results, Array(16).fill("grpc-status 0"));
  });
});
