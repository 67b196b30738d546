import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { migrate } from "../../server/db/migrate.js";
import { openPostgres } from "../../server/db/postgres.js";
import { backends, createPostgresDatabase } from "../support/database.js";

const postgresUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;

describe("migrations", () => {
  for (const backend of backends) {
    it(`bring a new ${backend.kind} database to the newest version, and are idempotent`, async () => {
      const testDb = await backend.open();
      try {
        assert.equal(await migrate(testDb.db), 4);
        assert.equal(await migrate(testDb.db), 4);
        const { rows } = await testDb.db.query<{ collation_name: string }>(
          "SELECT collation_name FROM information_schema.columns WHERE table_name = 'images' AND column_name = 'name'",
        );
        assert.equal(rows[0]?.collation_name, "C");
      } finally {
        await testDb.dispose();
      }
    });
  }

  it("let two replicas starting at once against one Postgres migrate without racing", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const replicas = [0, 1, 2].map(() => openPostgres({ connectionString: created.url }));
    try {
      assert.deepEqual(await Promise.all(replicas.map((db) => migrate(db))), [4, 4, 4]);
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
      await created.drop();
    }
  });
});
