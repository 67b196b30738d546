import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { Database } from "../../server/db/database.js";
import { openDatabase } from "../../server/db/open.js";
import { ImageCache } from "../../server/images/cache.js";
import { cachedImageStore, followImageChanges } from "../../server/images/cached-store.js";
import { parseFilters } from "../../server/filters/parse.js";
import { sqlImageStore } from "../../server/images/sql-store.js";
import type { ImageStore } from "../../server/images/store.js";
import { backends, type TestDatabase } from "../support/database.js";
import { eventually, imageFields } from "../support/fixtures.js";

const T0 = new Date("2026-01-01T00:00:00.000Z");

/** A process's view: its own cache, kept in step with the announcements of one database. */
async function cachingStore(db: Database) {
  // Namespaces may be read whole at any time: a test need not wait out the interval.
  const cache = new ImageCache(1024 * 1024, 0);
  const unfollow = await followImageChanges(db, cache);
  return { cache, store: cachedImageStore(sqlImageStore(db), cache), unfollow };
}

/** Gets through the cache until the image's label `v` reads `expected`. */
function labelBecomes(store: ImageStore, namespace: string, name: string, expected: string | null) {
  return eventually(async () => {
    const image = await store.get(namespace, name);
    return (image?.labels.v ?? null) === expected ? true : undefined;
  }, `${namespace}/${name} to have label v=${expected}`);
}

for (const backend of backends) {
  describe(`image cache on ${backend.kind}`, () => {
    let testDb: TestDatabase;
    let view: Awaited<ReturnType<typeof cachingStore>>;
    before(async () => {
      testDb = await backend.open();
      view = await cachingStore(testDb.db);
    });
    after(async () => {
      await view.unfollow();
      await testDb.dispose();
    });

    it("is live once listening, and answers repeated Gets from memory", async () => {
      assert.equal(view.cache.live, true);
      await view.store.create("own", imageFields("a", { labels: { v: "1" } }), T0);
      // The create's own announcement may still arrive and drop the first copy.
      await eventually(async () => {
        const first = await view.store.get("own", "a");
        return (await view.store.get("own", "a")) === first ? true : undefined;
      }, "two Gets to return the very same kept object");
    });

    it("shows this process's own writes at once, without waiting for an announcement", async () => {
      await view.store.create("own", imageFields("b", { labels: { v: "1" } }), T0);
      await view.store.get("own", "b");
      await view.store.update("own", imageFields("b", { labels: { v: "2" } }), ["labels"], T0);
      assert.equal((await view.store.get("own", "b"))?.labels.v, "2");
      await view.store.put("own", imageFields("b", { labels: { v: "3" } }), T0);
      assert.equal((await view.store.get("own", "b"))?.labels.v, "3");
      await view.store.delete("own", "b");
      assert.equal(await view.store.get("own", "b"), null);
    });

    it("drops its copy when a row is changed by hand in SQL", async () => {
      await view.store.create("hand", imageFields("x", { labels: { v: "1" } }), T0);
      await view.store.create("hand", imageFields("y", { labels: { v: "1" } }), T0);
      await labelBecomes(view.store, "hand", "x", "1");
      await labelBecomes(view.store, "hand", "y", "1");

      await testDb.db.query(`UPDATE images SET labels = '{"v":"2"}' WHERE namespace = 'hand' AND name = 'x'`);
      await labelBecomes(view.store, "hand", "x", "2");
      await testDb.db.query(`DELETE FROM images WHERE namespace = 'hand' AND name = 'y'`);
      await eventually(async () => ((await view.store.get("hand", "y")) === null ? true : undefined), "y to be gone");
    });

    it("drops everything when the table is truncated", async () => {
      await view.store.create("trunc", imageFields("t", { labels: { v: "1" } }), T0);
      await labelBecomes(view.store, "trunc", "t", "1");
      await testDb.db.query("TRUNCATE images");
      await eventually(async () => ((await view.store.get("trunc", "t")) === null ? true : undefined), "t to be gone");
    });

    it("lists a namespace from memory once it holds it whole, as the database would", async () => {
      const names = ["b", "a", "c\u{1F600}", "c\uFFFD", "d"];
      for (const [i, name] of names.entries()) {
        await view.store.create("whole", imageFields(name, { labels: { v: String(i), env: i % 2 ? "prod" : "dev" } }), T0);
      }
      const database = sqlImageStore(testDb.db);
      // Each List that finds it not held whole starts reading it whole (its own creates may still be announced).
      await eventually(async () => (await view.store.list("whole", parseFilters([])), view.cache.list("whole")), "the namespace to be held whole");
      for (const filters of [[], ["labels.env==prod"], ["name~=^c", "labels.v==4"], ['name!="a"']]) {
        assert.deepEqual(await view.store.list("whole", parseFilters(filters)), await database.list("whole", parseFilters(filters)), filters.join(" "));
      }
      // An image added by hand is not announced, and is listed at once: the namespace is read from the database again.
      await testDb.db.query(
        `INSERT INTO images (namespace, name, name_key, target, created_at, updated_at)
         SELECT namespace, 'e', sha256(convert_to('e', 'UTF8')), target, created_at, updated_at FROM images WHERE namespace = 'whole' AND name = 'a'`,
      );
      const heldBefore = view.cache.list("whole");
      assert.notEqual(heldBefore, undefined);
      assert.deepEqual((await view.store.list("whole", parseFilters([]))).map((i) => i.name), ["a", "b", "c\uFFFD", "c\u{1F600}", "d", "e"]);
      // That List dropped the copy and began reading the namespace whole again, which may already be done.
      const heldAfter = view.cache.list("whole");
      assert.notEqual(heldAfter, heldBefore);
      if (heldAfter !== undefined) assert.ok(heldAfter.images.some((image) => image.name === "e"));
    });

    it("announces changes and removals of images, not additions", async () => {
      const heard: string[] = [];
      const unlisten = await testDb.db.listen("image_changes", { notify: (payload) => heard.push(payload), ready() {}, lost() {} });
      try {
        const store = sqlImageStore(testDb.db);
        await store.create("told", imageFields("n", { labels: { v: "1" } }), T0);
        await store.put("told", imageFields("p", { labels: { v: "1" } }), T0);
        await store.update("told", imageFields("n", { labels: { v: "2" } }), ["labels"], T0);
        await store.put("told", imageFields("p", { labels: { v: "2" } }), T0);
        await store.delete("told", "n");
        await eventually(() => (heard.length >= 3 ? true : undefined), "three announcements");
        assert.deepEqual(heard, ["told\nn", "told\np", "told\nn"]);
      } finally {
        await unlisten();
      }
    });

    if (backend.kind !== "postgres") return;

    describe("with other processes on the same Postgres", () => {
      let other: Database;
      before(async () => {
        other = await openDatabase({ databaseUrl: testDb.env.DATABASE_URL!, dataDir: "", migrate: false });
      });
      after(() => other.close());

      it("sees another process's writes once Postgres announces them", async () => {
        const theirs = sqlImageStore(other);
        await theirs.create("shared", imageFields("s", { labels: { v: "1" } }), T0);
        await labelBecomes(view.store, "shared", "s", "1");
        await theirs.update("shared", imageFields("s", { labels: { v: "2" } }), ["labels"], T0);
        await labelBecomes(view.store, "shared", "s", "2");
        await theirs.delete("shared", "s");
        await labelBecomes(view.store, "shared", "s", null);
      });

      it("lists another process's additions at once, though they are not announced", async () => {
        const theirs = sqlImageStore(other);
        await view.store.create("added", imageFields("a"), T0);
        await eventually(async () => (await view.store.list("added", parseFilters([])), view.cache.list("added")), "the namespace to be held whole");
        await theirs.create("added", imageFields("b"), T0);
        assert.deepEqual((await view.store.list("added", parseFilters([]))).map((i) => i.name), ["a", "b"]);
      });

      it("lists an image added by a transaction still open when the namespace was read whole", async () => {
        await view.store.create("racing", imageFields("a"), T0);
        const writer = new pg.Client({ connectionString: testDb.env.DATABASE_URL });
        await writer.connect();
        try {
          await writer.query("BEGIN");
          await writer.query(
            `INSERT INTO images (namespace, name, name_key, target, created_at, updated_at)
             SELECT namespace, 'late', sha256(convert_to('late', 'UTF8')), target, created_at, updated_at FROM images WHERE namespace = 'racing'`,
          );
          // A later transaction ends first: the open one is then among a snapshot's in-progress ones, not past its end.
          await other.query("SELECT pg_current_xact_id()");
          await eventually(async () => (await view.store.list("racing", parseFilters([])), view.cache.list("racing")), "the namespace to be held whole");
          await writer.query("COMMIT");
        } finally {
          await writer.end();
        }
        assert.deepEqual((await view.store.list("racing", parseFilters([]))).map((i) => i.name), ["a", "late"]);
      });

      it("stops answering from memory while its listening connection is lost, and recovers", async () => {
        const theirs = sqlImageStore(other);
        await theirs.create("outage", imageFields("o", { labels: { v: "1" } }), T0);
        await labelBecomes(view.store, "outage", "o", "1");

        // Ends every other session on this database, the listening one included.
        const admin = new pg.Client({ connectionString: testDb.env.DATABASE_URL });
        await admin.connect();
        try {
          await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
          );
          await eventually(() => (view.cache.live ? undefined : true), "the cache to notice the lost connection");
          assert.equal(view.cache.size, 0);
          // A change nobody announces to this process now: it must read it anyway.
          await admin.query(`UPDATE images SET labels = '{"v":"2"}' WHERE namespace = 'outage'`);
          assert.equal((await view.store.get("outage", "o"))?.labels.v, "2");
        } finally {
          await admin.end();
        }
        await eventually(() => (view.cache.live ? true : undefined), "listening again");
        await theirs.update("outage", imageFields("o", { labels: { v: "3" } }), ["labels"], T0);
        await labelBecomes(view.store, "outage", "o", "3");
      });
    });
  });
}
