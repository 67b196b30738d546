import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { ctr, CTR_BIN } from "../support/ctr.js";
import { serverBackend, tempDir, type TestDatabase } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServer, type RunningServer } from "../support/server.js";

const ctrMissing = !existsSync(CTR_BIN);
if (ctrMissing) {
  if (process.env.CI) throw new Error(`${CTR_BIN} is missing: CI must install containerd (scripts/install-system-deps.sh)`);
  console.warn(`\n*** WARNING: ${CTR_BIN} is not installed: the ctr end-to-end tests were NOT run ***\n`);
}

const target = (seed: string) => ({ mediaType: INDEX_MEDIA_TYPE, digest: digestOf(seed), size: 2048n, annotations: {} });
const lines = (text: string) => text.split("\n").filter(Boolean);

describe("ctr against the service", { skip: ctrMissing }, () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  const dir = tempDir("ims-ctr-");
  const socket = join(dir.path, "s.sock");
  let images: ReturnType<typeof createClient<typeof Images>>;
  const run = (namespace: string, ...args: string[]) => ctr(socket, namespace, args);
  const get = (namespace: string, name: string) =>
    images.get({ name }, { headers: { "containerd-namespace": namespace } }).then((r) => r.image);

  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db, socket);
    images = createClient(Images, grpcUnixTransport(socket));
    for (const [namespace, name, env] of [
      ["team-a", "docker.io/library/redis:7", "prod"],
      ["team-a", "docker.io/library/alpine:3", "dev"],
      ["team-b", "ghcr.io/b/app:1", "prod"],
    ] as const) {
      await images.create({ image: { name, target: target(name), labels: { env } } }, { headers: { "containerd-namespace": namespace } });
    }
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
    dir.remove();
  });

  it("images ls -q lists each namespace's names, in order", async () => {
    const a = await run("team-a", "images", "ls", "-q");
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(lines(a.stdout), ["docker.io/library/alpine:3", "docker.io/library/redis:7"]);
    assert.deepEqual(lines((await run("team-b", "images", "ls", "-q")).stdout), ["ghcr.io/b/app:1"]);
  });

  it("images ls prints the table with digest, size and labels", async () => {
    const result = await run("team-a", "images", "ls");
    assert.equal(result.code, 0, result.stderr);
    const [header, ...rows] = lines(result.stdout);
    assert.match(header!, /^REF\s+TYPE\s+DIGEST\s+SIZE\s+PLATFORMS\s+LABELS/);
    const redis = rows.find((row) => row.startsWith("docker.io/library/redis:7"));
    assert.ok(redis, result.stdout);
    assert.match(redis, new RegExp(`${INDEX_MEDIA_TYPE.replace(/[.+]/g, "\\$&")}\\s+${digestOf("docker.io/library/redis:7")}\\s+2\\.0 KiB`));
    assert.match(redis, /env=prod/);
  });

  it("images ls with a filter", async () => {
    const result = await run("team-a", "images", "ls", "-q", "labels.env==prod");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), ["docker.io/library/redis:7"]);
  });

  it("images label sets and removes labels", async () => {
    const set = await run("team-a", "images", "label", "docker.io/library/redis:7", "team=core", "tier=1");
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual((await get("team-a", "docker.io/library/redis:7"))?.labels, { env: "prod", team: "core", tier: "1" });
    const removed = await run("team-a", "images", "label", "docker.io/library/redis:7", "tier=");
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await get("team-a", "docker.io/library/redis:7"))?.labels, { env: "prod", team: "core" });
    const missing = await run("team-a", "images", "label", "missing:1", "a=b");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /image "missing:1": not found/);
  });

  it("images tag copies the target under a new name, and --force replaces it", async () => {
    const tagged = await run("team-a", "images", "tag", "docker.io/library/redis:7", "redis:latest");
    assert.equal(tagged.code, 0, tagged.stderr);
    assert.deepEqual(lines(tagged.stdout), ["redis:latest"]);
    assert.equal((await get("team-a", "redis:latest"))?.target?.digest, digestOf("docker.io/library/redis:7"));

    const again = await run("team-a", "images", "tag", "docker.io/library/alpine:3", "redis:latest");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /image "redis:latest": already exists/);
    const forced = await run("team-a", "images", "tag", "--force", "docker.io/library/alpine:3", "redis:latest");
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await get("team-a", "redis:latest"))?.target?.digest, digestOf("docker.io/library/alpine:3"));
    // ctr wraps the tag in a lease and deletes it afterwards.
    const leases = await run("team-a", "leases", "ls", "-q");
    assert.deepEqual(lines(leases.stdout), []);
  });

  it("images rm deletes, and warns about a missing image", async () => {
    const removed = await run("team-a", "images", "rm", "redis:latest");
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(lines(removed.stdout), ["redis:latest"]);
    const error = await get("team-a", "redis:latest").then(() => null, (e: unknown) => ConnectError.from(e));
    assert.equal(error?.code, Code.NotFound);
    const missing = await run("team-a", "images", "rm", "missing:1");
    assert.equal(missing.code, 0);
    assert.match(missing.stderr, /missing:1: image not found/);
  });

  it("namespaces ls lists every namespace written to", async () => {
    const result = await run("team-a", "namespaces", "ls", "-q");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), ["team-a", "team-b"]);
    const table = await run("team-a", "namespaces", "ls");
    assert.match(lines(table.stdout)[0]!, /^NAME\s+LABELS/);
  });

  it("an invalid namespace is an invalid argument", async () => {
    const result = await run("bad/ns", "images", "ls", "-q");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /namespace "bad\/ns" must match .*: invalid argument/);
  });
});
