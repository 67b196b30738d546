import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { createPostgresDatabase, postgresUrl, tempDir } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServiceProcess, type ServiceProcess } from "../support/process.js";

const ns = { headers: { "containerd-namespace": "cluster" } };

async function waitForOutput(service: ServiceProcess, pattern: RegExp, count: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const found = [...service.output().matchAll(new RegExp(pattern, "g"))].map((m) => m[1]!);
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`expected ${count} x ${pattern} in:\n${service.output()}`);
}

describe("WORKERS: several processes on one port and socket", () => {
  it("refuses WORKERS above 1 on the embedded database", async () => {
    const dataDir = tempDir("ims-w-");
    try {
      await assert.rejects(startServiceProcess({ WORKERS: "2", DATA_DIR: dataDir.path }), /WORKERS above 1 needs DATABASE_URL/);
    } finally {
      dataDir.remove();
    }
  });

  it("serves from every worker, replaces one that dies, and drains all on SIGTERM", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const dir = tempDir("ims-cluster-");
    const socket = join(dir.path, "s.sock");
    try {
      const service = await startServiceProcess({ DATABASE_URL: created.url, WORKERS: "2", SOCKET: socket });
      const workers = await waitForOutput(service, /"pid":(\d+),[^\n]*also serving on unix socket/, 2);
      assert.equal(new Set(workers).size, 2);

      const overTcp = createClient(Images, createGrpcTransport({ baseUrl: service.baseUrl }));
      const overSocket = createClient(Images, grpcUnixTransport(socket));
      const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("c"), size: 1n };
      await overTcp.create({ image: { name: "c", target } }, ns);
      assert.equal((await overSocket.get({ name: "c" }, ns)).image?.name, "c");

      process.kill(Number(workers[0]), "SIGKILL");
      await waitForOutput(service, /(died) \(exit SIGKILL\); starting another/, 1);
      await waitForOutput(service, /"pid":(\d+),[^\n]*also serving on unix socket/, 3);
      const again = createClient(Images, createGrpcTransport({ baseUrl: service.baseUrl }));
      assert.equal((await again.get({ name: "c" }, ns)).image?.name, "c");

      const stopped = await service.stop("SIGTERM");
      assert.equal(stopped.code, 0, service.output());
      assert.ok(stopped.ms < 5_000, `took ${stopped.ms} ms`);
    } finally {
      dir.remove();
      await created.drop();
    }
  });
});
