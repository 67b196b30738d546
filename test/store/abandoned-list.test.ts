import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { migrate } from "../../server/db/migrate.js";
import { openPostgres } from "../../server/db/postgres.js";
import { parseFilters } from "../../server/filters/parse.js";
import { sqlImageStore } from "../../server/images/sql-store.js";
import { backends, createPostgresDatabase, postgresUrl } from "../support/database.js";

const everything = parseFilters([]);
const gone = new Error("the client left");

describe("a List whose caller gave up", () => {
  for (const backend of backends) {
    it(`is not read on ${backend.kind}`, async () => {
      const testDb = await backend.open();
      try {
        await assert.rejects(sqlImageStore(testDb.db).list("default", everything, AbortSignal.abort(gone)), (e) => e === gone);
      } finally {
        await testDb.dispose();
      }
    });
  }

  it("is not run on Postgres when the connection it waited for comes free", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const db = openPostgres({ connectionString: created.url, poolSize: 1 });
    try {
      await migrate(db);
      const store = sqlImageStore(db);
      const busy = db.query("SELECT pg_sleep(0.2)");
      const controller = new AbortController();
      const abandoned = store.list("default", everything, controller.signal);
      const kept = store.list("default", everything);
      controller.abort(gone);
      await busy;
      await assert.rejects(abandoned, (e) => e === gone);
      assert.deepEqual(await kept, [], "a List without a signal still runs");
    } finally {
      await db.close();
      await created.drop();
    }
  });
});
