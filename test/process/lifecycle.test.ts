import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/v1/images_pb.js";
import { tempDir } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { startServiceProcess } from "../support/process.js";
import { closedPort } from "../support/tcp-proxy.js";

const image = { name: "kept", target: { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("kept"), size: 5n } };

describe("the service process on the embedded database", () => {
  it("keeps images across a restart on the same data folder, and stops cleanly on SIGTERM", async () => {
    const dataDir = tempDir("ims-restart-");
    try {
      const first = await startServiceProcess({ DATA_DIR: dataDir.path });
      const client = createClient(Images, createGrpcTransport({ baseUrl: first.baseUrl }));
      await client.put({ image });
      // The HTTP/2 session stays open: shutdown must close it, not wait for it.
      const stopped = await first.stop("SIGTERM");
      assert.equal(stopped.code, 0, first.output());
      assert.ok(stopped.ms < 5_000, `took ${stopped.ms} ms`);

      const second = await startServiceProcess({ DATA_DIR: dataDir.path });
      const again = createClient(Images, createGrpcTransport({ baseUrl: second.baseUrl }));
      assert.equal((await again.get({ name: "kept" })).image?.target?.digest, image.target.digest);
      assert.equal((await second.stop("SIGINT")).code, 0);
    } finally {
      dataDir.remove();
    }
  });

  it("refuses a second process on the same data folder with a clear message", async () => {
    const dataDir = tempDir("ims-lock-");
    try {
      const owner = await startServiceProcess({ DATA_DIR: dataDir.path });
      const intruder = startServiceProcess({ DATA_DIR: dataDir.path });
      await assert.rejects(intruder, /data directory .* is in use by process \d+/);
      assert.equal(owner.child.exitCode, null, "the first process keeps running");
      assert.equal((await owner.stop()).code, 0);
    } finally {
      dataDir.remove();
    }
  });

  it("refuses a bad PORT with a message naming the variable", async () => {
    await assert.rejects(startServiceProcess({ PORT: "eighty" }), /PORT must be an integer/);
  });
});

describe("the service process on Postgres", () => {
  it("refuses to start while Postgres cannot be reached, saying why", async () => {
    const databaseUrl = `postgres://root@127.0.0.1:${await closedPort()}/test`;
    await assert.rejects(
      startServiceProcess({ DATABASE_URL: databaseUrl }),
      /exited with 1 before listening:\ncannot connect to the database: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/,
    );
  });
});
