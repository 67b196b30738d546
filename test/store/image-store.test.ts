import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError } from "../../server/errors.js";
import { imageFields as imageFieldsOf } from "../../server/filters/image-fields.js";
import { matches } from "../../server/filters/match.js";
import { parseFilters } from "../../server/filters/parse.js";
import { sqlImageStore } from "../../server/images/sql-store.js";
import type { Queryable } from "../../server/db/database.js";
import type { ImageStore } from "../../server/images/store.js";
import { backends, type TestDatabase } from "../support/database.js";
import { digestOf, imageFields } from "../support/fixtures.js";

const ALL = parseFilters([]);
const T0 = new Date("2026-01-01T00:00:00.000Z");
const T1 = new Date("2026-01-02T00:00:00.000Z");

for (const backend of backends) {
  describe(`image store on ${backend.kind}`, () => {
    let testDb: TestDatabase;
    let store: ImageStore;
    before(async () => {
      testDb = await backend.open();
      store = sqlImageStore(testDb.db);
    });
    after(() => testDb.dispose());

    /** The store over a database whose statements are recorded: their texts, and their first words. */
    function recorded() {
      const texts: string[] = [];
      const recording = (q: Queryable["query"]): Queryable["query"] => (sql, params, options) => {
        texts.push(sql);
        return q(sql, params, options);
      };
      const counted = sqlImageStore({
        ...testDb.db,
        query: recording(testDb.db.query),
        transaction: async (fn) => {
          texts.push("BEGIN");
          const result = await testDb.db.transaction((tx) => fn({ ...tx, query: recording(tx.query) }));
          texts.push("COMMIT");
          return result;
        },
      });
      const statements = () => texts.map((sql) => sql.trim().split(/\s+/)[0]!);
      return { statements, texts, counted };
    }

    it("creates, then gets the image back with the store's timestamps", async () => {
      const created = await store.create("ns1", imageFields("a", { labels: { env: "prod" } }), T0);
      assert.ok(created);
      assert.deepEqual(await store.get("ns1", "a"), created);
      assert.equal(created.createdAt.getTime(), T0.getTime());
      assert.deepEqual(created.labels, { env: "prod" });
    });

    it("refuses to create a name that exists (null), leaving the first untouched", async () => {
      await store.create("ns2", imageFields("dup", { labels: { v: "1" } }), T0);
      assert.equal(await store.create("ns2", imageFields("dup", { labels: { v: "2" } }), T1), null);
      assert.deepEqual((await store.get("ns2", "dup"))?.labels, { v: "1" });
    });

    it("creates concurrently as if one after another: each name once, the first of a name wins", async () => {
      await store.create("many", imageFields("taken", { labels: { v: "old" } }), T0);
      // Made together, so that they share statements (see db/batched.ts).
      const creates = [
        ["many", "a", T0], ["many", "b", T1], ["other-ns", "a", T1], ["many", "taken", T1],
        ["many", "c", T0], ["many", "a", T1], ["many", "d\uFEFF", T1], ["many", "c", T1],
      ] as const;
      // 8 creates made together take 2 statements (the first alone, the other 7
      // in one), so a failing batch statement would show.
      const { statements, counted } = recorded();
      const results = await Promise.all(
        creates.map(([ns, name, at], i) => counted.create(ns, imageFields(name, { labels: { v: String(i) } }), at)),
      );
      assert.equal(statements().length, 2);
      assert.deepEqual(
        results.map((r) => r && `${r.name} v${r.labels.v} ${r.createdAt.toISOString().slice(0, 10)}`),
        ["a v0 2026-01-01", "b v1 2026-01-02", "a v2 2026-01-02", null, "c v4 2026-01-01", null, "d\uFEFF v6 2026-01-02", null],
      );
      for (const [i, result] of results.entries()) {
        if (result) assert.deepEqual(await store.get(creates[i]![0], creates[i]![1]), result);
      }
      assert.equal((await store.get("many", "taken"))?.labels.v, "old");
    });

    it("registers the namespaces of creates until it knows they have their row", async () => {
      const { texts, counted } = recorded();
      await counted.create("reg-1", imageFields("a"), T0);
      await counted.create("reg-1", imageFields("b"), T0);
      // The first alone, then a batch with a namespace not yet registered.
      await Promise.all([
        counted.create("reg-1", imageFields("c"), T0),
        counted.create("reg-1", imageFields("d"), T0),
        counted.create("reg-2", imageFields("e"), T0),
      ]);
      await counted.create("reg-2", imageFields("f"), T0);
      assert.deepEqual(texts.map((sql) => sql.includes("INSERT INTO namespaces")), [true, false, false, true, false]);
      const { rows } = await testDb.db.query<{ name: string }>("SELECT name FROM namespaces WHERE name LIKE 'reg-%' ORDER BY name", []);
      assert.deepEqual(rows.map((row) => row.name), ["reg-1", "reg-2"]);
      for (const name of ["a", "b", "c", "d"]) assert.ok(await store.get("reg-1", name), name);
      for (const name of ["e", "f"]) assert.ok(await store.get("reg-2", name), name);
    });

    it("creates concurrently with an invalid image among them: only that one fails", async () => {
      const results = await Promise.allSettled([
        store.create("mixed", imageFields("ok-1"), T0),
        store.create("mixed", imageFields("bad", { labels: { "": "empty key" } }), T0),
        store.create("mixed", imageFields("ok-2"), T0),
      ]);
      assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
      assert.ok((results[1] as PromiseRejectedResult).reason instanceof InvalidArgumentError);
      assert.equal(await store.get("mixed", "bad"), null);
      assert.ok(await store.get("mixed", "ok-2"));
    });

    it("returns null for a missing image and keeps namespaces apart", async () => {
      await store.create("ns3", imageFields("only-here"), T0);
      assert.equal(await store.get("ns3-other", "only-here"), null);
      assert.equal(await store.get("ns3", "missing"), null);
      assert.deepEqual(await store.list("ns3-other", ALL), []);
    });

    it("lists in byte-wise name order", async () => {
      const names = ["b", "B", "a", "é", "a.b", "a-b", "Z", "10", "9"];
      for (const name of names) await store.create("order", imageFields(name), T0);
      const listed = (await store.list("order", ALL)).map((image) => image.name);
      assert.deepEqual(listed, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    });

    it("filters a listing", async () => {
      await store.create("filtered", imageFields("x", { labels: { env: "prod" } }), T0);
      await store.create("filtered", imageFields("y", { labels: { env: "dev" } }), T0);
      const listed = await store.list("filtered", parseFilters(["labels.env==prod"]));
      assert.deepEqual(listed.map((image) => image.name), ["x"]);
    });

    it("returns exactly the images a filter matches, whatever part runs in SQL", async () => {
      const stored = [
        imageFields("a", { labels: { env: "prod", "k.dot": "1" } }),
        imageFields("b", { labels: { env: "dev" }, target: { ...imageFields("b").target, annotations: { "org.x": "7" } } }),
        imageFields("c", { labels: { team: "no" } }),
        imageFields("d", { target: { ...imageFields("d").target, mediaType: "m/other" } }),
      ];
      for (const image of stored) await store.create("pushdown", image, T0);
      const everything = await store.list("pushdown", ALL);
      const filters = [
        ["name==a"], ["name.x==a"], ["name==a", "name==b"], ["name==a,labels.env==prod"], ["name==a,labels.env==dev"],
        ["labels.env==prod", "labels.env!=prod"], ["labels.k.dot==1"], ['labels."k.dot"==1'], ["labels==no"],
        ["annotations.org.x==7"], [`target.digest==${digestOf("d")}`], ["target.mediatype==m/other"], ["target.size==1"],
        ["name==a,name~=^b"], ["labels.env"], ['name==""'], ["nosuch==x"], ["name==a", ""],
      ];
      for (const strings of filters) {
        const filter = parseFilters(strings);
        const expected = everything.filter((image) => matches(filter, imageFieldsOf(image))).map((i) => i.name);
        assert.deepEqual((await store.list("pushdown", filter)).map((i) => i.name), expected, JSON.stringify(strings));
      }
    });

    it("keeps int64 sizes exactly, beyond 2^53", async () => {
      for (const size of [2n ** 53n + 1n, 2n ** 63n - 1n]) {
        const name = `big-${size}`;
        await store.create("sizes", imageFields(name, { target: { ...imageFields(name).target, size } }), T0);
        assert.equal((await store.get("sizes", name))?.target.size, size);
      }
    });

    it("keeps a leading U+FEFF, which a default TextDecoder would strip", async () => {
      const target = { ...imageFields("bom").target, mediaType: "\uFEFFm" };
      await store.create("bom", imageFields("\uFEFFbom", { target }), T0);
      const [listed] = await store.list("bom", ALL);
      assert.equal(listed?.name, "\uFEFFbom");
      assert.equal(listed?.target.mediaType, "\uFEFFm");
    });

    it("stores names of 4096 bytes that do not compress (longer than a btree entry)", async () => {
      const name = Array.from({ length: 4096 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 94))).join("");
      await store.create("long", imageFields(name), T0);
      assert.equal((await store.get("long", name))?.name, name);
      assert.equal(await store.delete("long", name), true);
    });

    it("finds nothing for names Postgres cannot hold, without an error", async () => {
      for (const name of ["a\u0000b", "a\ud800"]) {
        assert.equal(await store.get("nul", name), null);
        assert.equal(await store.update("nul", imageFields(name), [], T1), null);
        assert.equal(await store.delete("nul", name), false);
      }
    });

    it("drops labels and annotations with an empty value", async () => {
      const target = { ...imageFields("e").target, annotations: { keep: "1", drop: "" } };
      const created = await store.create("empty", imageFields("e", { labels: { keep: "1", drop: "" }, target }), T0);
      assert.deepEqual(created?.labels, { keep: "1" });
      assert.deepEqual(created?.target.annotations, { keep: "1" });
    });

    it("put inserts, then replaces while keeping created_at", async () => {
      const first = await store.put("put", imageFields("p", { labels: { a: "1" } }), T0);
      const second = await store.put("put", imageFields("p", { target: { ...first.target, digest: digestOf("new") } }), T1);
      assert.equal(second.createdAt.getTime(), T0.getTime());
      assert.equal(second.updatedAt.getTime(), T1.getTime());
      assert.equal(second.target.digest, digestOf("new"));
      assert.deepEqual(second.labels, {});
    });

    it("updates through a field mask and keeps created_at", async () => {
      await store.create("upd", imageFields("u", { labels: { a: "1", b: "2" } }), T0);
      const updated = await store.update("upd", imageFields("u", { labels: { a: "9", c: "3" } }), ["labels.a"], T1);
      assert.deepEqual(updated?.labels, { a: "9", b: "2" });
      assert.equal(updated?.createdAt.getTime(), T0.getTime());
      assert.equal(updated?.updatedAt.getTime(), T1.getTime());
      assert.equal(await store.update("upd", imageFields("missing"), [], T1), null);
    });

    describe("update's statements", () => {
      it("merges into the image it reads, in two statements", async () => {
        await store.create("cas", imageFields("read", { labels: { a: "1" } }), T0);
        const { statements, counted } = recorded();
        const updated = await counted.update("cas", imageFields("read", { labels: { b: "2" } }), ["labels.b"], T1);
        assert.deepEqual(updated?.labels, { a: "1", b: "2" });
        assert.deepEqual(statements(), ["SELECT", "UPDATE"]);
      });

      it("merges into a copy the caller read, in one statement", async () => {
        const current = (await store.create("cas", imageFields("given", { labels: { a: "1" } }), T0))!;
        const { statements, counted } = recorded();
        const updated = await counted.update("cas", imageFields("given", { labels: { b: "2" } }), ["labels.b"], T1, current);
        assert.deepEqual(updated?.labels, { a: "1", b: "2" });
        assert.deepEqual(statements(), ["UPDATE"]);
      });

      it("loses no change when the copy is stale: it merges again under a row lock", async () => {
        const stale = (await store.create("cas", imageFields("stale", { labels: { a: "1" } }), T0))!;
        await store.update("cas", imageFields("stale", { labels: { b: "2" } }), ["labels.b"], T1);
        const { statements, counted } = recorded();
        const updated = await counted.update("cas", imageFields("stale", { labels: { c: "3" } }), ["labels.c"], T1, stale);
        assert.deepEqual(updated?.labels, { a: "1", b: "2", c: "3" });
        assert.deepEqual(statements(), ["UPDATE", "BEGIN", "SELECT", "UPDATE", "COMMIT"]);
      });

      it("replaces without reading, in one statement", async () => {
        await store.create("cas", imageFields("whole", { labels: { a: "1" } }), T0);
        const { statements, counted } = recorded();
        const updated = await counted.update("cas", imageFields("whole", { labels: { z: "9" } }), [], T1);
        assert.deepEqual(updated?.labels, { z: "9" });
        assert.equal(await counted.update("cas", imageFields("nowhere"), [], T1), null);
        assert.deepEqual(statements(), ["UPDATE", "UPDATE"]);
      });

      it("answers a replacement of a missing image with null even when it is invalid, as containerd does", async () => {
        const invalid = imageFields("nowhere", { target: { mediaType: "", digest: "", size: 0n, annotations: {} } });
        assert.equal(await store.update("cas", invalid, [], T1), null);
        await store.create("cas", imageFields("somewhere"), T0);
        await assert.rejects(store.update("cas", { ...invalid, name: "somewhere" }, [], T1), InvalidArgumentError);
      });

      it("applies every one of many concurrent updates of one image", async () => {
        await store.create("cas", imageFields("busy"), T0);
        const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
        await Promise.all(keys.map((k) => store.update("cas", imageFields("busy", { labels: { [k]: "x" } }), [`labels.${k}`], T1)));
        assert.deepEqual(Object.keys((await store.get("cas", "busy"))!.labels).sort(), [...keys].sort());
      });
    });

    it("writes nothing when validation fails", async () => {
      await store.create("invalid", imageFields("v", { labels: { a: "1" } }), T0);
      const badTarget = { ...imageFields("v").target, size: 0n };
      await assert.rejects(store.update("invalid", imageFields("v", { target: badTarget }), ["target"], T1), InvalidArgumentError);
      await assert.rejects(store.create("invalid", imageFields("w", { target: badTarget }), T1), InvalidArgumentError);
      await assert.rejects(store.put("invalid", imageFields("v", { target: badTarget }), T1), InvalidArgumentError);
      await assert.rejects(store.update("invalid", imageFields("v"), ["labels", "name"], T1), InvalidArgumentError);
      const stored = await store.get("invalid", "v");
      assert.deepEqual(stored?.labels, { a: "1" });
      assert.equal(stored?.updatedAt.getTime(), T0.getTime());
      assert.equal(await store.get("invalid", "w"), null);
    });

    it("deletes, optionally only while the image still points at a digest", async () => {
      await store.create("del", imageFields("d"), T0);
      assert.equal(await store.delete("del", "d", digestOf("something else")), false);
      assert.ok(await store.get("del", "d"));
      assert.equal(await store.delete("del", "d", digestOf("d")), true);
      assert.equal(await store.delete("del", "d"), false);
      await store.create("del", imageFields("e"), T0);
      assert.equal(await store.delete("del", "e", "sha256:\u0000"), false);
      assert.ok(await store.get("del", "e"));
    });
  });
}
