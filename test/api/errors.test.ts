import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MAX_MESSAGE_LENGTH, toConnectError } from "../../server/api/error-mapping.js";
import { OutageLog } from "../../server/api/outage-log.js";
import { Images } from "../../gen/containerd/v1/images_pb.js";
import { Images as ContainerdImages } from "../../gen/containerd/services/images/v1/images_pb.js";
import { openDatabase } from "../../server/db/open.js";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from "../../server/errors.js";
import { createPostgresDatabase, postgresUrl, serverBackend } from "../support/database.js";
import { digestOf, eventually, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { startServer } from "../support/server.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

/** toConnectError as one interceptor applies it, with what it logged. */
function recordingMapper() {
  const logged: object[] = [];
  const logger = { error: (details: object) => void logged.push(details) };
  const outages = new OutageLog(logger);
  return { logged, map: (error: unknown) => toConnectError(error, logger, outages, "/x") };
}

describe("error mapping", () => {
  it("maps each domain error class to its code, with containerd's suffix once, logging only Unavailable", () => {
    const { logged, map } = recordingMapper();
    const cases: Array<[Error, Code, string]> = [
      [new InvalidArgumentError("bad"), Code.InvalidArgument, "bad: invalid argument"],
      [new NotFoundError('image "x": not found'), Code.NotFound, 'image "x": not found'],
      [new AlreadyExistsError("dup"), Code.AlreadyExists, "dup: already exists"],
      [new FailedPreconditionError("namespace is required"), Code.FailedPrecondition, "namespace is required: failed precondition"],
      [new ResourceExhaustedError("too many"), Code.ResourceExhausted, "too many: resource exhausted"],
      [new UnavailableError("database connection lost"), Code.Unavailable, "database connection lost: unavailable"],
    ];
    for (const [error, code, message] of cases) {
      const mapped = map(error);
      assert.equal(mapped.code, code);
      assert.equal(mapped.rawMessage, message);
    }
    // Only the database being away concerns the operator.
    assert.equal(logged.length, 1);
  });

  it("shortens a long message in the middle, keeping what failed and why", () => {
    const { logged, map } = recordingMapper();
    const long = map(new NotFoundError(`image "${"n".repeat(20_000)}": not found`));
    assert.equal(long.code, Code.NotFound);
    assert.ok(long.rawMessage.length <= MAX_MESSAGE_LENGTH, `${long.rawMessage.length} characters`);
    assert.match(long.rawMessage, /^image "n+ … n+": not found$/);

    // Cut between code points, never inside a surrogate pair.
    for (const filler of ["😀", "a😀", "aa😀"]) {
      const message = map(new InvalidArgumentError(filler.repeat(2_000))).rawMessage;
      assert.ok(message.length <= MAX_MESSAGE_LENGTH);
      assert.equal(Buffer.from(message).toString(), message, "no lone surrogate");
      assert.ok(message.endsWith(": invalid argument"));
    }

    const connectError = new ConnectError("x".repeat(10_000), Code.ResourceExhausted);
    const shortened = map(connectError);
    assert.equal(shortened.code, Code.ResourceExhausted);
    assert.ok(shortened.rawMessage.length <= MAX_MESSAGE_LENGTH);
    const short = new ConnectError("short", Code.Canceled);
    assert.equal(map(short), short);
    assert.equal(logged.length, 0);
  });

  it("answers an unexpected failure as Internal without internals, and logs it", async () => {
    const testDb = await serverBackend.open();
    const server = await startServer(testDb.db);
    const client = createClient(Images, createGrpcTransport({ baseUrl: server.baseUrl }));
    try {
      await testDb.db.close();
      const error = await client.get({ name: "x" }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(error.code, Code.Internal);
      assert.equal(error.rawMessage, "internal error");
      assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 503);
    } finally {
      await server.close();
      await testDb.dispose();
    }
  });

  it("answers Unavailable while its database is away, and serves again once it is back", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const direct = new URL(created.url);
    const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(created.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const db = await openDatabase({ databaseUrl: viaProxy.toString(), dataDir: "" });
    const logLines: string[] = [];
    const stream = new Writable({ write: (chunk, _encoding, done) => done(void logLines.push(String(chunk))) });
    const server = await startServer(db, undefined, { logger: { level: "error", stream } });
    const images = createClient(ContainerdImages, createGrpcTransport({ baseUrl: server.baseUrl }));
    const options = { headers: { "containerd-namespace": "outage" } };
    const image = (name: string) => ({ image: { name, target: { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(1), size: 10n } } });
    const failure = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    try {
      await images.create(image("kept"), options);
      await proxy.cut();

      // Gets are answered from memory only while changes are heard.
      const get = await eventually(() => failure(images.get({ name: "kept" }, options)), "a Get to fail");
      const create = await failure(images.create(image("new"), options));
      for (const error of [get, create]) {
        assert.equal(error?.code, Code.Unavailable);
        assert.match(error.rawMessage, /^(database connection lost|cannot connect to the database): unavailable$/);
      }
      assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 503);
      assert.deepEqual(
        logLines.map((line) => (JSON.parse(line) as { msg: string }).msg),
        ["database unavailable"],
        "the outage logged once, not once per failed call",
      );

      await proxy.restore();
      await eventually(() => images.get({ name: "kept" }, options).catch(() => undefined), "Gets to be answered again", 15_000);
      await images.create(image("new"), options);
      const { images: listed } = await images.list({}, options);
      assert.deepEqual(
        listed.map((i) => i.name),
        ["kept", "new"],
        "nothing lost, nothing half-written",
      );
      assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
    } finally {
      await server.close();
      await db.close();
      await proxy.close();
      await created.drop();
    }
  });
});
