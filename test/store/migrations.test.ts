import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { migrate } from "../../server/db/migrate.js";
import { openPostgres } from "../../server/db/postgres.js";
import { sqlImageStore } from "../../server/images/sql-store.js";
import { imageFields } from "../support/fixtures.js";
import { backends, createPostgresDatabase, postgresUrl } from "../support/database.js";

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

  it("count images stored before additions were tracked as seen, without rewriting them", { skip: !postgresUrl }, async () => {
    const created = await createPostgresDatabase(postgresUrl!);
    const db = openPostgres({ connectionString: created.url });
    try {
      assert.equal(await migrate(db, "3"), 3);
      await db.query(
        `INSERT INTO images (namespace, name, name_key, target, created_at, updated_at)
         VALUES ('m', 'before', sha256(convert_to('before', 'UTF8')), '{"mediaType": "m", "digest": "d", "size": 1}', now(), now())`,
      );
      assert.equal(await migrate(db), 4);
      const store = sqlImageStore(db);
      const { images, asOf } = await store.first("m", 10);
      assert.deepEqual(images.map((i) => i.name), ["before"]);
      assert.equal(await store.addedSince("m", asOf), false);
      await store.create("m", imageFields("after"), new Date());
      assert.equal(await store.addedSince("m", asOf), true);
      const { rows } = await db.query<{ name: string; added_by: string }>("SELECT name, added_by::text FROM images ORDER BY name");
      assert.equal(rows.find((r) => r.name === "before")?.added_by, "0");
      assert.notEqual(rows.find((r) => r.name === "after")?.added_by, "0");
    } finally {
      await db.close();
      await created.drop();
    }
  });

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
