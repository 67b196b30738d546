import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { FastifyInstance } from "fastify";
import { build } from "../../server/app.js";
import { serverBackend, tempDir, type TestDatabase } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServer, type RunningServer } from "../support/server.js";

const SERVED = [
  "containerd.services.images.v1.Images",
  "containerd.services.leases.v1.Leases",
  "containerd.services.namespaces.v1.Namespaces",
  "containerd.v1.Images",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];
const IMAGES_FILE = "containerd/services/images/v1/images.proto";
const IMAGES_CLOSURE = [
  IMAGES_FILE,
  "containerd/types/descriptor.proto",
  "google/protobuf/empty.proto",
  "google/protobuf/field_mask.proto",
  "google/protobuf/timestamp.proto",
];

/** A request in either version's shape (they differ only in package name). */
type Ask = {
  host?: string;
  messageRequest:
    | { case: "listServices" | "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } };
};
type Answer = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;
type Reflect = (asks: AsyncIterable<Ask>) => AsyncIterable<Answer>;

const listServices = (): Ask => ({ messageRequest: { case: "listServices", value: "*" } });
const bySymbol = (value: string): Ask => ({ messageRequest: { case: "fileContainingSymbol", value } });
const byFile = (value: string): Ask => ({ messageRequest: { case: "fileByFilename", value } });

function reflectVia(version: "v1" | "v1alpha", transport: Transport): Reflect {
  if (version === "v1") {
    const client = createClient(v1.ServerReflection, transport);
    return (asks) => client.serverReflectionInfo(asks);
  }
  const client = createClient(v1alpha.ServerReflection, transport);
  return (asks) => client.serverReflectionInfo(asks);
}

/** Sends every request on one stream, closes it, and collects the answers. */
async function exchange(reflect: Reflect, ...asks: Ask[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  for await (const answer of reflect((async function* () { yield* asks; })())) answers.push(answer);
  return answers;
}

/** A request stream the test writes to while reading answers. */
function channel<T>() {
  const queued: T[] = [];
  let wake = () => {};
  let closed = false;
  return {
    push: (item: T) => (queued.push(item), wake()),
    close: () => ((closed = true), wake()),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queued.length > 0) yield queued.shift()!;
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

function services(answer: Answer | undefined): string[] {
  assert.equal(answer?.messageResponse.case, "listServicesResponse");
  return answer.messageResponse.value.service.map((s) => s.name).sort();
}

function files(answer: Answer | undefined): FileDescriptorProto[] {
  assert.equal(answer?.messageResponse.case, "fileDescriptorResponse", JSON.stringify(answer?.messageResponse));
  return answer.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

function notFound(answer: Answer | undefined, messagePart: string) {
  assert.equal(answer?.messageResponse.case, "errorResponse");
  assert.equal(answer.messageResponse.value.errorCode, 5);
  assert.match(answer.messageResponse.value.errorMessage, new RegExp(messagePart));
}

/** Runs `npx buf curl`; code is its exit code (an RPC error exits with the gRPC code << 3). */
function bufCurl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("npx", ["buf", "curl", ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("gRPC server reflection", () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  let grpc: Transport;
  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db);
    grpc = createGrpcTransport({ baseUrl: server.baseUrl });
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
  });

  for (const version of ["v1", "v1alpha"] as const) {
    describe(`grpc.reflection.${version} over gRPC`, () => {
      const reflect = () => reflectVia(version, grpc);

      it("lists every served service, reflection included, echoing host and request", async () => {
        const ask: Ask = { host: "localhost:1234", messageRequest: { case: "listServices", value: "" } };
        const [answer] = await exchange(reflect(), ask);
        assert.deepEqual(services(answer), SERVED);
        assert.equal(answer?.validHost, "localhost:1234");
        assert.equal(answer?.originalRequest?.host, "localhost:1234");
        assert.deepEqual(answer?.originalRequest?.messageRequest, ask.messageRequest);
      });

      it("answers file_containing_symbol with the file and its imports, each once", async () => {
        const symbols = [
          "containerd.services.images.v1.Images",
          "containerd.services.images.v1.Images.Get",
          "containerd.services.images.v1.Image",
          "containerd.services.images.v1.Image.LabelsEntry",
          "containerd.services.images.v1.Image.created_at",
        ];
        const answers = await exchange(reflect(), ...symbols.map(bySymbol));
        assert.equal(answers.length, symbols.length);
        for (const [i, answer] of answers.entries()) {
          assert.equal(answer.originalRequest?.messageRequest.value, symbols[i]);
          const protos = files(answer);
          assert.deepEqual(protos.map((f) => f.name), IMAGES_CLOSURE);
        }
        // The answer is a complete schema: a client can build the service from it.
        const protos = files(answers[0]);
        assert.deepEqual(protos[0]?.dependency, IMAGES_CLOSURE.slice(1));
        const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: protos.toReversed() }));
        const images = registry.getService(Images.typeName);
        assert.deepEqual(images?.methods.map((m) => m.name), ["Get", "List", "Create", "Update", "Delete"]);
        assert.equal(registry.getMessage("google.protobuf.FieldMask")?.fields[0]?.name, "paths");
      });

      it("resolves well-known types and the reflection files themselves", async () => {
        const answers = await exchange(
          reflect(),
          bySymbol("google.protobuf.Timestamp"),
          bySymbol(`grpc.reflection.${version}.ServerReflection.ServerReflectionInfo`),
        );
        assert.deepEqual(files(answers[0]).map((f) => f.name), ["google/protobuf/timestamp.proto"]);
        assert.deepEqual(files(answers[1]).map((f) => f.name), [`grpc/reflection/${version}/reflection.proto`]);
      });

      it("answers file_by_filename", async () => {
        const answers = await exchange(
          reflect(),
          byFile(IMAGES_FILE),
          byFile("google/protobuf/timestamp.proto"),
          byFile("containerd/v1/images.proto"),
        );
        assert.deepEqual(files(answers[0]).map((f) => f.name), IMAGES_CLOSURE);
        assert.deepEqual(files(answers[1]).map((f) => f.name), ["google/protobuf/timestamp.proto"]);
        assert.deepEqual(files(answers[2]).map((f) => f.name), [
          "containerd/v1/images.proto",
          "containerd/v1/types/descriptor.proto",
          "google/protobuf/empty.proto",
          "google/protobuf/timestamp.proto",
        ]);
      });

      it("answers unknown names and extensions with NOT_FOUND in the stream, which stays usable", async () => {
        const answers = await exchange(
          reflect(),
          bySymbol("containerd.services.images.v1.Nope"),
          byFile("nope.proto"),
          { messageRequest: { case: "fileContainingExtension", value: { containingType: "containerd.services.images.v1.Image", extensionNumber: 100 } } },
          { messageRequest: { case: "allExtensionNumbersOfType", value: "no.Such" } },
          { messageRequest: { case: "allExtensionNumbersOfType", value: "containerd.services.images.v1.Image" } },
          listServices(),
        );
        notFound(answers[0], "containerd.services.images.v1.Nope");
        notFound(answers[1], "nope.proto");
        notFound(answers[2], "containerd.services.images.v1.Image");
        notFound(answers[3], "no.Such");
        assert.equal(answers[4]?.messageResponse.case, "allExtensionNumbersResponse");
        assert.deepEqual(answers[4].messageResponse.value.extensionNumber, []);
        assert.equal(answers[4].messageResponse.value.baseTypeName, "containerd.services.images.v1.Image");
        assert.deepEqual(services(answers[5]), SERVED);
      });

      it("answers each request on an open stream before the next is sent", async () => {
        const requests = channel<Ask>();
        const answers = reflect()(requests)[Symbol.asyncIterator]();
        requests.push(listServices());
        assert.deepEqual(services((await answers.next()).value as Answer), SERVED);
        requests.push(bySymbol("containerd.services.leases.v1.Leases.List"));
        const leases = files((await answers.next()).value as Answer);
        assert.deepEqual(leases.map((f) => f.name), [
          "containerd/services/leases/v1/leases.proto",
          "google/protobuf/empty.proto",
          "google/protobuf/timestamp.proto",
        ]);
        requests.push(bySymbol("nope"));
        notFound((await answers.next()).value as Answer, "nope");
        requests.close();
        assert.equal((await answers.next()).done, true);
      });
    });
  }

  it("works over the Connect protocol on HTTP/2", async () => {
    const connect = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2" });
    assert.deepEqual(services((await exchange(reflectVia("v1", connect), listServices()))[0]), SERVED);
  });

  it("refuses the bidi method on HTTP/1.1 with 505 and closes the connection", async () => {
    const response = await fetch(`${server.baseUrl}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    assert.equal(response.status, 505);
    assert.equal(response.headers.get("connection"), "close");
    await response.body?.cancel();
  });

  /** Closes the app while a client keeps a reflection stream open; close must still complete. */
  async function closeWithStreamOpen(app: FastifyInstance, transport: Transport): Promise<void> {
    const requests = channel<Ask>();
    const answers = reflectVia("v1", transport)(requests)[Symbol.asyncIterator]();
    requests.push(listServices());
    assert.deepEqual(services((await answers.next()).value as Answer), SERVED);
    const closed = app.close();
    // The server ends the call once the shutdown timeout aborts it, as Unavailable
    // (retry elsewhere); the client then ends its side.
    const error = await answers.next().then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(error?.code, Code.Unavailable);
    assert.equal(error?.rawMessage, "server is shutting down");
    requests.close();
    await closed;
  }

  it("does not hold up shutdown when a client leaves its stream open", { timeout: 15_000 }, async (t) => {
    const app = await build({ database: testDb.db, logger: { level: "error" }, shutdownTimeoutMs: 100 });
    t.after(() => app.close());
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as { port: number };
    await closeWithStreamOpen(app, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  });

  describe("over the unix socket's own HTTP/2", () => {
    const socketDir = tempDir("ims-refl-");
    const socketPath = join(socketDir.path, "s.sock");
    after(() => socketDir.remove());

    it("answers each request of a bidi stream before the next is sent", async () => {
      const onSocket = await startServer(testDb.db, socketPath);
      try {
        const requests = channel<Ask>();
        const answers = reflectVia("v1", grpcUnixTransport(socketPath))(requests)[Symbol.asyncIterator]();
        requests.push(listServices());
        assert.deepEqual(services((await answers.next()).value as Answer), SERVED);
        requests.push(byFile(IMAGES_FILE));
        assert.equal(files((await answers.next()).value as Answer)[0]?.name, IMAGES_FILE);
        requests.close();
        assert.equal((await answers.next()).done, true);
      } finally {
        await onSocket.close();
      }
    });

    it("does not hold up shutdown when a client leaves its stream open", { timeout: 15_000 }, async (t) => {
      const app = await build({ database: testDb.db, logger: { level: "error" }, shutdownTimeoutMs: 100, socketPath });
      t.after(() => app.close());
      await app.listen({ host: "127.0.0.1", port: 0 });
      await closeWithStreamOpen(app, grpcUnixTransport(socketPath));
    });
  });

  describe("buf curl, with no schema but reflection", () => {
    const h2 = ["--protocol", "grpc", "--http2-prior-knowledge"];

    it("lists services: grpc-v1 first by default, grpc-v1alpha when asked, and over Connect too", async () => {
      for (const flags of [h2, [...h2, "--reflect-protocol", "grpc-v1alpha"], ["--http2-prior-knowledge"]]) {
        const listed = await bufCurl(...flags, "--list-services", server.baseUrl);
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(listed.stdout.trim().split("\n"), SERVED, flags.join(" "));
      }
      const verbose = await bufCurl(...h2, "-v", "--list-services", server.baseUrl);
      assert.match(verbose.stderr, /POST \/grpc\.reflection\.v1\.ServerReflection\/ServerReflectionInfo/);
      assert.doesNotMatch(verbose.stderr, /v1alpha/);
    });

    it("lists methods", async () => {
      const listed = await bufCurl(...h2, "--list-methods", server.baseUrl);
      assert.equal(listed.code, 0, listed.stderr);
      const methods = listed.stdout.trim().split("\n");
      assert.equal(methods.length, 16);
      const expected = ["Create", "Delete", "Get", "List", "Update"].map((m) => `containerd.services.images.v1.Images/${m}`);
      assert.deepEqual(methods.filter((m) => m.startsWith("containerd.services.images.v1.")), expected);
      assert.ok(methods.includes("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
    });

    it("calls Images.Get by reflection: NotFound (exit code 5 << 3), then the image once created", async () => {
      const url = `${server.baseUrl}/containerd.services.images.v1.Images/Get`;
      const missing = await bufCurl(...h2, "-H", "containerd-namespace: refl", "-d", '{"name":"x"}', url);
      assert.equal(missing.code, 5 << 3, missing.stderr);
      assert.deepEqual(JSON.parse(missing.stderr), { code: "not_found", message: 'image "x": not found' });

      const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("refl"), size: 7n };
      await createClient(Images, grpc).create({ image: { name: "x", target } }, { headers: { "containerd-namespace": "refl" } });
      const found = await bufCurl(...h2, "-H", "containerd-namespace: refl", "-d", '{"name":"x"}', url);
      assert.equal(found.code, 0, found.stderr);
      const body = JSON.parse(found.stdout) as { image: { name: string; target: { digest: string; size: string } } };
      assert.equal(body.image.name, "x");
      assert.deepEqual(body.image.target, { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("refl"), size: "7" });
    });

    it("reports a service reflection does not know", async () => {
      const unknown = await bufCurl(...h2, "-d", "{}", `${server.baseUrl}/no.Such/Method`);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /failed to find service named "no\.Such"/);
    });
  });
});
