import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { H2Connection, type H2ConnectionOptions, type H2ConnectionState } from "../../server/h2/connection.js";
import { CONNECTION_PREFACE, ErrorCode, Flag, frameHeader, FrameType, Setting, settingsFrame, uint32Frame } from "../../server/h2/frames.js";
import { encodeHeaderBlock } from "../../server/h2/hpack.js";
import type { H2Stream } from "../../server/h2/stream.js";
import { createOnePortServer } from "../../server/http/one-port-server.js";
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
  const options: H2ConnectionOptions = {
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
  };
  const server = net.createServer((socket) => void connections.push(new H2Connection(socket, options)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    connections,
    streams,
    held,
    options,
    /**
     * The connection handed over at its next quiet moment to a new
     * H2Connection on the same socket, its state passed through JSON as
     * between processes.
     */
    handOver: (connection: H2Connection) =>
      new Promise<H2Connection>((resolve) =>
        connection.handOverWhenQuiet((state) => {
          const next = new H2Connection(connection.socket, options, JSON.parse(JSON.stringify(state)) as H2ConnectionState);
          connections.push(next);
          connection.socket.resume();
          resolve(next);
        }),
      ),
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type EchoServer = Awaited<ReturnType<typeof echoServer>>;

/** A hand-written client on the server for `test`, closed after it whatever happens. */
async function withClient(server: EchoServer, test: (client: RawH2Client) => Promise<void>, preface?: Buffer): Promise<void> {
  const client = await RawH2Client.connect(server.path, preface);
  try {
    await test(client);
  } finally {
    client.close();
  }
}

/** Node's HTTP/2 client on the server, with stream windows smaller than the connection's, so that each has to be kept. */
function nodeSession(server: EchoServer): http2.ClientHttp2Session {
  return http2.connect("http://localhost", { createConnection: () => net.connect(server.path), settings: { initialWindowSize: 16_384 } });
}

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
    const session = nodeSession(server);
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

  it("answers PING and SETTINGS with acknowledgements", () =>
    withClient(server, async (client) => {
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
      withClient(server, async (client) => {
        send(client);
        assert.equal(await client.goawayCode(), code);
        await client.ended;
      }, preface));
  }

  it("refuses a stream past 100 at once, and resets a malformed request, and goes on serving", () =>
    withClient(server, async (client) => {
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
    withClient(server, async (client) => {
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
    withClient(server, async (client) => {
      client.request(1, "/held", false);
      await client.waitFor((f) => f.type === FrameType.Settings);
      const stream = await until(() => server.streams.find((s) => s.id === 1 && !s.closed && s.rstCode === undefined));
      const closed = new Promise<void>((resolve) => stream.once("close", resolve));
      client.reset(1, ErrorCode.Cancel);
      await closed;
      assert.equal(stream.rstCode, ErrorCode.Cancel);
    }));

  it("gives no window to a stream whose handler does not read, and resets one sent past it", () =>
    withClient(server, async (client) => {
      client.request(1, "/paused", false);
      for (let sent = 0; sent < STREAM_WINDOW; sent += 16_384) client.send(FrameType.Data, 0, 1, Buffer.alloc(16_384));
      client.send(FrameType.Data, 0, 1, Buffer.alloc(1));
      assert.equal(await client.resetCode(1), ErrorCode.FlowControlError);
      assert.ok(!client.frames.some((f) => f.type === FrameType.WindowUpdate && f.streamId === 1));
    }));

  it("closes gracefully: GOAWAY, calls in flight still answered, new ones refused, then the socket ends", () =>
    withClient(server, async (client) => {
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

describe("server/h2: handing a connection over to another process", () => {
  let server: EchoServer;
  before(async () => (server = await echoServer()));
  after(() => server.close());

  it("goes on with the client's HPACK table, windows and settings, and the client notices nothing", async () => {
    const session = nodeSession(server);
    try {
      // Node's client indexes these fields, so later requests refer to the dynamic table.
      const headers = { "x-client": "handed-over", "x-size": String(100_000) };
      for (let i = 0; i < 3; i++) assert.equal((await nodeRequest(session, Buffer.from(`before ${i}`), headers)).body.length, 100_000);
      const first = server.connections.at(-1)!;
      const next = await server.handOver(first);
      assert.equal(first.open, false);
      const body = Buffer.alloc(2 * STREAM_WINDOW, 3);
      const answers = await Promise.all(Array.from({ length: 20 }, () => nodeRequest(session, body, headers)));
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.equal(answer.trailers["x-received"], String(body.length));
        assert.equal(answer.body.length, 100_000);
      }
      assert.equal(next.open, true);
      const streamsBefore = server.streams.length;
      assert.equal((await nodeRequest(session, Buffer.from("after"))).body.toString(), "after");
      assert.equal(server.streams.length, streamsBefore + 1);
    } finally {
      session.close();
    }
  });

  it("waits until no call is in flight", () =>
    withClient(server, async (client) => {
      client.request(1, "/held", true);
      await until(() => server.held.length > 0 || undefined);
      let handedOver = false;
      const next = server.handOver(server.connections.at(-1)!).then((connection) => ((handedOver = true), connection));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(handedOver, false);
      server.held.shift()!();
      await client.waitFor((f) => isHeaders(f) && f.streamId === 1 && (f.flags & Flag.EndStream) !== 0);
      assert.equal((await next).open, true);
    }));

  it("is not handed over when a write fails because the client has gone, and the failure ends it quietly", () => {
    const size = 4 * 1024 * 1024;
    const preface = Buffer.concat([
      CONNECTION_PREFACE,
      settingsFrame([[Setting.InitialWindowSize, size]]),
      uint32Frame(FrameType.WindowUpdate, 0, size),
    ]);
    return withClient(
      server,
      async (client) => {
        await client.waitFor((f) => f.type === FrameType.Settings && f.flags === Flag.Ack);
        const connection = server.connections.at(-1)!;
        client.request(1, "/held", true, [["x-size", String(size)]]);
        await until(() => server.held.length > 0 || undefined);
        let handedOver = false;
        connection.handOverWhenQuiet(() => (handedOver = true));
        // A client that reads nothing leaves most of a large answer waiting in the server's socket.
        client.socket.pause();
        server.held.shift()!();
        await until(() => connection.socket.writableLength > 0 || undefined);
        // It then reads what has arrived and closes cleanly, before the server has written more.
        client.socket.once("data", () => setImmediate(() => client.socket.destroy()));
        client.socket.resume();
        await until(() => !connection.open || undefined);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(handedOver, false);
        assert.equal(connection.socket.destroyed, true);
      },
      preface,
    );
  });

  it("sends no more than the client's connection window left when it was handed over", () =>
    withClient(server, async (client) => {
      const dataOn = (streamId: number) => client.frames.filter((f) => f.type === FrameType.Data && f.streamId === streamId).reduce((sum, f) => sum + f.payload.length, 0);
      client.request(1, "/echo", true, [["x-size", "40000"]]);
      await client.waitFor((f) => isHeaders(f) && f.streamId === 1 && (f.flags & Flag.EndStream) !== 0);
      await server.handOver(server.connections.at(-1)!);
      client.request(3, "/echo", true, [["x-size", "40000"]]);
      await until(() => dataOn(3) || undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(dataOn(3), 65_535 - 40_000);
      const increment = Buffer.alloc(4);
      increment.writeUInt32BE(40_000);
      client.send(FrameType.WindowUpdate, 0, 0, increment);
      await client.waitFor((f) => isHeaders(f) && f.streamId === 3 && (f.flags & Flag.EndStream) !== 0);
      assert.equal(dataOn(3), 40_000);
    }));

  it("is waited for by the server that adopted it, when that server closes", () =>
    withClient(server, async (client) => {
      const adopter = createOnePortServer(() => {}, undefined, { serve: (socket, resumed) => new H2Connection(socket, server.options, resumed) });
      await new Promise<void>((resolve) => adopter.listen(join(dirname(server.path), "adopter.sock"), resolve));
      await client.waitFor((f) => f.type === FrameType.Settings && f.flags === Flag.Ack);
      const first = server.connections.at(-1)!;
      await new Promise<void>((resolve) =>
        first.handOverWhenQuiet((state) => {
          adopter.adoptHttp2(first.socket, state);
          first.socket.resume();
          resolve();
        }),
      );
      client.request(1, "/held", true);
      await until(() => server.held.length > 0 || undefined);
      adopter.closeHttp2Sessions();
      let drained = false;
      const draining = adopter.drain().then(() => (drained = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(drained, false);
      server.held.shift()!();
      await draining;
      assert.ok(client.frames.some((f) => isHeaders(f) && f.streamId === 1 && (f.flags & Flag.EndStream) !== 0));
      await client.ended;
    }));

  it("carries a frame it has only begun to read", () =>
    withClient(server, async (client) => {
      await client.waitFor((f) => f.type === FrameType.Settings && f.flags === Flag.Ack);
      const block = encodeHeaderBlock([[":method", "POST"], [":scheme", "http"], [":path", "/echo"], [":authority", "localhost"]]);
      const frame = Buffer.concat([frameHeader(block.length, FrameType.Headers, Flag.EndHeaders | Flag.EndStream, 1), block]);
      client.socket.write(frame.subarray(0, 12));
      const first = server.connections.at(-1)!;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const next = await server.handOver(first);
      client.socket.write(frame.subarray(12));
      await client.waitFor((f) => isHeaders(f) && f.streamId === 1 && (f.flags & Flag.EndStream) !== 0);
      assert.equal(next.open, true);
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
