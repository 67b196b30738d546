// Protocol behaviour of connect's gRPC handler for unary calls, pinned down so
// that patches/@connectrpc+connect+2.2.0.patch (a unary fast path for gRPC, no
// idle deadline controller, no DOMException per abort) cannot change it
// unnoticed. The behavioural suites also pass against unpatched 2.2.0: they
// describe what 2.2.0 does on the wire. Only the last suite checks that the
// patch is installed.
//
// Every suite runs against three servers: connect-node's adapter from the ESM
// build, the same from the CommonJS build (the patch edits both builds), and
// Fastify on the project's one-port server (how the service is deployed).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  StringValueSchema,
  file_google_protobuf_any,
  file_google_protobuf_wrappers,
  type Any,
  type StringValue,
} from "@bufbuild/protobuf/wkt";
import * as esmConnect from "@connectrpc/connect";
import type { ConnectRouterOptions, HandlerContext, Interceptor } from "@connectrpc/connect";
import * as esmConnectNode from "@connectrpc/connect-node";
import { createConnectTransport, createGrpcTransport, compressionGzip } from "@connectrpc/connect-node";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastify from "fastify";
import { createOnePortServer, type RequestHandler } from "../../server/http/one-port-server.js";

const { Code, ConnectError, createClient } = esmConnect;
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// A test service built at run time: unary, server-, client- and bidi-streaming.

type SV = typeof StringValueSchema;
const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "fastpath/v1/test.proto",
    package: "fastpath.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "TestService",
        method: [
          { name: "Unary", inputType: ".google.protobuf.StringValue", outputType: ".google.protobuf.StringValue" },
          {
            name: "ServerStream",
            inputType: ".google.protobuf.StringValue",
            outputType: ".google.protobuf.StringValue",
            serverStreaming: true,
          },
          {
            name: "ClientStream",
            inputType: ".google.protobuf.StringValue",
            outputType: ".google.protobuf.StringValue",
            clientStreaming: true,
          },
          {
            name: "Bidi",
            inputType: ".google.protobuf.StringValue",
            outputType: ".google.protobuf.StringValue",
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
);
const TestService = registry.getService("fastpath.v1.TestService") as unknown as GenService<{
  unary: { methodKind: "unary"; input: SV; output: SV };
  serverStream: { methodKind: "server_streaming"; input: SV; output: SV };
  clientStream: { methodKind: "client_streaming"; input: SV; output: SV };
  bidi: { methodKind: "bidi_streaming"; input: SV; output: SV };
}>;
const UNARY = "/fastpath.v1.TestService/Unary";

// google.rpc.Status, the payload of grpc-status-details-bin, decoded here
// independently of connect.
const StatusSchema = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "google/rpc/status.proto",
    package: "google.rpc",
    syntax: "proto3",
    dependency: ["google/protobuf/any.proto"],
    messageType: [
      {
        name: "Status",
        field: [
          { name: "code", number: 1, type: 5 /* int32 */, label: 1, jsonName: "code" },
          { name: "message", number: 2, type: 9 /* string */, label: 1, jsonName: "message" },
          { name: "details", number: 3, type: 11 /* message */, label: 3, typeName: ".google.protobuf.Any", jsonName: "details" },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/any.proto" ? file_google_protobuf_any : undefined),
).getMessage("google.rpc.Status") as unknown as GenMessage<{ $typeName: "google.rpc.Status"; code: number; message: string; details: Any[] }>;

function decodeStatusDetailsBin(value: string): { code: number; message: string; details: Any[] } {
  return fromBinary(StatusSchema, Buffer.from(value, "base64"));
}

// ---------------------------------------------------------------------------
// Limits of the servers under test.

const READ_MAX = 4096;
const WRITE_MAX = 8192;
const MAX_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------
// What the handlers saw, keyed by the request header x-call-id.

const seen = new Map<string, HandlerContext>();
const started = new Set<string>();
let callSeq = 0;
const nextCallId = () => `call-${++callSeq}`;

type ConnectModule = typeof import("@connectrpc/connect");
type ConnectNodeModule = typeof import("@connectrpc/connect-node");

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const safety = setTimeout(() => reject(new Error("test safety: signal never aborted")), 5_000);
    const onAbort = () => {
      clearTimeout(safety);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The unary handler's behaviour is chosen by the request value: "verb:argument". */
function implementation(lib: ConnectModule) {
  return {
    async unary(req: StringValue, ctx: HandlerContext): Promise<{ value: string }> {
      const id = ctx.requestHeader.get("x-call-id");
      if (id !== null) {
        seen.set(id, ctx);
        started.add(id);
      }
      const [verb, ...rest] = req.value.split(":");
      const arg = rest.join(":");
      switch (verb) {
        case "echo":
          return { value: arg };
        case "len":
          return { value: String(req.value.length) };
        case "big":
          return { value: "x".repeat(Number(arg)) };
        case "error": {
          const [code, ...message] = arg.split(":");
          throw new lib.ConnectError(message.join(":"), Number(code) as esmConnect.Code);
        }
        case "details":
          throw new lib.ConnectError("with details", Code.FailedPrecondition, { "x-error-meta": "m1" }, [
            { desc: StringValueSchema, value: { value: "detail-1" } },
            { desc: StringValueSchema, value: { value: "detail-2" } },
          ]);
        case "plain":
          throw new Error("a secret that must not leak");
        case "throw-undefined":
          throw undefined;
        case "headers":
          ctx.responseHeader.set("x-handler-header", "h1");
          ctx.responseTrailer.set("x-handler-trailer", "t1");
          return { value: "with headers" };
        case "headers-then-error":
          ctx.responseHeader.set("x-handler-header", "h1");
          ctx.responseTrailer.set("x-handler-trailer", "t1");
          throw new lib.ConnectError("after headers", Code.Aborted);
        case "abort-listener":
        case "abort-listener-error":
          // The call's end aborts ctx.signal before the response is finished, so a
          // trailer set by an abort listener is still sent.
          ctx.signal.addEventListener("abort", () => ctx.responseTrailer.set("x-aborted", "before trailers"));
          if (verb === "abort-listener-error") throw new lib.ConnectError("failed", Code.DataLoss);
          return { value: "listening" };
        case "timeout":
          return { value: String(ctx.timeoutMs()) };
        case "wait-signal":
          return await waitForAbort(ctx.signal);
        case "sleep":
          await sleep(Number(arg));
          return { value: "slept" };
        default:
          return { value: req.value };
      }
    },
    async *serverStream(req: StringValue, ctx: HandlerContext) {
      ctx.responseHeader.set("x-stream-header", "s1");
      yield { value: `${req.value}-1` };
      yield { value: `${req.value}-2` };
      if (req.value === "fail") throw new lib.ConnectError("stream failed", Code.DataLoss);
      yield { value: `${req.value}-3` };
      ctx.responseTrailer.set("x-stream-trailer", "s2");
    },
    async clientStream(reqs: AsyncIterable<StringValue>) {
      const values: string[] = [];
      for await (const r of reqs) values.push(r.value);
      return { value: values.join(",") };
    },
    async *bidi(reqs: AsyncIterable<StringValue>) {
      for await (const r of reqs) yield { value: `echo ${r.value}` };
    },
  };
}

/** Sets a header and a trailer on every response, and rejects calls that ask for it. */
const headerInterceptor: Interceptor = (next) => async (req) => {
  if (req.header.get("x-interceptor-reject") !== null) {
    throw new ConnectError("rejected by interceptor", Code.PermissionDenied, { "x-interceptor-meta": "r" });
  }
  const res = await next(req);
  res.header.set("x-interceptor-header", "i1");
  res.trailer.set("x-interceptor-trailer", `saw ${req.stream ? "stream" : (req.message as StringValue).value}`);
  return res;
};

function options(lib: ConnectModule, extra: Partial<ConnectRouterOptions> = {}): ConnectRouterOptions {
  return {
    interceptors: [headerInterceptor],
    readMaxBytes: READ_MAX,
    writeMaxBytes: WRITE_MAX,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    requestGate(ctx) {
      if (ctx.requestHeader.get("x-gate-reject") !== null) {
        ctx.responseHeader.set("x-gate-header", "g1");
        throw new lib.ConnectError("rejected by gate", Code.Unauthenticated);
      }
    },
    ...extra,
  };
}

// ---------------------------------------------------------------------------
// Servers.

interface Server {
  url: string;
  close(): Promise<void>;
}

type Flavor = "connect-node esm" | "connect-node cjs" | "fastify one-port";
const flavors: Flavor[] = ["connect-node esm", "connect-node cjs", "fastify one-port"];

function modules(flavor: Flavor): { lib: ConnectModule; node: ConnectNodeModule } {
  if (flavor === "connect-node cjs") {
    return {
      lib: require("@connectrpc/connect") as ConnectModule,
      node: require("@connectrpc/connect-node") as ConnectNodeModule,
    };
  }
  return { lib: esmConnect, node: esmConnectNode };
}

async function startServer(flavor: Flavor, extra: Partial<ConnectRouterOptions> = {}): Promise<Server> {
  const { lib, node } = modules(flavor);
  const opts = options(lib, extra);
  const routes = (router: esmConnect.ConnectRouter) => router.service(TestService, implementation(lib));
  if (flavor === "fastify one-port") {
    let onePort: ReturnType<typeof createOnePortServer> | undefined;
    const app = fastify({
      serverFactory: (h) => (onePort = createOnePortServer(h as RequestHandler)) as unknown as import("node:http").Server,
    });
    await app.register(fastifyConnectPlugin, { ...opts, routes });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    return {
      url: `http://127.0.0.1:${port}`,
      async close() {
        onePort?.closeHttp2Sessions();
        await app.close();
      },
    };
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(node.connectNodeAdapter({ ...opts, routes }));
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.close();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// Raw HTTP/2 client: everything a gRPC client sees, frame by frame.

interface RawResult {
  httpStatus: number;
  headers: http2.IncomingHttpHeaders;
  /** True if the first HEADERS frame ended the stream (a trailers-only response). */
  headersEndStream: boolean;
  trailers: http2.IncomingHttpHeaders | undefined;
  data: Buffer;
  messages: { flags: number; data: Buffer }[];
}

function frame(message: Uint8Array, flags = 0, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, message]);
}

function sv(value: string): Uint8Array {
  return toBinary(StringValueSchema, create(StringValueSchema, { value }));
}

function parseEnvelopes(data: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let offset = 0;
  while (offset + 5 <= data.length) {
    const len = data.readUInt32BE(offset + 1);
    out.push({ flags: data[offset]!, data: data.subarray(offset + 5, offset + 5 + len) });
    offset += 5 + len;
  }
  assert.equal(offset, data.length, "response body is whole envelopes");
  return out;
}

interface RawOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Chunks written one by one; a single Buffer is written at once. */
  body?: Buffer | Buffer[];
  contentType?: string;
  method?: string;
  /** Called once the request is sent; may reset the stream. */
  onSent?: (req: http2.ClientHttp2Stream) => void;
}

async function raw(url: string, o: RawOptions = {}): Promise<RawResult> {
  const session = http2.connect(url);
  session.on("error", () => {});
  try {
    return await new Promise<RawResult>((resolve, reject) => {
      const req = session.request({
        ":method": o.method ?? "POST",
        ":path": o.path ?? UNARY,
        "content-type": o.contentType ?? "application/grpc",
        te: "trailers",
        ...o.headers,
      });
      let httpStatus = 0;
      let headers: http2.IncomingHttpHeaders = {};
      let headersEndStream = false;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      req.on("response", (h, flags) => {
        httpStatus = Number(h[":status"]);
        headers = h;
        headersEndStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      });
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("close", () => {
        const data = Buffer.concat(chunks);
        resolve({ httpStatus, headers, headersEndStream, trailers, data, messages: httpStatus === 200 ? parseEnvelopes(data) : [] });
      });
      const body = o.body ?? frame(sv("echo:hi"));
      if (o.method === "GET") {
        // node:http2 ends a GET stream itself
      } else if (Array.isArray(body)) {
        (async () => {
          for (const c of body) {
            req.write(c);
            await sleep(1);
          }
          req.end();
        })().catch(reject);
      } else {
        req.end(body);
      }
      o.onSent?.(req);
    });
  } finally {
    session.close();
  }
}

/** Asserts 2.2.0's response shape for a unary gRPC error and returns the trailers. */
function assertErrorShape(r: RawResult, code: esmConnect.Code, message: string): http2.IncomingHttpHeaders {
  assert.equal(r.httpStatus, 200);
  // connect 2.2.0 never sends a trailers-only response: a HEADERS frame without
  // END_STREAM, no message, then the status in a trailing HEADERS frame.
  assert.equal(r.headersEndStream, false, "headers frame does not end the stream");
  assert.equal(r.headers["grpc-status"], undefined, "no status in the leading headers");
  assert.equal(r.data.length, 0, "no message");
  assert.ok(r.trailers, "trailers sent");
  assert.equal(r.trailers["grpc-status"], String(code));
  assert.equal(r.trailers["grpc-message"], encodeURIComponent(message));
  return r.trailers;
}

function assertOk(r: RawResult): StringValue {
  assert.equal(r.httpStatus, 200);
  assert.equal(r.headersEndStream, false);
  assert.ok(r.trailers, "trailers sent");
  assert.equal(r.trailers["grpc-status"], "0", `grpc-status 0, got ${JSON.stringify(r.trailers)}`);
  assert.equal(r.trailers["grpc-message"], undefined);
  assert.equal(r.messages.length, 1, "exactly one response message");
  assert.equal(r.messages[0]!.flags, 0);
  return fromBinary(StringValueSchema, r.messages[0]!.data);
}

async function rejects(p: Promise<unknown>, code: esmConnect.Code, message: string): Promise<esmConnect.ConnectError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `a ConnectError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${Code[code]}, got ${Code[e.code]}: ${e.rawMessage}`);
    assert.equal(e.rawMessage, message);
    return e;
  }
  assert.fail("expected the call to fail");
}

// ---------------------------------------------------------------------------

for (const flavor of flavors) {
  describe(`gRPC unary over ${flavor}`, () => {
    const { lib } = modules(flavor);
    let server: Server;
    let smallCompress: Server;
    let shutdown: Server;
    const shutdownController = new AbortController();
    let client: esmConnect.Client<typeof TestService>;

    before(async () => {
      server = await startServer(flavor);
      smallCompress = await startServer(flavor, { compressMinBytes: 8 });
      shutdown = await startServer(flavor, { shutdownSignal: shutdownController.signal });
      client = createClient(TestService, createGrpcTransport({ baseUrl: server.url }));
    });
    after(async () => {
      await server.close();
      await smallCompress.close();
      await shutdown.close();
    });

    describe("success", () => {
      test("a connect-node gRPC client gets the answer, headers and trailers", async () => {
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        const res = await client.unary(
          { value: "echo:hello" },
          { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
        );
        assert.equal(res.value, "hello");
        assert.equal(header?.get("content-type"), "application/grpc+proto");
        assert.equal(header?.get("x-interceptor-header"), "i1");
        assert.equal(trailer?.get("grpc-status"), "0");
        assert.equal(trailer?.get("x-interceptor-trailer"), "saw echo:hello");
      });

      test("on the wire: HEADERS, one uncompressed message, trailers with grpc-status 0", async () => {
        const r = await raw(server.url, { body: frame(sv("echo:wire")) });
        assert.equal(assertOk(r).value, "wire");
        assert.equal(r.headers["content-type"], "application/grpc+proto");
        assert.equal(r.headers["grpc-encoding"], undefined);
        assert.deepEqual(r.data, frame(sv("wire")));
      });

      test("content-type application/grpc+json", async () => {
        const r = await raw(server.url, { contentType: "application/grpc+json", body: frame(Buffer.from('"echo:json"')) });
        assert.equal(r.headers["content-type"], "application/grpc+json");
        assert.equal(r.trailers?.["grpc-status"], "0");
        assert.equal(r.messages.length, 1);
        assert.equal(r.messages[0]!.data.toString(), '"json"');
      });

      test("a request body written in 1-byte chunks", async () => {
        const whole = frame(sv("echo:chunked"));
        const r = await raw(server.url, { body: [...whole].map((b) => Buffer.from([b])) });
        assert.equal(assertOk(r).value, "chunked");
      });

      test("an empty message (zero-length envelope) is a valid request", async () => {
        const r = await raw(server.url, { body: frame(new Uint8Array(0)) });
        assert.equal(assertOk(r).value, "");
      });
    });

    describe("errors from the handler", () => {
      test("ConnectError: exact code and message", async () => {
        await rejects(client.unary({ value: "error:5:no such image" }), Code.NotFound, "no such image");
        const r = await raw(server.url, { body: frame(sv("error:9:précondition échouée 100% ;")) });
        assertErrorShape(r, Code.FailedPrecondition, "précondition échouée 100% ;");
      });

      test("error details and metadata round-trip (grpc-status-details-bin)", async () => {
        const e = await rejects(client.unary({ value: "details" }), Code.FailedPrecondition, "with details");
        assert.deepEqual(
          e.findDetails(StringValueSchema).map((d) => d.value),
          ["detail-1", "detail-2"],
        );
        assert.equal(e.metadata.get("x-error-meta"), "m1");
        const t = assertErrorShape(await raw(server.url, { body: frame(sv("details")) }), Code.FailedPrecondition, "with details");
        assert.equal(t["x-error-meta"], "m1");
        const status = decodeStatusDetailsBin(String(t["grpc-status-details-bin"]));
        assert.equal(status.code, Code.FailedPrecondition);
        assert.equal(status.message, "with details");
        assert.deepEqual(
          status.details.map((d) => [d.typeUrl, fromBinary(StringValueSchema, d.value).value]),
          [
            ["type.googleapis.com/google.protobuf.StringValue", "detail-1"],
            ["type.googleapis.com/google.protobuf.StringValue", "detail-2"],
          ],
        );
      });

      test("a non-ConnectError becomes internal error, without its message; ctx.signal aborts with it", async () => {
        const id = nextCallId();
        const t = assertErrorShape(
          await raw(server.url, { body: frame(sv("plain")), headers: { "x-call-id": id } }),
          Code.Internal,
          "internal error",
        );
        assert.equal(t["grpc-status-details-bin"], undefined);
        const ctx = seen.get(id)!;
        assert.equal(ctx.signal.aborted, true);
        assert.ok(ctx.signal.reason instanceof Error);
        assert.equal((ctx.signal.reason as Error).message, "a secret that must not leak");
      });

      test("throwing undefined: 2.2.0 ends the call with grpc-status 0 and no message", async () => {
        const r = await raw(server.url, { body: frame(sv("throw-undefined")) });
        assert.equal(r.headersEndStream, false);
        assert.equal(r.data.length, 0);
        assert.equal(r.trailers?.["grpc-status"], "0");
        assert.equal(r.trailers?.["grpc-message"], undefined);
      });

      test("a ConnectError aborts ctx.signal with that error", async () => {
        const id = nextCallId();
        await raw(server.url, { body: frame(sv("error:10:conflict")), headers: { "x-call-id": id } });
        const reason = seen.get(id)!.signal.reason;
        assert.ok(reason instanceof lib.ConnectError);
        assert.equal((reason as esmConnect.ConnectError).code, Code.Aborted);
      });

      test("headers and trailers set by the handler before it fails are sent", async () => {
        const r = await raw(server.url, { body: frame(sv("headers-then-error")) });
        const t = assertErrorShape(r, Code.Aborted, "after headers");
        assert.equal(r.headers["x-handler-header"], "h1");
        assert.equal(t["x-handler-trailer"], "t1");
      });
    });

    describe("interceptors, request gate, handler headers", () => {
      test("handler-set headers and trailers arrive", async () => {
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        await client.unary({ value: "headers" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
        assert.equal(header?.get("x-handler-header"), "h1");
        assert.equal(trailer?.get("x-handler-trailer"), "t1");
        const r = await raw(server.url, { body: frame(sv("headers")) });
        assert.equal(r.headers["x-handler-header"], "h1");
        assert.equal(r.headers["x-interceptor-header"], "i1");
        assert.equal(r.trailers?.["x-handler-trailer"], "t1");
        assert.equal(r.trailers?.["x-interceptor-trailer"], "saw headers");
      });

      test("an interceptor that throws: its code, message and metadata; the handler does not run", async () => {
        const id = nextCallId();
        const e = await rejects(
          client.unary({ value: "echo:x" }, { headers: { "x-interceptor-reject": "1", "x-call-id": id } }),
          Code.PermissionDenied,
          "rejected by interceptor",
        );
        assert.equal(e.metadata.get("x-interceptor-meta"), "r");
        assert.equal(started.has(id), false);
      });

      test("a request gate that throws: its code, its response header; the handler does not run", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "x-gate-reject": "1", "x-call-id": id } });
        assertErrorShape(r, Code.Unauthenticated, "rejected by gate");
        assert.equal(r.headers["x-gate-header"], "g1");
        assert.equal(started.has(id), false);
      });
    });

    describe("compression", () => {
      test("gzip request and response with the connect-node transport", async () => {
        const gz = createClient(
          TestService,
          createGrpcTransport({ baseUrl: server.url, sendCompression: compressionGzip, acceptCompression: [compressionGzip] }),
        );
        const payload = `len:${"y".repeat(3000)}`;
        assert.equal((await gz.unary({ value: payload })).value, String(payload.length));
        assert.equal((await gz.unary({ value: "big:5000" })).value.length, 5000);
      });

      test("a gzip-compressed request envelope (flag 1, grpc-encoding gzip)", async () => {
        const r = await raw(server.url, {
          headers: { "grpc-encoding": "gzip" },
          body: frame(gzipSync(sv("echo:zipped")), 1),
        });
        assert.equal(assertOk(r).value, "zipped");
      });

      test("grpc-encoding gzip with an uncompressed envelope (flag 0) is accepted", async () => {
        const r = await raw(server.url, { headers: { "grpc-encoding": "gzip" }, body: frame(sv("echo:plain")) });
        assert.equal(fromBinary(StringValueSchema, r.messages[0]!.data).value, "plain");
        assert.equal(r.trailers?.["grpc-status"], "0");
        // The request encoding is also used for the response (asymmetric compression).
        assert.equal(r.headers["grpc-encoding"], "gzip");
      });

      test("response compressed at and above compressMinBytes (default 1024), flag 0 below", async () => {
        const big = await raw(server.url, { headers: { "grpc-accept-encoding": "gzip" }, body: frame(sv("big:2000")) });
        assert.equal(big.headers["grpc-encoding"], "gzip");
        assert.equal(big.messages.length, 1);
        assert.equal(big.messages[0]!.flags, 1);
        assert.equal(fromBinary(StringValueSchema, gunzipSync(big.messages[0]!.data)).value.length, 2000);

        // 1021 characters serialize to 1 + 2 + 1021 = 1024 bytes: compressed.
        const edge = await raw(server.url, { headers: { "grpc-accept-encoding": "gzip" }, body: frame(sv("big:1021")) });
        assert.equal(edge.messages[0]!.flags, 1);
        // 1020 characters: 1023 bytes, sent uncompressed, but the header still says gzip.
        const below = await raw(server.url, { headers: { "grpc-accept-encoding": "gzip" }, body: frame(sv("big:1020")) });
        assert.equal(below.headers["grpc-encoding"], "gzip");
        assert.equal(below.messages[0]!.flags, 0);
        assert.equal(fromBinary(StringValueSchema, below.messages[0]!.data).value.length, 1020);
      });

      test("compressMinBytes: 8 compresses a 10-byte response", async () => {
        const r = await raw(smallCompress.url, { headers: { "grpc-accept-encoding": "gzip" }, body: frame(sv("big:7")) });
        assert.equal(r.messages[0]!.flags, 1);
        assert.equal(fromBinary(StringValueSchema, gunzipSync(r.messages[0]!.data)).value, "xxxxxxx");
        const small = await raw(smallCompress.url, { headers: { "grpc-accept-encoding": "gzip" }, body: frame(sv("big:4")) });
        assert.equal(small.messages[0]!.flags, 0);
      });

      test("no grpc-accept-encoding and no grpc-encoding: never compressed", async () => {
        const r = await raw(server.url, { body: frame(sv("big:3000")) });
        assert.equal(r.headers["grpc-encoding"], undefined);
        assert.equal(r.messages[0]!.flags, 0);
      });

      test("unknown grpc-encoding: Unimplemented and the supported encodings", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "grpc-encoding": "snappy", "x-call-id": id } });
        const t = assertErrorShape(r, Code.Unimplemented, 'unknown compression "snappy": supported encodings are gzip,br');
        // The error carries grpc-accept-encoding as metadata, but 2.2.0 drops it as a
        // protocol header when it writes the trailers: clients only get the message.
        assert.equal(t["grpc-accept-encoding"], undefined);
        assert.equal(r.headers["grpc-accept-encoding"], undefined);
        assert.equal(started.has(id), false);
      });

      test("a compressed envelope without grpc-encoding: Internal", async () => {
        const r = await raw(server.url, { body: frame(gzipSync(sv("echo:x")), 1) });
        assertErrorShape(r, Code.Internal, "received compressed envelope, but do not know how to decompress");
      });

      test("a corrupt gzip envelope: InvalidArgument decompression failed", async () => {
        const r = await raw(server.url, { headers: { "grpc-encoding": "gzip" }, body: frame(Buffer.from("not gzip at all"), 1) });
        assertErrorShape(r, Code.InvalidArgument, "decompression failed");
      });

      test("a gzip envelope that inflates beyond readMaxBytes: ResourceExhausted", async () => {
        const r = await raw(server.url, {
          headers: { "grpc-encoding": "gzip" },
          body: frame(gzipSync(sv("x".repeat(READ_MAX + 10))), 1),
        });
        assertErrorShape(r, Code.ResourceExhausted, `message is larger than configured readMaxBytes ${READ_MAX} after decompression`);
      });
    });

    describe("deadlines", () => {
      test("grpc-timeout: ctx.signal aborts with DeadlineExceeded, which the client receives", async () => {
        const id = nextCallId();
        const before = Date.now();
        const r = await raw(server.url, { headers: { "grpc-timeout": "100m", "x-call-id": id }, body: frame(sv("wait-signal")) });
        assert.ok(Date.now() - before >= 90, "waited for the deadline");
        assertErrorShape(r, Code.DeadlineExceeded, "the operation timed out");
        const reason = seen.get(id)!.signal.reason;
        assert.ok(reason instanceof lib.ConnectError);
        assert.equal((reason as esmConnect.ConnectError).code, Code.DeadlineExceeded);
      });

      test("ctx.timeoutMs() reflects grpc-timeout, and is undefined without it", async () => {
        const withTimeout = assertOk(await raw(server.url, { headers: { "grpc-timeout": "5S" }, body: frame(sv("timeout")) }));
        const ms = Number(withTimeout.value);
        assert.ok(ms > 4000 && ms <= 5000, `timeoutMs ${ms}`);
        const without = assertOk(await raw(server.url, { body: frame(sv("timeout")) }));
        assert.equal(without.value, "undefined");
      });

      test("a handler that ignores the signal still answers after its deadline (2.2.0 does not enforce it)", async () => {
        const r = await raw(server.url, { headers: { "grpc-timeout": "20m" }, body: frame(sv("sleep:120")) });
        assert.equal(assertOk(r).value, "slept");
      });

      test("an invalid grpc-timeout: InvalidArgument, the handler does not run", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "grpc-timeout": "soon", "x-call-id": id } });
        assertErrorShape(r, Code.InvalidArgument, "protocol error: invalid grpc timeout value: soon");
        assert.equal(started.has(id), false);
      });

      test("a grpc-timeout above maxTimeoutMs: InvalidArgument", async () => {
        const r = await raw(server.url, { headers: { "grpc-timeout": "2M" } });
        assertErrorShape(r, Code.InvalidArgument, `timeout 120000ms must be <= ${MAX_TIMEOUT_MS}`);
      });

      test("an invalid grpc-timeout is reported before an unknown grpc-encoding", async () => {
        const r = await raw(server.url, { headers: { "grpc-timeout": "soon", "grpc-encoding": "snappy" } });
        assertErrorShape(r, Code.Unimplemented, 'unknown compression "snappy": supported encodings are gzip,br');
      });
    });

    describe("the request body", () => {
      test("readMaxBytes: a declared message size above it is ResourceExhausted, the handler does not run", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "x-call-id": id }, body: frame(Buffer.alloc(10), 0, READ_MAX + 1) });
        assertErrorShape(r, Code.ResourceExhausted, `message size ${READ_MAX + 1} is larger than configured readMaxBytes ${READ_MAX}`);
        assert.equal(started.has(id), false);
      });

      test("readMaxBytes applies to the message, not the body: a message of exactly readMaxBytes passes", async () => {
        const value = "len:" + "z".repeat(READ_MAX - 3 - 4); // 1 tag + 2 length + value = READ_MAX bytes
        const msg = sv(value);
        assert.equal(msg.length, READ_MAX);
        const r = await raw(server.url, { body: frame(msg) });
        assert.equal(assertOk(r).value, String(value.length));
      });

      test("zero messages: Unimplemented missing input message", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "x-call-id": id }, body: Buffer.alloc(0) });
        assertErrorShape(r, Code.Unimplemented, "protocol error: missing input message for unary method");
        assert.equal(started.has(id), false);
      });

      test("two messages: Unimplemented extra input message, the handler does not run", async () => {
        const id = nextCallId();
        const r = await raw(server.url, { headers: { "x-call-id": id }, body: Buffer.concat([frame(sv("echo:a")), frame(sv("echo:b"))]) });
        assertErrorShape(r, Code.Unimplemented, "protocol error: received extra input message for unary method");
        assert.equal(started.has(id), false);
      });

      test("two messages that together exceed readMaxBytes: still the extra-message error", async () => {
        const part = frame(sv("q".repeat(3000)));
        const r = await raw(server.url, { body: [part, part] });
        assertErrorShape(r, Code.Unimplemented, "protocol error: received extra input message for unary method");
      });

      test("a second message declaring more than readMaxBytes: ResourceExhausted", async () => {
        const r = await raw(server.url, { body: [frame(sv("echo:a")), frame(Buffer.alloc(1), 0, READ_MAX + 7)] });
        assertErrorShape(r, Code.ResourceExhausted, `message size ${READ_MAX + 7} is larger than configured readMaxBytes ${READ_MAX}`);
      });

      test("a second message that does not parse: the parse error, not the extra-message error", async () => {
        const r = await raw(server.url, { body: Buffer.concat([frame(sv("echo:a")), frame(Buffer.from([0xff, 0xff, 0xff]))]) });
        assert.equal(r.trailers?.["grpc-status"], String(Code.Internal));
        assert.match(decodeURIComponent(String(r.trailers?.["grpc-message"])), /^parse binary: /);
      });

      test("a truncated envelope: InvalidArgument incomplete envelope", async () => {
        const whole = frame(sv("echo:truncated"));
        const r = await raw(server.url, { body: whole.subarray(0, whole.length - 2) });
        assertErrorShape(r, Code.InvalidArgument, "protocol error: incomplete envelope");
      });

      test("a message followed by a partial envelope: InvalidArgument incomplete envelope", async () => {
        const r = await raw(server.url, { body: Buffer.concat([frame(sv("echo:a")), Buffer.from([0, 0, 0])]) });
        assertErrorShape(r, Code.InvalidArgument, "protocol error: incomplete envelope");
      });

      test("an unparseable message: Internal parse binary, reported before a trailing partial envelope", async () => {
        const bad = frame(Buffer.from([0x0a, 0x05, 0x61]));
        for (const body of [bad, Buffer.concat([bad, Buffer.from([0, 0])])]) {
          const r = await raw(server.url, { body });
          assert.equal(r.trailers?.["grpc-status"], String(Code.Internal));
          assert.match(decodeURIComponent(String(r.trailers?.["grpc-message"])), /^parse binary: /);
          assert.equal(r.data.length, 0);
        }
      });

      test("invalid JSON with application/grpc+json: InvalidArgument", async () => {
        const r = await raw(server.url, { contentType: "application/grpc+json", body: frame(Buffer.from("{nope")) });
        assert.equal(r.trailers?.["grpc-status"], String(Code.InvalidArgument));
        assert.equal(r.data.length, 0);
      });

      test("writeMaxBytes: a response above it is ResourceExhausted", async () => {
        const r = await raw(server.url, { body: frame(sv(`big:${WRITE_MAX}`)) });
        assertErrorShape(r, Code.ResourceExhausted, `message size ${WRITE_MAX + 3} is larger than configured writeMaxBytes ${WRITE_MAX}`);
      });

      test("HTTP-level rejections are unchanged: unsupported content-type 415, GET 405", async () => {
        const bad = await raw(server.url, { contentType: "application/grpc+xml" });
        assert.equal(bad.httpStatus, 415);
        const get = await raw(server.url, { method: "GET", body: Buffer.alloc(0) });
        assert.equal(get.httpStatus, 405);
      });
    });

    describe("ctx.signal", () => {
      test("is aborted (AbortError) once a successful call completes", async () => {
        const id = nextCallId();
        await client.unary({ value: "echo:done" }, { headers: { "x-call-id": id } });
        const ctx = seen.get(id)!;
        assert.equal(ctx.signal.aborted, true);
        assert.equal((ctx.signal.reason as Error).name, "AbortError");
      });

      test("is aborted when the call ends, before the response ends (not only when the stream closes)", async () => {
        const ok = await raw(server.url, { body: frame(sv("abort-listener")) });
        assert.equal(assertOk(ok).value, "listening");
        assert.equal(ok.trailers?.["x-aborted"], "before trailers");
        const failed = await raw(server.url, { body: frame(sv("abort-listener-error")) });
        assert.equal(assertErrorShape(failed, Code.DataLoss, "failed")["x-aborted"], "before trailers");
      });

      test("is aborted with a Canceled error when the client resets the stream", async () => {
        const id = nextCallId();
        await raw(server.url, {
          headers: { "x-call-id": id },
          body: frame(sv("wait-signal")),
          onSent(req) {
            const poll = setInterval(() => {
              if (started.has(id)) {
                clearInterval(poll);
                req.close(http2.constants.NGHTTP2_CANCEL);
              }
            }, 5);
          },
        });
        for (let i = 0; i < 100 && !seen.get(id)?.signal.aborted; i++) await sleep(10);
        const reason = seen.get(id)!.signal.reason;
        assert.ok(reason instanceof lib.ConnectError, `a ConnectError, got ${String(reason)}`);
        assert.equal((reason as esmConnect.ConnectError).code, Code.Canceled);
      });

      test("is aborted by the server's shutdown signal with its reason", async () => {
        const id = nextCallId();
        const call = raw(shutdown.url, { headers: { "x-call-id": id }, body: frame(sv("wait-signal")) });
        for (let i = 0; i < 100 && !started.has(id); i++) await sleep(10);
        shutdownController.abort(new lib.ConnectError("server is shutting down", Code.Unavailable));
        assertErrorShape(await call, Code.Unavailable, "server is shutting down");
        assert.equal((seen.get(id)!.signal.reason as esmConnect.ConnectError).code, Code.Unavailable);
      });

      test("the Connect protocol (unary JSON) also aborts it after success", async () => {
        const connect = createClient(TestService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
        const id = nextCallId();
        assert.equal((await connect.unary({ value: "echo:c" }, { headers: { "x-call-id": id } })).value, "c");
        assert.equal(seen.get(id)!.signal.aborted, true);
        assert.equal((seen.get(id)!.signal.reason as Error).name, "AbortError");
      });
    });

    describe("streaming methods keep the streaming path", () => {
      test("server streaming: messages, headers, trailers", async () => {
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        const got: string[] = [];
        for await (const m of client.serverStream({ value: "s" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) })) {
          got.push(m.value);
        }
        assert.deepEqual(got, ["s-1", "s-2", "s-3"]);
        assert.equal(header?.get("x-stream-header"), "s1");
        assert.equal(trailer?.get("x-stream-trailer"), "s2");
        assert.equal(trailer?.get("x-interceptor-trailer"), "saw stream");
      });

      test("server streaming: an error after two messages arrives after them", async () => {
        const got: string[] = [];
        await rejects(
          (async () => {
            for await (const m of client.serverStream({ value: "fail" })) got.push(m.value);
          })(),
          Code.DataLoss,
          "stream failed",
        );
        assert.deepEqual(got, ["fail-1", "fail-2"]);
      });

      test("server streaming with no request message: Unimplemented", async () => {
        const r = await raw(server.url, { path: "/fastpath.v1.TestService/ServerStream", body: Buffer.alloc(0) });
        assertErrorShape(r, Code.Unimplemented, "protocol error: missing input message for server-streaming method");
      });

      test("client streaming and bidi", async () => {
        async function* three() {
          yield { value: "a" };
          yield { value: "b" };
          yield { value: "c" };
        }
        assert.equal((await client.clientStream(three())).value, "a,b,c");
        const got: string[] = [];
        for await (const m of client.bidi(three())) got.push(m.value);
        assert.deepEqual(got, ["echo a", "echo b", "echo c"]);
      });
    });
  });
}

describe("the connect patch is installed (patches/@connectrpc+connect+2.2.0.patch)", () => {
  test("both builds of @connectrpc/connect carry the gRPC unary fast path", () => {
    for (const build of ["esm", "cjs"]) {
      const file = require.resolve(`@connectrpc/connect`).replace(/dist\/cjs\/index\.js$/, `dist/${build}/protocol-grpc/handler-factory.js`);
      const source = readFileSync(file, "utf8");
      assert.match(source, /function createUnaryHandler\(/, `${file} has the unary fast path`);
      const impl = readFileSync(file.replace(/protocol-grpc\/handler-factory\.js$/, "implementation.js"), "utf8");
      assert.match(impl, /init\.timeoutMs === undefined/, `${build} implementation.js skips the idle deadline`);
    }
  });

  for (const flavor of ["connect-node esm", "connect-node cjs"] as const) {
    test(`${flavor}: completed calls are aborted with one preallocated reason, not a new DOMException each`, async () => {
      const server = await startServer(flavor);
      try {
        const client = createClient(TestService, createGrpcTransport({ baseUrl: server.url }));
        const ids = [nextCallId(), nextCallId()];
        for (const id of ids) await client.unary({ value: "echo:x" }, { headers: { "x-call-id": id } });
        const [a, b] = ids.map((id) => seen.get(id)!.signal.reason as Error);
        assert.equal(a!.name, "AbortError");
        assert.equal(a, b, "the same reason object for every completed call");
      } finally {
        await server.close();
      }
    });
  }
});
