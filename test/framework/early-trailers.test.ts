import assert from "node:assert/strict";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { canSendTrailersNow, endWithTrailers } from "../../server/http/early-trailers.js";

interface Answer {
  /** The HTTP/2 code the stream was reset with, 0 if it was not. */
  reset: number;
  body: string;
  trailers: Record<string, unknown>;
  /** How the server's stream ended: "closed" once Node has closed and destroyed it. */
  serverStream: Promise<string>;
}

interface Reply {
  chunks: string[];
  trailers: http2.OutgoingHttpHeaders;
}

/**
 * The HTTP/2 frames a server sent, each with the number of the write that
 * carried its first and its last byte.
 */
class FrameLog {
  readonly frames: Array<{ type: number; flags: number; streamId: number; firstWrite: number; lastWrite: number }> = [];
  private pending = Buffer.alloc(0);
  private pendingSince = 0;
  private writes = 0;

  add(chunk: Buffer): void {
    const write = this.writes++;
    if (this.pending.length === 0) this.pendingSince = write;
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 9) return;
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) return;
      this.frames.push({
        type: this.pending[3]!,
        flags: this.pending[4]!,
        streamId: this.pending.readUInt32BE(5) & 0x7fffffff,
        firstWrite: this.pendingSince,
        lastWrite: write,
      });
      this.pending = this.pending.subarray(9 + length);
      this.pendingSince = write;
    }
  }

  /** The writes that carried stream `streamId`'s HEADERS and DATA frames. */
  writesOf(streamId: number): number[] {
    const HEADERS = 1;
    const DATA = 0;
    return this.frames
      .filter((f) => f.streamId === streamId && (f.type === HEADERS || f.type === DATA))
      .flatMap((f) => [f.firstWrite, f.lastWrite]);
  }
}

/**
 * A server answering every request with the reply `next` gives, through
 * endWithTrailers. Its connections are handed to it wrapped in a stream that
 * logs each write Node's HTTP/2 session makes (one per batch of frames it
 * sends), as a socket would receive them.
 */
async function trailerServer(next: () => Reply) {
  const server = http2.createServer();
  const ended: Array<Promise<string>> = [];
  const usable: boolean[] = [];
  const atOnce: boolean[] = [];
  server.on("stream", (stream) => {
    usable.push(canSendTrailersNow(stream));
    stream.on("error", () => {});
    ended.push(new Promise((resolve) => stream.on("close", () => resolve(stream.destroyed ? "closed" : "open"))));
    const { chunks, trailers } = next();
    stream.respond({ ":status": 200 }, { waitForTrailers: true });
    atOnce.push(endWithTrailers(stream, chunks.map((c) => Buffer.from(c)), trailers));
  });

  const log = new FrameLog();
  const listener = net.createServer((socket) => {
    const logged = new Duplex({
      read() {},
      writev(chunks, done) {
        const bytes = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
        log.add(bytes);
        socket.write(bytes, done);
      },
      final(done) {
        socket.end(done);
      },
    });
    socket.on("data", (chunk) => logged.push(chunk));
    socket.on("end", () => logged.push(null));
    socket.on("error", () => logged.destroy());
    server.emit("connection", logged);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));

  const session = http2.connect(`http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
  const call = () =>
    new Promise<Answer & { streamId: number }>((resolve) => {
      const index = ended.length;
      const request = session.request({ ":path": "/", ":method": "POST" });
      const chunks: Buffer[] = [];
      let trailers: Record<string, unknown> = {};
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("trailers", (received) => (trailers = Object.fromEntries(Object.entries(received))));
      request.on("error", () => {});
      request.on("close", () =>
        resolve({
          reset: request.rstCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          trailers,
          serverStream: ended[index]!,
          streamId: request.id!,
        }),
      );
      request.end();
    });
  return {
    call,
    usable,
    atOnce,
    log,
    async close() {
      session.close();
      await new Promise((resolve) => listener.close(resolve));
      server.close();
    },
  };
}

describe("trailers sent at once by endWithTrailers", () => {
  let server: Awaited<ReturnType<typeof trailerServer>>;
  let reply: Reply;
  before(async () => {
    server = await trailerServer(() => reply);
  });
  after(() => server.close());

  const onCheckedNode = process.versions.node.startsWith("20.");
  const lastAtOnce = () => server.atOnce[server.atOnce.length - 1];

  it("are in use on the Node major they were checked against, and only there", async () => {
    reply = { chunks: ["hello"], trailers: { "grpc-status": "0" } };
    await server.call();
    assert.deepEqual(server.usable, [onCheckedNode]);
    assert.deepEqual(server.atOnce, [onCheckedNode]);
  });

  it("reach the client exactly, after the data, and the server's stream is closed and destroyed", async () => {
    const trailers = { "grpc-status": "3", "grpc-message": "bad%20name", "x-one": "1", "x-two-bin": "AAEC" };
    for (const chunks of [["hello"], ["hel", "lo"], []]) {
      for (let i = 0; i < 20; i++) {
        reply = { chunks, trailers };
        const answer = await server.call();
        assert.equal(lastAtOnce(), onCheckedNode);
        assert.equal(answer.reset, 0);
        assert.equal(answer.body, chunks.join(""));
        assert.deepEqual(answer.trailers, trailers);
        assert.equal(await answer.serverStream, "closed");
      }
    }
  });

  it("leave in the same write as the answer's headers and data", { skip: !onCheckedNode && "Node internals checked on Node 20 only" }, async () => {
    for (const chunks of [["hello"], ["a", "b", "c"]]) {
      for (let i = 0; i < 20; i++) {
        reply = { chunks, trailers: { "grpc-status": "0" } };
        const answer = await server.call();
        const writes = server.log.writesOf(answer.streamId);
        assert.ok(writes.length >= 6, `headers, data and trailers of stream ${answer.streamId}`);
        assert.equal(new Set(writes).size, 1, `stream ${answer.streamId} left in writes ${writes.join(", ")}`);
      }
    }
  });

  it("follow an answer larger than the client's flow-control window", async () => {
    const big = "x".repeat(300_000);
    reply = { chunks: [big.slice(0, 100_000), big.slice(100_000)], trailers: { "grpc-status": "0" } };
    const answer = await server.call();
    assert.equal(lastAtOnce(), onCheckedNode);
    assert.equal(answer.body.length, big.length);
    assert.deepEqual(answer.trailers, { "grpc-status": "0" });
    assert.equal(await answer.serverStream, "closed");
  });

  it("are left to sendTrailers when they are not plain, which sends or refuses them as Node does", async () => {
    const cases: Array<[http2.OutgoingHttpHeaders, Record<string, unknown> | "reset"]> = [
      [{}, {}],
      [{ "X-Upper": "v" }, { "x-upper": "v" }],
      [{ "x-list": ["1", "2"] }, { "x-list": "1, 2" }],
      [{ "x-number": 7 }, { "x-number": "7" }],
      [{ connection: "close" }, "reset"],
      // Node passes this one on, and the client's nghttp2 drops the invalid field.
      [{ "x-newline": "a\nb" }, {}],
    ];
    for (const [trailers, expected] of cases) {
      reply = { chunks: ["hello"], trailers };
      const answer = await server.call();
      assert.equal(lastAtOnce(), false, JSON.stringify(trailers));
      if (expected === "reset") assert.equal(answer.reset, http2.constants.NGHTTP2_INTERNAL_ERROR, JSON.stringify(trailers));
      else assert.deepEqual([answer.reset, answer.body, answer.trailers], [0, "hello", expected]);
      assert.equal(await answer.serverStream, "closed");
    }
  });
});
