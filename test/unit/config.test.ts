import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, it } from "node:test";
import { ConfigError, DEFAULT_IMAGE_CACHE_MB, DEFAULT_POOL_SIZE, loadConfig } from "../../server/config.js";

describe("configuration from the environment", () => {
  it("has defaults that run on a bare machine", () => {
    assert.deepEqual(loadConfig({}), {
      host: "127.0.0.1",
      port: 8080,
      socketPath: undefined,
      databaseUrl: undefined,
      dataDir: "./data",
      logLevel: "info",
      corsOrigins: [],
      workers: 1,
      poolSize: DEFAULT_POOL_SIZE,
      imageCacheBytes: DEFAULT_IMAGE_CACHE_MB * 1024 * 1024,
    });
  });

  it("uses every core on Postgres unless WORKERS says otherwise", () => {
    const url = "postgres://x@localhost/db";
    assert.equal(loadConfig({ DATABASE_URL: url }).workers, availableParallelism());
    assert.equal(loadConfig({ DATABASE_URL: url, WORKERS: "3" }).workers, 3);
    assert.equal(loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: "4" }).poolSize, 4);
  });

  it("reads the image cache size in MiB, 0 turning it off", () => {
    assert.equal(loadConfig({ IMAGE_CACHE_MB: "16" }).imageCacheBytes, 16 * 1024 * 1024);
    assert.equal(loadConfig({ IMAGE_CACHE_MB: "0" }).imageCacheBytes, 0);
  });

  it("reads lists and paths", () => {
    const config = loadConfig({ CORS_ORIGINS: "https://a.example, https://b.example", SOCKET: "/tmp/s.sock" });
    assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
    assert.equal(config.socketPath, "/tmp/s.sock");
  });

  const invalid: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: "eighty" }, /^PORT must be an integer from 0 to 65535, got "eighty"$/],
    [{ PORT: "70000" }, /^PORT must be/],
    [{ WORKERS: "2" }, /WORKERS above 1 needs DATABASE_URL/],
    [{ WORKERS: "0", DATABASE_URL: "postgres://x@y/z" }, /^WORKERS must be an integer from 1 to 64/],
    [{ DATABASE_POOL_SIZE: "0" }, /^DATABASE_POOL_SIZE must be an integer from 1 to 1000/],
    [{ LOG_LEVEL: "loud" }, /^LOG_LEVEL must be one of/],
    [{ IMAGE_CACHE_MB: "-1" }, /^IMAGE_CACHE_MB must be an integer from 0 to 65536/],
  ];
  for (const [env, message] of invalid) {
    it(`rejects ${JSON.stringify(env)} with a message naming the variable`, () => {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }
});
