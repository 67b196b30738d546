import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { createPostgresDatabase, postgresUrl, tempDir } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServiceProcess, type ServiceProcess } from "../support/process.js";

const ns = { headers: { "containerd-namespace": "cluster" } };
const placementExits = fileURLToPath(new URL("../support/placement-exits.ts", import.meta.url));

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

  it("the primary outlives telling a worker where to serve connections just as that worker exits", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", placementExits], { timeout: 30_000 });
    assert.match(stdout, /outlived both workers/);
  });

  it("gathers the unix socket's HTTP/2 connections on one worker while the load is light, spreads them while it is heavy, and no call fails", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const dir = tempDir("ims-placement-");
    const socket = join(dir.path, "s.sock");
    let service: ServiceProcess | undefined;
    try {
      const running = (service = await startServiceProcess({ DATABASE_URL: created.url, WORKERS: "2", SOCKET: socket, LOG_LEVEL: "debug" }));
      await waitForOutput(running, /"pid":(\d+),[^\n]*also serving on unix socket/, 2);
      const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("p"), size: 1n };
      const setup = createClient(Images, grpcUnixTransport(socket));
      for (let i = 0; i < 100; i++) {
        await Promise.all(Array.from({ length: 50 }, (_, j) => setup.create({ image: { name: `p/${i * 50 + j}`, target } }, ns)));
      }

      // Each client its own connection; node:cluster deals them to the workers in turn.
      const clients = Array.from({ length: 4 }, () => createClient(Images, grpcUnixTransport(socket)));
      const gets = () => Promise.all(clients.map((client) => client.get({ name: "p/7" }, ns)));
      const movedBy = () => ({
        from: new Set([...running.output().matchAll(/"pid":(\d+),[^\n]*connection on the unix socket handed over/g)].map((m) => m[1])),
        to: new Set([...running.output().matchAll(/"pid":(\d+),[^\n]*connection on the unix socket adopted/g)].map((m) => m[1])),
      });
      for (const answer of await gets()) assert.equal(answer.image?.name, "p/7");
      await waitForOutput(running, /(adopted)/, 1);
      const gathered = movedBy();
      assert.equal(gathered.to.size, 1, "connections go to one worker");
      assert.ok(![...gathered.from].some((pid) => gathered.to.has(pid)), "and only from the other");
      for (const answer of await gets()) assert.equal(answer.image?.name, "p/7");

      // Lists of 5,000 images filtered by a pattern, four at a time on each connection, keep the one
      // worker busy: the server matches every name, the client gets no image back.
      const handedOverBefore = [...running.output().matchAll(/handed over/g)].length;
      let listing = true;
      const lists = clients.flatMap((client) =>
        Array.from({ length: 4 }, async () => {
          while (listing) assert.equal((await client.list({ filters: ['name~="^p/(1|2|3)+9[0-9]*x$"'] }, ns)).images.length, 0);
        }),
      );
      try {
        await waitForOutput(running, /unix socket connections (spread)/, 1);
        await waitForOutput(running, /worker \d+ (asked to hand over) [1-9]\d* unix socket connection/, 1);
        await waitForOutput(running, /(handed over)/, handedOverBefore + 1);
      } finally {
        listing = false;
        await Promise.all(lists);
      }
      const [home] = gathered.to;
      assert.ok(movedBy().from.has(home!), "the busy worker handed connections over");
      await waitForOutput(running, /unix socket connections (gather) on worker/, 1);
      for (const answer of await gets()) assert.equal(answer.image?.name, "p/7");
      assert.doesNotMatch(running.output(), /"level":[56]0/);

      const stopped = await running.stop("SIGTERM");
      assert.equal(stopped.code, 0, running.output());
    } finally {
      if (service?.child.exitCode === null) await service.stop("SIGKILL");
      dir.remove();
      await created.drop();
    }
  });
});
