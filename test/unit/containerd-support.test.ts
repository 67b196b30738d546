// Proves the test support for running a private containerd as a reference:
// startContainerd + grpcUnixTransport + ctr.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { startContainerd } from "../support/containerd.js";
import { ctr } from "../support/ctr.js";
import { grpcUnixTransport, withNamespace } from "../support/grpc-unix.js";

const NAME = "docker.io/library/redis:7";
const DIGEST = "sha256:" + "ab".repeat(32);
const MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("private containerd: images over gRPC on a unix socket, ctr, clean stop", async (t) => {
  const ctd = await startContainerd();
  if (ctd === null) {
    if (process.env.CI) {
      assert.fail("containerd not installed (or not root) but CI is set: the reference tests cannot run");
    }
    console.warn("\n!!! WARNING: containerd not installed (or not root): SKIPPING containerd reference test !!!\n");
    t.skip("containerd not installed");
    return;
  }
  let stopped = false;
  try {
    assert.ok(!ctd.socket.startsWith("/run/containerd"), "must not use the system socket");
    assert.ok(Buffer.byteLength(ctd.socket) < 107, `socket path too long: ${ctd.socket}`);
    assert.ok(existsSync(ctd.socket));

    const client = createClient(Images, grpcUnixTransport(ctd.socket));
    const ns = withNamespace("t1");

    const created = await client.create(
      { image: { name: NAME, target: { mediaType: MEDIA_TYPE, digest: DIGEST, size: 1234n } } },
      ns,
    );
    assert.equal(created.image?.name, NAME);
    assert.equal(created.image?.target?.digest, DIGEST);
    assert.equal(created.image?.target?.size, 1234n);
    assert.ok(created.image?.createdAt, "created_at set");
    assert.ok(created.image?.updatedAt, "updated_at set");

    const got = await client.get({ name: NAME }, ns);
    assert.equal(got.image?.name, NAME);
    assert.equal(got.image?.target?.mediaType, MEDIA_TYPE);
    assert.equal(got.image?.target?.digest, DIGEST);
    assert.equal(got.image?.target?.size, 1234n);

    const listed = await client.list({ filters: [] }, ns);
    assert.deepEqual(
      listed.images.map((i) => i.name),
      [NAME],
    );

    // namespaces isolate images
    const other = await client.list({ filters: [] }, withNamespace("t2"));
    assert.equal(other.images.length, 0);

    const r = await ctr(ctd.socket, "t1", ["images", "ls", "-q"]);
    assert.equal(r.code, 0, `ctr failed: ${r.stderr}`);
    assert.deepEqual(r.stdout.trim().split("\n"), [NAME]);

    const { pid, socket, dir } = ctd;
    await ctd.stop();
    stopped = true;
    assert.equal(pidAlive(pid), false, "containerd PID exited");
    assert.equal(existsSync(socket), false, "socket removed");
    assert.equal(existsSync(dir), false, "temp folder removed");
  } finally {
    if (!stopped) await ctd.stop();
  }
});
