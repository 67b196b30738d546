import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { H2Connection } from "../../server/h2/connection.js";
import { ErrorCode, Flag, FrameType } from "../../server/h2/frames.js";
import type { H2Stream } from "../../server/h2/stream.js";
import { RawH2Client } from "../support/raw-h2.js";

const STREAM_WINDOW = 1024 * 1024;
const isHeaders = (f: { type: number }) => f.type === FrameType.Headers;

/**
 * A server on server/h2 whose streams echo: the request body comes back,
 * `x-size` bytes of it when asked, with trailers saying how much was read.
 * /paused never reads its body; /held answers only when told.
 */
async function echoServer() {
  const dir = mkdtempSync(join(tmpdir(), "own-h2-"));
  const path = join(dir, "s.sock");
  const connections: H2Connection[] = [];
  const streams: H2Stream[] = [];
  const held: (() => void)[] = [];
  const server = net.createServer((socket) => {
    const connection = new H2Connection(socket, {
      maxSessionMemoryBytes: 8 * 1024 * 1024,
      onStream(stream, headers) {
        streams.push(stream);
        if (headers[":path"] === "/paused") return void stream.pause();
        const chunks: Buffer[] = [];
        stream.on("data", (chunk) => chunks.push(chunk));
        stream.once("end", () => {
          const answer = () => {
            const body = Buffer.concat(chunks);
            const size = Number(headers["x-size"] ?? body.length);
            stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
            stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-received": String(body.length) }));
            stream.end(size === body.length ? body : Buffer.alloc(size, 7));
          };
          if (headers[":path"] === "/held") held.push(answer);
          else answer();
        });
      },
    });
    connections.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    connections,
    streams,
    held,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type EchoServer = Awaited<ReturnType<typeof echoServer>>;

function nodeRequest(session: http2.ClientHttp2Session, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ status: number; body: Buffer; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const request = session.request({ ":method": "POST", ":path": "/echo", ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let trailers: http2.IncomingHttpHeaders = {};
    request.on("response", (h) => (status = Number(h[":status"])));
    request.on("trailers", (t) => (trailers = t));
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve({ status, body: Buffer.concat(chunks), trailers }));
    request.on("error", reject);
    request.end(body);
  });
}

describe("server/h2: the unix socket's own HTTP/2", () => {
  let server: EchoServer;
  before(async () => (server = await echoServer()));
  after(() => server.close());

  it("serves Node's HTTP/2 client: 200 concurrent calls, and bodies past every window both ways", async () => {
    // Stream windows smaller than the connection's, so that each has to be kept.
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(server.path), settings: { initialWindowSize: 16_384 } });
    try {
      const small = await Promise.all(
        Array.from({ length: 200 }, (_, i) => nodeRequest(session, Buffer.from(`call ${i}`))),
      );
      small.forEach((answer, i) => {
        assert.equal(answer.status, 200);
        assert.equal(answer.body.toString(), `call ${i}`);
        assert.equal(answer.trailers["grpc-status"], "0");
      });
      // 3 MiB up is three times our stream window; 5 MiB down is far past the client's windows.
      const large = Buffer.alloc(3 * STREAM_WINDOW, 1);
      const echoed = await nodeRequest(session, large, { "x-size": String(5 * 1024 * 1024) });
      assert.equal(echoed.trailers["x-received"], String(large.length));
      assert.equal(echoed.body.length, 5 * 1024 * 1024);
      assert.ok(echoed.body.every((b) => b === 7));
    } finally {
      session.close();
    }
  });

  /** A hand-written client on the server for `test`, closed after it whatever happens. */
  async function withClient(test: (client: RawH2Client) => Promise<void>, preface?: Buffer): Promise<void> {
    const client = await RawH2Client.connect(server.path, preface);
    try {
      await test(client);
    } finally {
      client.close();
    }
  }

  it("answers PING and SETTINGS with acknowledgements", () =>
    withClient(async (client) => {
      client.send(FrameType.Ping, 0, 0, Buffer.from("12345678"));
      const pong = await client.waitFor((f) => f.type === FrameType.Ping);
      assert.equal(pong.flags, Flag.Ack);
      assert.equal(pong.payload.toString(), "12345678");
      await client.waitFor((f) => f.type === FrameType.Settings && f.flags === Flag.Ack);
    }));

  const connectionErrors: [string, ErrorCode, (client: RawH2Client) => void, Buffer?][] = [
    ["a connection that does not start with the preface", ErrorCode.ProtocolError, () => {}, Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")],
    ["a first frame other than SETTINGS", ErrorCode.ProtocolError, () => {}, Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from("000008060000000000", "hex"), Buffer.alloc(8)])],
    ["a frame larger than 16 KiB", ErrorCode.FrameSizeError, (c) => c.send(FrameType.Ping, 0, 0, Buffer.alloc(16_385))],
    ["a header block that cannot be decoded", ErrorCode.CompressionError, (c) => c.send(FrameType.Headers, Flag.EndHeaders, 1, Buffer.from([0x80]))],
    ["DATA on a stream never opened", ErrorCode.ProtocolError, (c) => c.send(FrameType.Data, 0, 9, Buffer.from("x"))],
    ["PUSH_PROMISE from a client", ErrorCode.ProtocolError, (c) => c.send(FrameType.PushPromise, Flag.EndHeaders, 1, Buffer.alloc(4))],
    [
      "a header block that never ends (CONTINUATION flood)",
      ErrorCode.EnhanceYourCalm,
      (c) => {
        c.send(FrameType.Headers, 0, 1, Buffer.alloc(16_000, 0x82));
        for (let i = 0; i < 10; i++) c.send(FrameType.Continuation, 0, 1, Buffer.alloc(16_000, 0x82));
      },
    ],
    [
      "a header list over 64 KiB",
      ErrorCode.EnhanceYourCalm,
      (c) => {
        const field = Buffer.concat([Buffer.from([0x00, 0x01, 0x78, 0x7f, 0x99, 0x74]), Buffer.alloc(15_000, 0x61)]); // x: 15,000 bytes
        c.send(FrameType.Headers, 0, 1, field);
        for (let i = 0; i < 4; i++) c.send(FrameType.Continuation, i === 3 ? Flag.EndHeaders : 0, 1, field);
      },
    ],
    ["a flood of PINGs", ErrorCode.EnhanceYourCalm, (c) => {
      for (let i = 0; i < 1_001; i++) c.send(FrameType.Ping, 0, 0, Buffer.alloc(8));
    }],
    ["streams opened and reset at once, over and over (rapid reset)", ErrorCode.EnhanceYourCalm, (c) => {
      for (let id = 1; id < 2_010; id += 2) {
        c.request(id, "/held", false);
        c.reset(id, ErrorCode.Cancel);
      }
    }],
  ];
  for (const [what, code, send, preface] of connectionErrors) {
    it(`ends the connection with GOAWAY on ${what}`, () =>
      withClient(async (client) => {
        send(client);
        assert.equal(await client.goawayCode(), code);
        await client.ended;
      }, preface));
  }

  it("refuses a stream past 100 at once, and resets a malformed request, and goes on serving", () =>
    withClient(async (client) => {
      for (let id = 1; id <= 201; id += 2) client.request(id, "/held", false);
      const refused = await client.waitFor((f) => f.type === FrameType.RstStream);
      assert.equal(refused.streamId, 201);
      assert.equal(refused.payload.readUInt32BE(0), ErrorCode.RefusedStream);
      client.reset(1, ErrorCode.Cancel);
      client.request(203, "/echo", true, [["X-Upper", "no"]]);
      assert.equal(await client.resetCode(203), ErrorCode.ProtocolError);
      client.request(205, "/echo", true);
      await client.waitFor((f) => isHeaders(f) && f.streamId === 205);
    }));

  it("refuses new streams while more than its memory waits for a client that does not read", () =>
    withClient(async (client) => {
      client.send(FrameType.Settings, 0, 0, Buffer.from([0, 4, 0x7f, 0xff, 0xff, 0xff]));
      client.send(FrameType.WindowUpdate, 0, 0, Buffer.from([0x7f, 0xff, 0x00, 0x00]));
      client.socket.pause();
      for (const id of [1, 3, 5]) client.request(id, "/echo", true, [["x-size", String(4 * 1024 * 1024)]]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      client.request(7, "/echo", true);
      client.socket.resume();
      assert.equal(await client.resetCode(7), ErrorCode.EnhanceYourCalm);
    }));

  it("tells the handler when the client resets its stream", () =>
    withClient(async (client) => {
      client.request(1, "/held", false);
      await client.waitFor((f) => f.type === FrameType.Settings);
      const stream = await until(() => server.streams.find((s) => s.id === 1 && !s.closed && s.rstCode === undefined));
      const closed = new Promise<void>((resolve) => stream.once("close", resolve));
      client.reset(1, ErrorCode.Cancel);
      await closed;
      assert.equal(stream.rstCode, ErrorCode.Cancel);
    }));

  it("gives no window to a stream whose handler does not read, and resets one sent past it", () =>
    withClient(async (client) => {
      client.request(1, "/paused", false);
      for (let sent = 0; sent < STREAM_WINDOW; sent += 16_384) client.send(FrameType.Data, 0, 1, Buffer.alloc(16_384));
      client.send(FrameType.Data, 0, 1, Buffer.alloc(1));
      assert.equal(await client.resetCode(1), ErrorCode.FlowControlError);
      assert.ok(!client.frames.some((f) => f.type === FrameType.WindowUpdate && f.streamId === 1));
    }));

  it("closes gracefully: GOAWAY, calls in flight still answered, new ones refused, then the socket ends", () =>
    withClient(async (client) => {
      client.request(1, "/held", true);
      await until(() => server.held.length > 0 || undefined);
      for (const connection of server.connections) connection.close();
      assert.equal(await client.goawayCode(), ErrorCode.NoError);
      client.request(3, "/echo", true);
      assert.equal(await client.resetCode(3), ErrorCode.RefusedStream);
      server.held.shift()!();
      const trailers = await client.waitFor((f) => isHeaders(f) && f.streamId === 1 && (f.flags & Flag.EndStream) !== 0);
      assert.ok(trailers);
      await client.ended;
    }));
});

async function until<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
