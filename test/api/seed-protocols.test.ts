import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/v1/images_pb.js";
import { serverBackend, tempDir, type TestDatabase } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServer, type RunningServer } from "../support/server.js";

const target = (seed: string, size = 1234n) => ({ mediaType: INDEX_MEDIA_TYPE, digest: digestOf(seed), size, annotations: {} });
const inNamespace = (namespace: string) => ({ headers: { "containerd-namespace": namespace } });

async function expectCode(call: Promise<unknown>, code: Code, messagePart?: string) {
  const error = await call.then(() => assert.fail(`expected ${Code[code]}`), (e: unknown) => ConnectError.from(e));
  assert.equal(error.code, code, `${Code[error.code]}: ${error.rawMessage}`);
  if (messagePart !== undefined) assert.match(error.rawMessage, new RegExp(messagePart));
}

/** Drives every seed RPC, success and error codes, through one transport. */
async function exerciseSeedApi(client: Client<typeof Images>, namespace: string) {
  const ns = inNamespace(namespace);
  await client.put({ image: { name: "redis:7", target: target("redis") } }, ns);
  await client.put({ image: { name: "alpine:3", target: target("alpine", 2n ** 63n - 1n), labels: { env: "prod" } } }, ns);
  await client.put({ image: { name: "redis:7", target: target("redis-new") } }, ns);

  const { image } = await client.get({ name: "redis:7" }, ns);
  assert.equal(image?.target?.digest, digestOf("redis-new"));
  assert.ok(image?.createdAt && image.updatedAt);

  const listed = await client.list({}, ns);
  assert.deepEqual(listed.images.map((i) => i.name), ["alpine:3", "redis:7"]);
  assert.equal(listed.images[0]?.target?.size, 2n ** 63n - 1n);
  const filtered = await client.list({ filters: ["labels.env==prod"] }, ns);
  assert.deepEqual(filtered.images.map((i) => i.name), ["alpine:3"]);

  await client.delete({ name: "redis:7" }, ns);
  await expectCode(client.get({ name: "redis:7" }, ns), Code.NotFound, '^image "redis:7": not found$');
  await expectCode(client.delete({ name: "redis:7" }, ns), Code.NotFound, "not found");
  await expectCode(client.put({ image: { name: "", target: target("x") } }, ns), Code.InvalidArgument, "image.name");
  await expectCode(client.put({ image: { name: "x", target: { ...target("x"), digest: "sha256:abc" } } }, ns), Code.InvalidArgument, "digest");
  await expectCode(client.put({ image: { name: "x", target: { ...target("x"), size: 0n } } }, ns), Code.InvalidArgument, "size");
  await expectCode(client.put({ image: { name: "x", target: { ...target("x"), mediaType: "" } } }, ns), Code.InvalidArgument, "media_type");
  await expectCode(client.list({ filters: ["name=x"] }, ns), Code.InvalidArgument, "parse error");
  await expectCode(client.get({ name: "x" }, inNamespace("bad namespace")), Code.InvalidArgument, "namespace");
  await expectCode(client.get({ name: "alpine:3" }, inNamespace(`${namespace}-other`)), Code.NotFound);
}

describe("seed API over every protocol on one port", () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  const socketDir = tempDir("ims-sock-");
  const socketPath = join(socketDir.path, "s.sock");
  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db, socketPath);
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
    socketDir.remove();
  });

  const onSocket = () => ({
    baseUrl: "http://localhost",
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    idleConnectionTimeoutMs: 1_000,
  });
  const transports: Record<string, () => Transport> = {
    "gRPC (HTTP/2)": () => createGrpcTransport({ baseUrl: server.baseUrl }),
    "gRPC-Web (HTTP/1.1)": () => createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
    "gRPC-Web (HTTP/2)": () => createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "2" }),
    "Connect binary (HTTP/1.1)": () =>
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    "Connect JSON (HTTP/2)": () => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2" }),
    "gRPC over the unix socket": () => grpcUnixTransport(socketPath),
    "gRPC, gzip-compressed, over the unix socket": () => createGrpcTransport({ ...onSocket(), sendCompression: compressionGzip }),
    "gRPC-Web (HTTP/2) over the unix socket": () => createGrpcWebTransport({ ...onSocket(), httpVersion: "2" }),
    "Connect JSON (HTTP/2) over the unix socket": () => createConnectTransport({ ...onSocket(), httpVersion: "2" }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    it(`serves Get, Put, List, Delete over ${name}`, async () => {
      await exerciseSeedApi(createClient(Images, transport()), name.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, ""));
    });
  }

  it("works without the namespace header, in namespace default", async () => {
    const client = createClient(Images, createGrpcTransport({ baseUrl: server.baseUrl }));
    await client.put({ image: { name: "no-header", target: target("nh") } });
    const { image } = await client.get({ name: "no-header" }, inNamespace("default"));
    assert.equal(image?.name, "no-header");
  });

  it("answers an unknown gRPC method with status 12 Unimplemented, on the port and on the unix socket", async () => {
    const unknownService = { ...Images, typeName: "nope.v1.Nothing" };
    const method = { ...Images.method.get, parent: unknownService };
    for (const transport of [createGrpcTransport({ baseUrl: server.baseUrl }), grpcUnixTransport(socketPath)]) {
      await expectCode(transport.unary(method, undefined, undefined, undefined, { name: "x" }), Code.Unimplemented);
    }
  });

  it("goes on serving after clients reset their connections before their first byte or within it", async () => {
    const { port } = new URL(server.baseUrl);
    for (const firstBytes of ["", "PRI * HTTP/2.0\r\n", "GET / HT"]) {
      const socket = net.connect(Number(port), "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      if (firstBytes) await new Promise((resolve) => socket.write(firstBytes, resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.resetAndDestroy();
      await new Promise((resolve) => socket.once("close", resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const client = createClient(Images, createGrpcTransport({ baseUrl: server.baseUrl }));
    await expectCode(client.get({ name: "reset-after" }, inNamespace("resets")), Code.NotFound);
  });

  it("serves the health check over HTTP/2 and HTTP/1.1 on the unix socket", async () => {
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = session.request({ ":method": "GET", ":path": "/healthz" });
        let status = 0;
        let body = "";
        request.on("response", (headers) => (status = Number(headers[":status"])));
        request.on("data", (chunk: Buffer) => (body += chunk));
        request.on("end", () => resolve({ status, body }));
        request.on("error", reject);
        request.end();
      });
      assert.deepEqual(answer, { status: 200, body: JSON.stringify({ status: "ok" }) });
    } finally {
      session.close();
    }
    const overHttp1 = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      http.get({ socketPath, path: "/healthz" }, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode, body }));
      }).on("error", reject);
    });
    assert.deepEqual(overHttp1, { status: 200, body: JSON.stringify({ status: "ok" }) });
  });
});
