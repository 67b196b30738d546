import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { canSendTrailersNow, sendTrailersNow } from "../../server/http/early-trailers.js";
import { sendTrailers } from "../../server/http/h2-headers.js";

type Send = (stream: http2.ServerHttp2Stream, trailers: http2.OutgoingHttpHeaders) => void;

interface Answer {
  /** The HTTP/2 code the stream was reset with, 0 if it was not. */
  reset: number;
  body: string;
  trailers: Record<string, unknown>;
  /** How the server's stream ended: "closed" once Node has closed and destroyed it. */
  serverStream: Promise<string>;
}

/** A server answering every request with "hello" and the trailers `send` is given, from 'wantTrailers'. */
async function trailerServer(send: () => { trailers: http2.OutgoingHttpHeaders; how: Send }) {
  const server = http2.createServer();
  const ended: Array<Promise<string>> = [];
  const usable: boolean[] = [];
  server.on("stream", (stream) => {
    usable.push(canSendTrailersNow(stream));
    stream.on("error", () => {});
    ended.push(new Promise((resolve) => stream.on("close", () => resolve(stream.destroyed ? "closed" : "open"))));
    const { trailers, how } = send();
    stream.respond({ ":status": 200 }, { waitForTrailers: true });
    stream.once("wantTrailers", () => how(stream, trailers));
    stream.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const call = () =>
    new Promise<Answer>((resolve) => {
      const index = ended.length;
      const request = session.request({ ":path": "/", ":method": "POST" });
      const chunks: Buffer[] = [];
      let trailers: Record<string, unknown> = {};
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("trailers", (received) => (trailers = Object.fromEntries(Object.entries(received))));
      request.on("error", () => {});
      request.on("close", () =>
        resolve({ reset: request.rstCode ?? 0, body: Buffer.concat(chunks).toString(), trailers, serverStream: ended[index]! }),
      );
      request.end();
    });
  return {
    call,
    usable,
    async close() {
      session.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("trailers sent from inside 'wantTrailers'", () => {
  let outcome: boolean | undefined;
  let server: Awaited<ReturnType<typeof trailerServer>>;
  let next: { trailers: http2.OutgoingHttpHeaders; how: Send };
  before(async () => {
    server = await trailerServer(() => next);
  });
  after(() => server.close());

  const onCheckedNode = process.versions.node.startsWith("20.");
  // What server/http/h2-headers.ts does: at once where possible, else through Node.
  const thenNode: Send = (stream, trailers) => {
    outcome = sendTrailersNow(stream, trailers);
    if (!outcome) sendTrailers(stream, trailers);
  };

  it("are in use on the Node major they were checked against, and only there", async () => {
    next = { trailers: { "grpc-status": "0" }, how: thenNode };
    await server.call();
    assert.deepEqual(server.usable, [onCheckedNode]);
  });

  it("reach the client exactly, after the data, and the server's stream is closed and destroyed", async () => {
    const trailers = { "grpc-status": "3", "grpc-message": "bad%20name", "x-one": "1", "x-two-bin": "AAEC" };
    for (let i = 0; i < 50; i++) {
      next = { trailers, how: thenNode };
      const answer = await server.call();
      assert.equal(outcome, onCheckedNode);
      assert.equal(answer.body, "hello");
      assert.deepEqual(answer.trailers, trailers);
      assert.equal(await answer.serverStream, "closed");
    }
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
      next = { trailers, how: thenNode };
      const answer = await server.call();
      assert.equal(outcome, false, JSON.stringify(trailers));
      if (expected === "reset") assert.equal(answer.reset, http2.constants.NGHTTP2_INTERNAL_ERROR, JSON.stringify(trailers));
      else assert.deepEqual([answer.reset, answer.body, answer.trailers], [0, "hello", expected]);
      assert.equal(await answer.serverStream, "closed");
    }
  });
});
