import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { serverBackend, type TestDatabase } from "../support/database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "../support/fixtures.js";
import { startServer, type RunningServer } from "../support/server.js";

// What a person or script with curl sees: Connect JSON over plain HTTP/1.1 POSTs.
describe("seed API as curl sees it (Connect JSON)", () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db);
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
  });

  const post = async (method: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.baseUrl}/containerd.v1.Images/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it("round-trips int64 sizes exactly, as JSON strings", async () => {
    for (const size of ["9007199254740993", "9223372036854775807"]) {
      const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(size), size };
      assert.equal((await post("Put", { image: { name: `size-${size}`, target } })).status, 200);
      const { body } = await post("Get", { name: `size-${size}` });
      assert.equal(body.image.target.size, size);
    }
  });

  it("answers every RPC, and errors with Connect codes and clear messages", async () => {
    const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf("j"), size: "10" };
    assert.deepEqual(await post("Put", { image: { name: "j", target } }), { status: 200, body: {} });
    const listed = await post("List", {});
    assert.ok(listed.body.images.some((image: { name: string }) => image.name === "j"));
    assert.deepEqual(await post("Delete", { name: "j" }), { status: 200, body: {} });
    assert.deepEqual(await post("Get", { name: "j" }), {
      status: 404,
      body: { code: "not_found", message: 'image "j": not found' },
    });
    const invalid = await post("Put", { image: { name: "j", target: { ...target, digest: "sha256:XYZ" } } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.code, "invalid_argument");
    assert.match(invalid.body.message, /image\.target\.digest/);
    const badNamespace = await post("List", {}, { "containerd-namespace": "no/slashes" });
    assert.equal(badNamespace.body.code, "invalid_argument");
  });

  it("rejects a malformed body as invalid_argument", async () => {
    const response = await fetch(`${server.baseUrl}/containerd.v1.Images/Get`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, "invalid_argument");
  });

  it("answers an unknown Connect method with 404 unimplemented", async () => {
    const response = await post("Nope", {});
    assert.deepEqual(response, { status: 404, body: { code: "unimplemented", message: "unknown method /containerd.v1.Images/Nope" } });
  });

  it("reports liveness and readiness", async () => {
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
  });
});

describe("CORS for browser dashboards", () => {
  let testDb: TestDatabase;
  let server: RunningServer;
  before(async () => {
    testDb = await serverBackend.open();
    server = await startServer(testDb.db, undefined, { corsOrigins: ["https://dash.example"] });
  });
  after(async () => {
    await server.close();
    await testDb.dispose();
  });

  const preflight = (origin: string) =>
    fetch(`${server.baseUrl}/containerd.v1.Images/List`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,containerd-namespace",
      },
    });

  it("allows a listed origin, with the Connect and namespace headers", async () => {
    const response = await preflight("https://dash.example");
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), "https://dash.example");
    const allowed = response.headers.get("access-control-allow-headers")?.toLowerCase() ?? "";
    for (const header of ["content-type", "connect-protocol-version", "containerd-namespace"]) {
      assert.ok(allowed.includes(header), allowed);
    }
  });

  it("does not allow another origin", async () => {
    const response = await preflight("https://evil.example");
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  });
});
