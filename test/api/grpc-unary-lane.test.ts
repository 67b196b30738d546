import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  createClient,
  createConnectRouter,
  createServiceImplSpec,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  CreateImageRequestSchema,
  GetImageRequestSchema,
  Images,
} from "../../gen/containerd/services/images/v1/images_pb.js";
import { GetRequestSchema } from "../../gen/containerd/v1/images_pb.js";
import { MAX_MESSAGE_BYTES } from "../../server/app.js";
import { unaryGrpcLane } from "../../server/http/grpc-unary-lane.js";
import { createOnePortServer, type OnePortServer } from "../../server/http/one-port-server.js";
import { serverBackend, type TestDatabase } from "../support/database.js";
import { digestOf, eventually, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { startServer, type RunningServer } from "../support/server.js";

const IMAGES = "/containerd.services.images.v1.Images";
const NS = { "containerd-namespace": "lane" };

interface RawResponse {
  /** The HTTP/2 error code the stream was reset with, if it was. */
  reset?: number;
  status: number;
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, unknown>;
}

function envelope(message: Uint8Array, flags = 0, declaredLength = message.length): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(declaredLength, 1);
  frame.set(message, 5);
  return frame;
}

const getRequest = (name: string) => toBinary(GetImageRequestSchema, create(GetImageRequestSchema, { name }));

/** One call over raw HTTP/2, everything it answered except the date. */
function rawCall(baseUrl: string, path: string, headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let status = 0;
    let responseHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      const { date: _date, ...rest } = h;
      status = Number(rest[":status"]);
      responseHeaders = rest;
    });
    stream.on("trailers", (t) => (trailers = { ...t }));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      session.close();
      const reset = stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? undefined : stream.rstCode;
      resolve({ reset, status, headers: responseHeaders, body: Buffer.concat(chunks).toString("hex"), trailers });
    });
    stream.end(body);
  });
}

interface Case {
  what: string;
  path?: string;
  headers?: Record<string, string>;
  body: Buffer;
}

const CASES: Case[] = [
  { what: "a Get of an image", body: envelope(getRequest("registry.example.com/lane:v1")) },
  { what: "content type application/grpc+proto", headers: { "content-type": "application/grpc+proto" }, body: envelope(getRequest("registry.example.com/lane:v1")) },
  { what: "a Get with a deadline", headers: { "grpc-timeout": "5S" }, body: envelope(getRequest("registry.example.com/lane:v1")) },
  { what: "a Get of a missing image (NotFound)", body: envelope(getRequest("registry.example.com/missing:v1")) },
  { what: "a Get without a namespace (FailedPrecondition)", headers: { "containerd-namespace": "" }, body: envelope(getRequest("x")) },
  { what: "a Get in an invalid namespace (InvalidArgument)", headers: { "containerd-namespace": "-bad-" }, body: envelope(getRequest("x")) },
  {
    what: "a Create of a name that exists (AlreadyExists)",
    path: `${IMAGES}/Create`,
    body: envelope(
      toBinary(
        CreateImageRequestSchema,
        create(CreateImageRequestSchema, {
          image: { name: "registry.example.com/lane:v1", target: { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(1), size: 1n } },
        }),
      ),
    ),
  },
  { what: "the seed API's Get, default namespace", path: "/containerd.v1.Images/Get", headers: { "containerd-namespace": "" }, body: envelope(toBinary(GetRequestSchema, create(GetRequestSchema, { name: "nope" }))) },
  { what: "a message that is not protobuf", body: envelope(Buffer.from([0xff, 0xff, 0xff])) },
  { what: "no message at all", body: Buffer.alloc(0) },
  { what: "two messages", body: Buffer.concat([envelope(getRequest("a")), envelope(getRequest("b"))]) },
  { what: "an envelope cut short", body: envelope(getRequest("registry.example.com/lane:v1")).subarray(0, 8) },
  { what: "a compressed flag without an encoding", body: envelope(getRequest("a"), 1) },
  { what: "a gzip-compressed request", headers: { "grpc-encoding": "gzip" }, body: envelope(gzipSync(getRequest("registry.example.com/lane:v1")), 1) },
  { what: "an unknown encoding", headers: { "grpc-encoding": "snappy" }, body: envelope(getRequest("a"), 1) },
  { what: "an invalid deadline", headers: { "grpc-timeout": "soon" }, body: envelope(getRequest("a")) },
  { what: "a declared length over the limit", body: envelope(Buffer.alloc(10), 0, MAX_MESSAGE_BYTES + 1) },
  { what: "a body over the limit", body: envelope(Buffer.alloc(MAX_MESSAGE_BYTES + 1)) },
  { what: "gRPC with JSON", headers: { "content-type": "application/grpc+json" }, body: envelope(Buffer.from(JSON.stringify({ name: "registry.example.com/lane:v1" }))) },
];

describe("unary gRPC lane", () => {
  let testDb: TestDatabase;
  let lane: RunningServer;
  let connectOnly: RunningServer;
  before(async () => {
    testDb = await serverBackend.open();
    lane = await startServer(testDb.db);
    connectOnly = await startServer(testDb.db, undefined, { unaryGrpcLane: false });
    const images = createClient(Images, createGrpcTransport({ baseUrl: lane.baseUrl }));
    const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(1), size: 1n, annotations: { a: "b" } };
    await images.create({ image: { name: "registry.example.com/lane:v1", labels: { env: "prod" }, target } }, { headers: NS });
  });
  after(async () => {
    await lane.close();
    await connectOnly.close();
    await testDb.dispose();
  });

  for (const c of CASES) {
    it(`answers ${c.what} exactly as connect does`, async () => {
      const headers = { ...NS, ...c.headers };
      if (headers["containerd-namespace"] === "") delete (headers as Record<string, string>)["containerd-namespace"];
      const path = c.path ?? `${IMAGES}/Get`;
      const viaLane = await rawCall(lane.baseUrl, path, headers, c.body);
      const viaConnect = await rawCall(connectOnly.baseUrl, path, headers, c.body);
      assert.deepEqual(viaLane, viaConnect);
      // connect answers a body over its limit by resetting the stream (ENHANCE_YOUR_CALM).
      if (viaLane.reset === undefined) assert.ok(viaLane.trailers["grpc-status"], "a gRPC status was sent");
    });
  }

  it("answered the plain cases with a message and status 0", async () => {
    const ok = await rawCall(lane.baseUrl, `${IMAGES}/Get`, NS, envelope(getRequest("registry.example.com/lane:v1")));
    assert.equal(ok.trailers["grpc-status"], "0");
    assert.ok(ok.body.length > 10);
  });
});

describe("unary gRPC lane, on its own", () => {
  const seen: { signalReason?: unknown; timeoutMs?: number; intercepted: number; copies?: unknown } = { intercepted: 0 };
  const shutdown = new AbortController();
  let server: OnePortServer;
  let baseUrl: string;

  const waitForAbort = (signal: AbortSignal) =>
    new Promise<void>((resolve) => signal.addEventListener("abort", () => ((seen.signalReason = signal.reason), resolve())));

  before(async () => {
    const implementation: Partial<ServiceImpl<typeof Images>> = {
      async get(request, ctx) {
        seen.timeoutMs = ctx.timeoutMs();
        if (request.name === "metadata") {
          ctx.responseHeader.set("x-header", ctx.requestHeader.get("x-echo") ?? "none");
          ctx.responseTrailer.set("x-trailer", "t");
        }
        if (request.name === "wait") await waitForAbort(ctx.signal);
        if (request.name === "throw") throw new Error("not a ConnectError");
        return { image: { name: request.name } };
      },
    };
    const interceptor: Interceptor = (next) => async (request) => {
      seen.intercepted++;
      const copy = { ...request };
      const response = await next(request);
      response.header.set("x-intercepted", request.method.name);
      const responseCopy = { ...response };
      seen.copies = {
        header: copy.header.get("x-echo"),
        signal: copy.signal instanceof AbortSignal,
        contextValues: typeof copy.contextValues.get,
        responseHeader: responseCopy.header.get("x-intercepted"),
        responseTrailer: responseCopy.trailer instanceof Headers,
      };
      return response;
    };
    const router = createConnectRouter({ interceptors: [interceptor] });
    router.service(Images, implementation);
    const specs = Object.values(createServiceImplSpec(Images, implementation).methods);
    const lane = unaryGrpcLane(specs, router.handlers, {
      interceptors: [interceptor],
      readMaxBytes: 1024,
      shutdownSignal: shutdown.signal,
    });
    // Whatever the lane leaves to the usual path fails here, visibly.
    server = createOnePortServer((_req, res) => res.writeHead(500).end(), lane);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeHttp2Sessions();
    server.close();
  });

  const client = () => createClient(Images, createGrpcTransport({ baseUrl }));

  it("serves a unary call itself, through the interceptors", async () => {
    const before = seen.intercepted;
    let header: Headers | undefined;
    const response = await client().get({ name: "plain" }, { onHeader: (h) => (header = h) });
    assert.equal(response.image?.name, "plain");
    assert.equal(seen.intercepted, before + 1);
    assert.equal(header?.get("x-intercepted"), "Get");
    assert.equal(seen.timeoutMs, undefined, "no deadline was sent");
  });

  it("gives interceptors a request and a response that keep every part when copied with spread", async () => {
    await client().get({ name: "plain" }, { headers: { "x-echo": "copied" } });
    assert.deepEqual(seen.copies, {
      header: "copied",
      signal: true,
      contextValues: "function",
      responseHeader: "Get",
      responseTrailer: true,
    });
  });

  it("sends the headers and trailers the implementation sets, and gives it the request's headers", async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    await client().get(
      { name: "metadata" },
      { headers: { "x-echo": "hello" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    assert.equal(header?.get("x-header"), "hello");
    assert.equal(trailer?.get("x-trailer"), "t");
  });

  it("tells the implementation when the client cancels", async () => {
    const abort = new AbortController();
    const call = client().get({ name: "wait" }, { signal: abort.signal });
    await eventually(() => (seen.timeoutMs === undefined && seen.intercepted > 0 ? true : undefined), "the call to start");
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(call, (e: unknown) => ConnectError.from(e).code === Code.Canceled);
    await eventually(() => (seen.signalReason instanceof ConnectError ? true : undefined), "the signal to abort");
    assert.equal((seen.signalReason as ConnectError).code, Code.Canceled);
  });

  it("aborts the implementation's signal at the deadline, and reports the time left", async () => {
    seen.signalReason = undefined;
    // Raw, so that no client cancels at its own deadline first.
    const response = await rawCall(baseUrl, `${IMAGES}/Get`, { "grpc-timeout": "100m" }, envelope(getRequest("wait")));
    assert.equal(response.trailers["grpc-status"], "0", "as in connect, the implementation decides what to answer");
    await eventually(() => (seen.signalReason instanceof ConnectError ? true : undefined), "the signal to abort");
    assert.equal((seen.signalReason as ConnectError).code, Code.DeadlineExceeded);
    assert.ok(seen.timeoutMs! > 0 && seen.timeoutMs! <= 100, `timeoutMs() was ${seen.timeoutMs}`);
  });

  it("answers an error that is not a ConnectError as Internal, without its message", async () => {
    await assert.rejects(client().get({ name: "throw" }), (e: unknown) => {
      const error = ConnectError.from(e);
      return error.code === Code.Internal && error.rawMessage === "internal error";
    });
  });

  it("leaves gRPC-Web to the usual path", async () => {
    const web = createClient(Images, createGrpcWebTransport({ baseUrl, httpVersion: "2" }));
    await assert.rejects(web.get({ name: "plain" }), (e: unknown) => /HTTP 500/.test(ConnectError.from(e).message));
  });

  it("aborts calls in flight on shutdown, with the shutdown reason", async () => {
    seen.signalReason = undefined;
    const call = client().get({ name: "wait" });
    await new Promise((r) => setTimeout(r, 50));
    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    await eventually(() => (seen.signalReason instanceof ConnectError ? true : undefined), "the signal to abort");
    assert.equal((seen.signalReason as ConnectError).code, Code.Unavailable);
    assert.equal((await call).image?.name, "wait", "the implementation still answers");
  });
});
