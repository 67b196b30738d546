import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MAX_MESSAGE_LENGTH, toConnectError } from "../../server/api/error-mapping.js";
import { Images } from "../../gen/containerd/v1/images_pb.js";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
} from "../../server/errors.js";
import { serverBackend } from "../support/database.js";
import { startServer } from "../support/server.js";

function recordingLogger() {
  const logged: object[] = [];
  return { logged, error: (details: object) => void logged.push(details) };
}

describe("error mapping", () => {
  it("maps each domain error class to its code, with containerd's suffix once", () => {
    const logger = recordingLogger();
    const cases: Array<[Error, Code, string]> = [
      [new InvalidArgumentError("bad"), Code.InvalidArgument, "bad: invalid argument"],
      [new NotFoundError('image "x": not found'), Code.NotFound, 'image "x": not found'],
      [new AlreadyExistsError("dup"), Code.AlreadyExists, "dup: already exists"],
      [new FailedPreconditionError("namespace is required"), Code.FailedPrecondition, "namespace is required: failed precondition"],
      [new ResourceExhaustedError("too many"), Code.ResourceExhausted, "too many: resource exhausted"],
    ];
    for (const [error, code, message] of cases) {
      const mapped = toConnectError(error, logger, "/x");
      assert.equal(mapped.code, code);
      assert.equal(mapped.rawMessage, message);
    }
    assert.equal(logger.logged.length, 0);
  });

  it("shortens a long message in the middle, keeping what failed and why", () => {
    const logger = recordingLogger();
    const long = toConnectError(new NotFoundError(`image "${"n".repeat(20_000)}": not found`), logger, "/x");
    assert.equal(long.code, Code.NotFound);
    assert.ok(long.rawMessage.length <= MAX_MESSAGE_LENGTH, `${long.rawMessage.length} characters`);
    assert.match(long.rawMessage, /^image "n+ … n+": not found$/);

    // Cut between code points, never inside a surrogate pair.
    for (const filler of ["😀", "a😀", "aa😀"]) {
      const message = toConnectError(new InvalidArgumentError(filler.repeat(2_000)), logger, "/x").rawMessage;
      assert.ok(message.length <= MAX_MESSAGE_LENGTH);
      assert.equal(Buffer.from(message).toString(), message, "no lone surrogate");
      assert.ok(message.endsWith(": invalid argument"));
    }

    const connectError = new ConnectError("x".repeat(10_000), Code.ResourceExhausted);
    const shortened = toConnectError(connectError, logger, "/x");
    assert.equal(shortened.code, Code.ResourceExhausted);
    assert.ok(shortened.rawMessage.length <= MAX_MESSAGE_LENGTH);
    const short = new ConnectError("short", Code.Canceled);
    assert.equal(toConnectError(short, logger, "/x"), short);
    assert.equal(logger.logged.length, 0);
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
});
