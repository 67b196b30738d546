import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { Leases } from "../../gen/containerd/services/leases/v1/leases_pb.js";
import { Namespaces } from "../../gen/containerd/services/namespaces/v1/namespaces_pb.js";
import { Images as SeedImages } from "../../gen/containerd/v1/images_pb.js";
import { MAX_MESSAGE_LENGTH } from "../../server/api/error-mapping.js";
import { serverBackend, type TestDatabase } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { startServer, type RunningServer } from "../support/server.js";

const target = (seed: string) => ({ mediaType: INDEX_MEDIA_TYPE, digest: digestOf(seed), size: 99n, annotations: {} });
const ns = (namespace: string) => ({ headers: { "containerd-namespace": namespace } });

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  return call.then(() => "ok" as const, (e: unknown) => ConnectError.from(e).code);
}

describe("containerd.services.images.v1, leases and namespaces", () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  let transport: ReturnType<typeof createGrpcTransport>;
  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db);
    transport = createGrpcTransport({ baseUrl: server.baseUrl });
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
  });

  it("serves many concurrent calls without listener-leak warnings", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const images = createClient(Images, transport);
      await Promise.all(Array.from({ length: 50 }, () => codeOf(images.get({ name: "none" }, ns("many")))));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.map((w) => w.name), []);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("requires the namespace header (FailedPrecondition)", async () => {
    const images = createClient(Images, transport);
    const error = await images.list({}).catch((e: unknown) => ConnectError.from(e));
    assert.equal((error as ConnectError).code, Code.FailedPrecondition);
    assert.equal((error as ConnectError).rawMessage, "namespace is required: failed precondition");
    assert.equal(await codeOf(createClient(Leases, transport).list({})), Code.FailedPrecondition);
  });

  it("keeps an error's code when its message would quote a long input, by shortening the message", async () => {
    const images = createClient(Images, transport);
    const cases: Array<[() => Promise<unknown>, Code, string]> = [
      [() => images.get({ name: "n".repeat(20_000) }, ns("long")), Code.NotFound, ": not found"],
      [() => images.delete({ name: "n".repeat(20_000) }, ns("long")), Code.NotFound, ": not found"],
      [() => images.get({ name: "x" }, ns("n".repeat(10_000))), Code.InvalidArgument, ": invalid argument"],
      [() => images.list({ filters: [`!${"x".repeat(20_000)}`] }, ns("long")), Code.InvalidArgument, ": invalid argument"],
    ];
    for (const [call, code, suffix] of cases) {
      const error = await call().then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
      assert.equal(error.code, code);
      assert.ok(error.rawMessage.length <= MAX_MESSAGE_LENGTH, `${error.rawMessage.length} characters`);
      assert.ok(error.rawMessage.endsWith(suffix), error.rawMessage);
    }
  });

  it("creates with server timestamps or source_date_epoch, and updates keeping created_at", async () => {
    const images = createClient(Images, transport);
    const epoch = new Date("2020-02-02T02:02:02.000Z");
    const old = timestampFromDate(new Date("2001-01-01T00:00:00Z"));
    const { image } = await images.create(
      { image: { name: "a", target: target("a"), createdAt: old, updatedAt: old }, sourceDateEpoch: timestampFromDate(epoch) },
      ns("ts"),
    );
    assert.equal(timestampDate(image!.createdAt!).getTime(), epoch.getTime());
    assert.equal(timestampDate(image!.updatedAt!).getTime(), epoch.getTime());
    assert.equal(await codeOf(images.create({ image: { name: "a", target: target("a") } }, ns("ts"))), Code.AlreadyExists);

    const updated = await images.update(
      { image: { name: "a", labels: { k: "v" } }, updateMask: { paths: ["labels.k"] } },
      ns("ts"),
    );
    assert.deepEqual(updated.image?.labels, { k: "v" });
    assert.equal(timestampDate(updated.image!.createdAt!).getTime(), epoch.getTime());
    assert.ok(timestampDate(updated.image!.updatedAt!).getTime() > epoch.getTime());
    assert.equal(await codeOf(images.update({ image: { name: "nope", target: target("n") } }, ns("ts"))), Code.NotFound);
    assert.equal(
      await codeOf(images.update({ image: { name: "a" }, updateMask: { paths: ["labels.k", "name"] } }, ns("ts"))),
      Code.InvalidArgument,
    );
    assert.equal(await codeOf(images.create({ image: { name: "", target: target("x") } }, ns("ts"))), Code.InvalidArgument);
  });

  it("takes source_date_epoch over Timestamp's whole range, and refuses one outside it without writing", async () => {
    const images = createClient(Images, transport);
    const first = { seconds: -62_135_596_800n, nanos: 0 }; // 0001-01-01T00:00:00Z
    const last = { seconds: 253_402_300_799n, nanos: 999_000_000 }; // 9999-12-31T23:59:59.999Z
    for (const [name, epoch] of [["first", first], ["last", last]] as const) {
      const { image } = await images.create({ image: { name, target: target(name) }, sourceDateEpoch: epoch }, ns("range"));
      assert.deepEqual([image!.createdAt!.seconds, image!.createdAt!.nanos], [epoch.seconds, epoch.nanos]);
      const { image: read } = await images.get({ name }, ns("range"));
      assert.deepEqual([read!.createdAt!.seconds, read!.updatedAt!.nanos], [epoch.seconds, epoch.nanos]);
    }
    const outside = [
      { seconds: first.seconds - 1n, nanos: 0 },
      { seconds: last.seconds + 1n, nanos: 0 },
      { seconds: 9_000_000_000_000n, nanos: 0 },
      { seconds: 0n, nanos: -1 },
      { seconds: 0n, nanos: 1_000_000_000 },
    ];
    for (const sourceDateEpoch of outside) {
      const created = await images.create({ image: { name: "out", target: target("out") }, sourceDateEpoch }, ns("range")).catch(ConnectError.from);
      assert.ok(created instanceof ConnectError, `create at ${sourceDateEpoch.seconds}s ${sourceDateEpoch.nanos}ns`);
      assert.equal(created.code, Code.InvalidArgument);
      assert.match(created.rawMessage, /^source_date_epoch: must be a timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
      const update = images.update({ image: { name: "first", labels: { k: "v" } }, updateMask: { paths: ["labels.k"] }, sourceDateEpoch }, ns("range"));
      assert.equal(await codeOf(update), Code.InvalidArgument);
    }
    assert.equal(await codeOf(images.get({ name: "out" }, ns("range"))), Code.NotFound);
    assert.deepEqual((await images.get({ name: "first" }, ns("range"))).image?.labels, {});
  });

  it("deletes only while the image points at the given target (containerd 2.x)", async () => {
    const images = createClient(Images, transport);
    await images.create({ image: { name: "d", target: target("d") } }, ns("del"));
    assert.equal(await codeOf(images.delete({ name: "d", target: target("other") }, ns("del"))), Code.NotFound);
    assert.equal(await codeOf(images.delete({ name: "d", target: target("d"), sync: true }, ns("del"))), "ok");
    assert.equal(await codeOf(images.get({ name: "d" }, ns("del"))), Code.NotFound);
    assert.equal(await codeOf(images.delete({ name: "d" }, ns("del"))), Code.NotFound);
  });

  it("serves one store through both APIs", async () => {
    const images = createClient(Images, transport);
    const seed = createClient(SeedImages, transport);
    await seed.put({ image: { name: "from-seed", target: target("s"), labels: { via: "seed" } } }, ns("both"));
    assert.deepEqual((await images.get({ name: "from-seed" }, ns("both"))).image?.labels, { via: "seed" });
    await images.create({ image: { name: "from-containerd", target: target("c"), labels: { via: "containerd" } } }, ns("both"));
    const listed = await seed.list({ filters: ["labels.via==containerd"] }, ns("both"));
    assert.deepEqual(listed.images.map((i) => [i.name, i.labels]), [["from-containerd", { via: "containerd" }]]);
    await seed.delete({ name: "from-containerd" }, ns("both"));
    assert.equal(await codeOf(images.get({ name: "from-containerd" }, ns("both"))), Code.NotFound);
  });

  it("answers repeated Gets with the image as it is after each change, on every protocol, through both APIs", async () => {
    const clients = [transport, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })].map((t) => ({
      images: createClient(Images, t),
      seed: createClient(SeedImages, t),
    }));
    const labelsSeen = async () => {
      const seen = [];
      for (const { images, seed } of clients) {
        // Twice each: the second answer is the one kept for the cached image.
        for (let i = 0; i < 2; i++) {
          seen.push((await images.get({ name: "shared" }, ns("answers"))).image?.labels);
          seen.push((await seed.get({ name: "shared" }, ns("answers"))).image?.labels);
        }
      }
      return seen;
    };
    const { images, seed } = clients[0]!;
    await images.create({ image: { name: "shared", target: target("1"), labels: { v: "1" } } }, ns("answers"));
    assert.deepEqual(await labelsSeen(), Array(8).fill({ v: "1" }));
    await images.update({ image: { name: "shared", labels: { v: "2" } }, updateMask: { paths: ["labels.v"] } }, ns("answers"));
    assert.deepEqual(await labelsSeen(), Array(8).fill({ v: "2" }));
    await seed.put({ image: { name: "shared", target: target("3"), labels: { v: "3" } } }, ns("answers"));
    assert.deepEqual(await labelsSeen(), Array(8).fill({ v: "3" }));
  });

  it("accepts field masks in Connect JSON, as curl sends them", async () => {
    const post = (method: string, body: object) =>
      fetch(`${server.baseUrl}/containerd.services.images.v1.Images/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "containerd-namespace": "json" },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { image?: { labels?: object } } }));
    const digest = digestOf("j");
    assert.equal((await post("Create", { image: { name: "j", target: { mediaType: "m", digest, size: "1" } } })).status, 200);
    const updated = await post("Update", { image: { name: "j", labels: { a: "1", b: "2" } }, updateMask: "labels.a" });
    assert.deepEqual(updated.body.image?.labels, { a: "1" });
  });

  it("stores leases: create (with a generated id), list with filters, delete", async () => {
    const leases = createClient(Leases, transport);
    const named = await leases.create({ id: "l1", labels: { "containerd.io/gc.expire": "soon" } }, ns("leases"));
    assert.equal(named.lease?.id, "l1");
    assert.ok(named.lease?.createdAt);
    const generated = await leases.create({}, ns("leases"));
    assert.match(generated.lease!.id, /^\d+-[A-Za-z0-9_-]+$/);
    assert.equal(await codeOf(leases.create({ id: "l1" }, ns("leases"))), Code.AlreadyExists);
    assert.deepEqual((await leases.list({ filters: ["id==l1"] }, ns("leases"))).leases.map((l) => l.id), ["l1"]);
    assert.equal((await leases.list({}, ns("leases"))).leases.length, 2);
    await leases.delete({ id: "l1" }, ns("leases"));
    assert.equal(await codeOf(leases.delete({ id: "l1" }, ns("leases"))), Code.NotFound);
    assert.equal(await codeOf(leases.list({ filters: ["id=="] }, ns("leases"))), Code.InvalidArgument);
  });

  it("lists namespaces written to, keeps them after their images go, and answers Get for any name", async () => {
    const namespaces = createClient(Namespaces, transport);
    const images = createClient(Images, transport);
    await images.create({ image: { name: "x", target: target("x") } }, ns("ephemeral"));
    await images.delete({ name: "x" }, ns("ephemeral"));
    const names = (await namespaces.list({})).namespaces.map((n) => n.name);
    assert.ok(names.includes("ephemeral") && names.includes("leases") && names.includes("both"), names.join());
    assert.deepEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), names);
    assert.ok(!names.includes("never-written"));
    assert.deepEqual((await namespaces.get({ name: "never-written" })).namespace, {
      $typeName: "containerd.services.namespaces.v1.Namespace",
      name: "never-written",
      labels: {},
    });
  });
});
