import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AlreadyExistsError, NotFoundError } from "../../server/errors.js";
import type { ImageEvent } from "../../server/images/events.js";
import { ImageService } from "../../server/images/service.js";
import { sqlImageStore } from "../../server/images/sql-store.js";
import { backends, type TestDatabase } from "../support/database.js";
import { digestOf, imageFields } from "../support/fixtures.js";

describe("ImageService: errors and change events over the real store", () => {
  let testDb: TestDatabase;
  let service: ImageService;
  const events: ImageEvent[] = [];
  let now = Date.parse("2026-01-01T00:00:00Z");
  before(async () => {
    testDb = await backends[0]!.open();
    service = new ImageService(sqlImageStore(testDb.db), (event) => events.push(event), () => new Date((now += 1000)));
  });
  after(() => testDb.dispose());

  it("reports each successful write after it happens, and nothing for a failed one", async () => {
    await service.create("ev", imageFields("a", { labels: { k: "v" } }));
    await assert.rejects(service.create("ev", imageFields("a")), AlreadyExistsError);
    await service.put("ev", imageFields("b"));
    await service.put("ev", imageFields("b", { target: { ...imageFields("b").target, digest: digestOf("b2") } }));
    await service.update("ev", imageFields("a", { labels: { k: "w" } }), ["labels.k"]);
    await assert.rejects(service.update("ev", imageFields("missing"), []), NotFoundError);
    await service.delete("ev", "b");
    await assert.rejects(service.delete("ev", "b"), NotFoundError);
    assert.deepEqual(events, [
      { topic: "/images/create", namespace: "ev", name: "a", labels: { k: "v" } },
      { topic: "/images/create", namespace: "ev", name: "b", labels: {} },
      { topic: "/images/update", namespace: "ev", name: "b", labels: {} },
      { topic: "/images/update", namespace: "ev", name: "a", labels: { k: "w" } },
      { topic: "/images/delete", namespace: "ev", name: "b" },
    ]);
  });

  it("uses source_date_epoch instead of the clock when given", async () => {
    const epoch = new Date("2020-01-01T00:00:00Z");
    const created = await service.create("ev", imageFields("s"), { sourceDateEpoch: epoch });
    assert.equal(created.createdAt.getTime(), epoch.getTime());
    const updated = await service.update("ev", imageFields("s"), [], { sourceDateEpoch: epoch });
    assert.equal(updated.updatedAt.getTime(), epoch.getTime());
  });
});
