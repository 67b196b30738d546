import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { READ_ONLY, type Database } from "../../server/db/database.js";
import { openPostgres } from "../../server/db/postgres.js";
import { UnavailableError } from "../../server/errors.js";
import { createPostgresDatabase, postgresUrl } from "../support/database.js";
import { closedPort } from "../support/tcp-proxy.js";

/**
 * A statement whose session ends itself on each of its first `$1` runs:
 * every run, lost or not, is counted by the sequence `runs`.
 */
const ENDS_ITS_SESSION = "SELECT CASE WHEN nextval('runs') <= $1 THEN pg_terminate_backend(pg_backend_pid()) END AS ended";

const isLost = (error: unknown) =>
  error instanceof UnavailableError && error.message === "database connection lost" && (error.cause as { code?: string }).code === "57P01";

describe("Postgres sessions that fail", { skip: !postgresUrl }, () => {
  let created: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let db: Database;
  const runs = async () => Number((await db.query<{ n: string }>("SELECT last_value AS n FROM runs")).rows[0]!.n);

  before(async () => {
    created = await createPostgresDatabase(postgresUrl!);
    db = openPostgres({ connectionString: created.url, poolSize: 2 });
  });
  after(async () => {
    await db.close();
    await created.drop();
  });
  // Each test counts from 1.
  const freshCount = () => db.query("DROP SEQUENCE IF EXISTS runs; CREATE SEQUENCE runs", [], { prepare: false });

  for (const [how, options] of [["", {}], [" that may be abandoned", { signal: new AbortController().signal }]] as const) {
    it(`runs a read${how} again on another session when its own is lost`, async () => {
      await freshCount();
      const { rows } = await db.query<{ ended: boolean | null }>(ENDS_ITS_SESSION, [1], { ...READ_ONLY, ...options });
      assert.deepEqual(rows, [{ ended: null }]);
      assert.equal(await runs(), 2);
    });

    it(`never runs a write${how} again: it may have committed`, async () => {
      await freshCount();
      await assert.rejects(db.query(ENDS_ITS_SESSION, [1], options), isLost);
      assert.equal(await runs(), 1);
    });
  }

  it("gives a read one run per pooled session, plus one, then answers unavailable", async () => {
    await freshCount();
    await assert.rejects(db.query(ENDS_ITS_SESSION, [100], READ_ONLY), isLost);
    assert.equal(await runs(), 3);
  });

  it("never runs a transaction again, and answers it unavailable", async () => {
    await freshCount();
    let calls = 0;
    await assert.rejects(
      db.transaction(async (tx) => {
        calls++;
        await tx.query(ENDS_ITS_SESSION, [1]);
      }),
      isLost,
    );
    assert.equal(calls, 1);
    assert.equal(await runs(), 1);
  });

  it("passes a failing statement's own error unchanged, without running it again", async () => {
    await freshCount();
    await assert.rejects(db.query("SELECT nextval('runs') / 0", [], READ_ONLY), (e: unknown) => (e as { code?: string }).code === "22012");
    assert.equal(await runs(), 1);
  });

  it("answers unavailable while no session can be opened, for reads, writes and transactions", async () => {
    const unreachable = openPostgres({ connectionString: `postgres://root@127.0.0.1:${await closedPort()}/test`, poolSize: 2 });
    const cannotConnect = (error: unknown) =>
      error instanceof UnavailableError &&
      error.message === "cannot connect to the database" &&
      (error.cause as { code?: string }).code === "ECONNREFUSED";
    try {
      await assert.rejects(unreachable.query("SELECT 1", [], READ_ONLY), cannotConnect);
      await assert.rejects(unreachable.query("SELECT 1", [], { signal: new AbortController().signal }), cannotConnect);
      await assert.rejects(unreachable.transaction(async () => {}), cannotConnect);
    } finally {
      await unreachable.close();
    }
  });
});
