import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ImageCache, WARM_INTERVAL_MS } from "../../server/images/cache.js";
import type { Image } from "../../server/images/image.js";
import type { NamespaceRead } from "../../server/images/store.js";
import { imageFields } from "../support/fixtures.js";

const T0 = new Date("2026-01-01T00:00:00.000Z");

function image(name: string, version = "1"): Image {
  return { ...imageFields(name, { labels: { version } }), createdAt: T0, updatedAt: T0 };
}

/** What a namespace read found: images, as of a snapshot the cache only keeps. */
function namespaceRead(images: Image[]): NamespaceRead {
  return { images, asOf: "snapshot" };
}

/** A read of the database that the test finishes when it chooses. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A cache that is live, and a counter of the reads it made. */
function liveCache(maxBytes = 1024 * 1024) {
  const cache = new ImageCache(maxBytes);
  cache.goLive();
  let reads = 0;
  const read = (result: Image | null) => () => {
    reads++;
    return Promise.resolve(result);
  };
  return { cache, read, reads: () => reads };
}

describe("image cache", () => {
  it("reads an image once, then answers from memory", async () => {
    const { cache, read, reads } = liveCache();
    const a = image("a");
    assert.deepEqual(await cache.get("ns", "a", read(a)), a);
    assert.deepEqual(await cache.get("ns", "a", read(image("a", "other"))), a);
    assert.equal(reads(), 1);
  });

  it("keeps images frozen, so no caller can change the kept copy", async () => {
    const { cache, read } = liveCache();
    const kept = await cache.get("ns", "a", read(image("a")));
    assert.throws(() => ((kept!.labels as Record<string, string>).version = "2"), TypeError);
    assert.throws(() => ((kept!.target as { digest: string }).digest = "x"), TypeError);
  });

  it("does not keep a miss", async () => {
    const { cache, read, reads } = liveCache();
    assert.equal(await cache.get("ns", "a", read(null)), null);
    assert.equal(await cache.get("ns", "a", read(null)), null);
    assert.equal(reads(), 2);
  });

  it("keeps namespaces apart", async () => {
    const { cache, read } = liveCache();
    await cache.get("ns1", "a", read(image("a", "1")));
    assert.equal((await cache.get("ns2", "a", read(image("a", "2"))))?.labels.version, "2");
  });

  it("reads again after an invalidation of that image, and only that image", async () => {
    const { cache, read, reads } = liveCache();
    await cache.get("ns", "a", read(image("a")));
    await cache.get("ns", "b", read(image("b")));
    cache.invalidate("ns", "a");
    assert.equal((await cache.get("ns", "a", read(image("a", "2"))))?.labels.version, "2");
    await cache.get("ns", "b", read(image("b", "2")));
    assert.equal(reads(), 3);
  });

  it("does not keep what a read found when its image changed while it was reading", async () => {
    const { cache, read, reads } = liveCache();
    const slow = deferred<Image | null>();
    const inFlight = cache.get("ns", "a", () => slow.promise);
    cache.invalidate("ns", "a");
    slow.resolve(image("a", "old"));
    assert.equal((await inFlight)?.labels.version, "old", "the caller still gets its answer");
    assert.equal((await cache.get("ns", "a", read(image("a", "new"))))?.labels.version, "new");
    assert.equal(reads(), 1);
  });

  it("reads announced as everything-changed are not kept either", async () => {
    const { cache, read } = liveCache();
    const slow = deferred<Image | null>();
    const inFlight = cache.get("ns", "a", () => slow.promise);
    cache.announced("");
    slow.resolve(image("a", "old"));
    await inFlight;
    assert.equal((await cache.get("ns", "a", read(image("a", "new"))))?.labels.version, "new");
  });

  it("reads the payload of an announcement as namespace, newline, name", async () => {
    const { cache, read, reads } = liveCache();
    await cache.get("ns", "name\nwith newline", read(image("name\nwith newline")));
    await cache.get("ns", "b", read(image("b")));
    cache.announced("ns\nname\nwith newline");
    await cache.get("ns", "name\nwith newline", read(image("x")));
    await cache.get("ns", "b", read(image("b")));
    assert.equal(reads(), 3, "only the announced image was read again");
    cache.announced("");
    assert.equal(cache.size, 0);
  });

  it("answers nothing from memory and keeps nothing until live, and again after lost", async () => {
    const cache = new ImageCache(1024 * 1024);
    let reads = 0;
    const read = () => (reads++, Promise.resolve(image("a")));
    await cache.get("ns", "a", read);
    await cache.get("ns", "a", read);
    assert.equal(reads, 2);
    assert.equal(cache.size, 0);

    cache.goLive();
    await cache.get("ns", "a", read);
    await cache.get("ns", "a", read);
    assert.equal(reads, 3);

    cache.lost();
    assert.equal(cache.live, false);
    assert.equal(cache.size, 0);
    await cache.get("ns", "a", read);
    assert.equal(reads, 4);
  });

  it("does not keep a read that was in flight when announcements were lost", async () => {
    const { cache, read, reads } = liveCache();
    const slow = deferred<Image | null>();
    const inFlight = cache.get("ns", "a", () => slow.promise);
    cache.lost();
    cache.goLive();
    slow.resolve(image("a", "old"));
    await inFlight;
    assert.equal((await cache.get("ns", "a", read(image("a", "new"))))?.labels.version, "new");
    assert.equal(reads(), 1);
  });

  it("drops the least recently used images past its memory limit", async () => {
    // Each of these images is estimated at about 1,400 bytes (with its answer): three fit in 4,500.
    const { cache, read, reads } = liveCache(4_500);
    await cache.get("ns", "a", read(image("a")));
    await cache.get("ns", "b", read(image("b")));
    await cache.get("ns", "a", read(image("a"))); // a is now the most recently used
    await cache.get("ns", "c", read(image("c")));
    await cache.get("ns", "d", read(image("d"))); // b goes
    assert.equal(cache.size, 3);
    const before = reads();
    await cache.get("ns", "a", read(image("a")));
    assert.equal(reads(), before, "a was kept");
    await cache.get("ns", "b", read(image("b")));
    assert.equal(reads(), before + 1, "b was dropped");
  });

  it("does not keep an image larger than the whole cache", async () => {
    const { cache, read } = liveCache(2_000);
    await cache.get("ns", "big", read({ ...image("big"), labels: { big: "x".repeat(5_000) } }));
    assert.equal(cache.size, 0);
  });

  describe("warming a namespace", () => {
    it("keeps the images read, so that Gets of them read nothing", async () => {
      const { cache, read, reads } = liveCache();
      const all = deferred<NamespaceRead>();
      cache.warm("ns", () => all.promise);
      all.resolve(namespaceRead([image("a"), image("b")]));
      await all.promise;
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.size, 2);
      await cache.get("ns", "a", read(null));
      assert.equal(reads(), 0);
    });

    it("asks for as many images as the free room could hold, and for none when the cache is full", async () => {
      const { cache, read } = liveCache(120_000);
      let limit = 0;
      cache.warm("ns", async (l) => ((limit = l), namespaceRead([])));
      assert.equal(limit, 100);

      const { cache: small } = liveCache(5_200);
      await small.get("ns", "a", read(image("a")));
      small.warm("ns", async (l) => ((limit = l), namespaceRead([])));
      assert.equal(limit, 3, "room for about three more");
      await small.get("ns", "b", read(image("b")));
      await small.get("ns", "c", read(image("c")));
      limit = -1;
      small.warm("other", async (l) => ((limit = l), namespaceRead([])));
      assert.equal(limit, -1, "nothing was read");
    });

    it("skips the images changed while it read, and drops everything after lost", async () => {
      const { cache } = liveCache();
      const all = deferred<NamespaceRead>();
      cache.warm("ns", () => all.promise);
      cache.invalidate("ns", "a");
      all.resolve(namespaceRead([image("a"), image("b")]));
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.size, 1);

      const again = deferred<NamespaceRead>();
      cache.warm("other", () => again.promise);
      cache.lost();
      cache.goLive();
      again.resolve(namespaceRead([image("c")]));
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.size, 0);
    });

    it("reads a namespace at most once per interval, and not while not live", async () => {
      const { cache } = liveCache();
      let warms = 0;
      const readFirst = async () => (warms++, namespaceRead([]));
      cache.warm("ns", readFirst, 1_000);
      await new Promise((r) => setImmediate(r));
      cache.warm("ns", readFirst, 1_000 + WARM_INTERVAL_MS - 1);
      assert.equal(warms, 1);
      cache.warm("ns", readFirst, 1_000 + WARM_INTERVAL_MS);
      assert.equal(warms, 2);
      cache.lost();
      cache.warm("other", readFirst);
      assert.equal(warms, 2);
    });

    it("holds a namespace whole when it read all of it, in the order read, until one of its images changes", async () => {
      const { cache } = liveCache();
      cache.warm("ns", async () => namespaceRead([image("a"), image("b"), image("c")]));
      cache.warm("other", async () => namespaceRead([image("x")]));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(cache.list("ns")?.images.map((i) => i.name), ["a", "b", "c"]);
      cache.invalidate("ns", "new-image");
      assert.equal(cache.list("ns"), undefined);
      assert.deepEqual(cache.list("other")?.images.map((i) => i.name), ["x"]);
      cache.lost();
      assert.equal(cache.list("other"), undefined);
    });

    it("stops holding a namespace whole when told of additions, unless it was read whole again since", async () => {
      const { cache } = liveCache();
      cache.warm("ns", async () => ({ images: [image("a")], asOf: "before" }), 0);
      await new Promise((r) => setImmediate(r));
      const before = cache.list("ns")!;
      assert.equal(before.asOf, "before");
      cache.warm("ns", async () => ({ images: [image("a"), image("b")], asOf: "after" }), WARM_INTERVAL_MS);
      await new Promise((r) => setImmediate(r));
      cache.notWhole("ns", before);
      assert.equal(cache.list("ns")?.asOf, "after");
      cache.notWhole("ns", cache.list("ns")!);
      assert.equal(cache.list("ns"), undefined);
    });

    it("does not hold a namespace whole when the limit cut the read short, or an image changed meanwhile", async () => {
      const { cache } = liveCache(2_400); // room to ask for 2
      cache.warm("cut", async (limit) => namespaceRead(["a", "b", "c"].slice(0, limit).map((n) => image(n))));
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.list("cut"), undefined);

      const { cache: other } = liveCache();
      const all = deferred<NamespaceRead>();
      other.warm("ns", () => all.promise);
      other.invalidate("ns", "b");
      all.resolve(namespaceRead([image("a"), image("b")]));
      await new Promise((r) => setImmediate(r));
      assert.equal(other.list("ns"), undefined);
    });

    it("stops holding a namespace whole when one of its images is dropped for room", async () => {
      const { cache, read } = liveCache(4_500);
      cache.warm("ns", async () => namespaceRead([image("a"), image("b")]));
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.list("ns")?.images.length, 2);
      await cache.get("other", "c", read(image("c")));
      await cache.get("other", "d", read(image("d")));
      assert.equal(cache.list("ns"), undefined);
    });

    it("fills only free memory: images already kept stay", async () => {
      const { cache, read, reads } = liveCache(4_500);
      await cache.get("ns", "kept", read(image("kept")));
      const all = deferred<NamespaceRead>();
      cache.warm("ns", () => all.promise);
      all.resolve(namespaceRead(["w1", "w2", "w3", "w4"].map((n) => image(n))));
      await new Promise((r) => setImmediate(r));
      assert.equal(cache.size, 3);
      await cache.get("ns", "kept", read(null));
      assert.equal(reads(), 1, "the image kept before warming was not dropped for it");
    });
  });
});
