import type { Database } from "../db/database.js";
import { imageFields } from "../filters/image-fields.js";
import { matches } from "../filters/match.js";
import type { ImageCache } from "./cache.js";
import type { ImageStore } from "./store.js";

/** Where migrations/0003 announces every committed change to an image. */
const IMAGE_CHANGES = "image_changes";

/**
 * Gets answered from the cache when it holds the image, Lists when it holds
 * the whole namespace and nothing was added to it since. This process's own
 * writes drop the copy before they answer, so its clients always read what
 * they wrote; other processes' changes drop it when Postgres delivers their
 * announcement. Their additions are not announced (migrations/0004): a new
 * name is in no cache, and a namespace held whole is checked before each List.
 */
export function cachedImageStore(store: ImageStore, cache: ImageCache): ImageStore {
  const warm = (namespace: string) => cache.warm(namespace, (limit) => store.first(namespace, limit));
  async function dropAfter<T>(namespace: string, name: string, write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      cache.invalidate(namespace, name);
    }
  }
  return {
    get: (namespace, name) =>
      cache.get(namespace, name, () => {
        warm(namespace);
        return store.get(namespace, name);
      }),
    async list(namespace, filter, signal) {
      const whole = cache.list(namespace);
      if (whole !== undefined) {
        if (!(await store.addedSince(namespace, whole.asOf))) return whole.images.filter((image) => matches(filter, imageFields(image)));
        cache.notWhole(namespace, whole);
      }
      warm(namespace);
      return store.list(namespace, filter, signal);
    },
    first: (namespace, limit) => store.first(namespace, limit),
    addedSince: (namespace, asOf) => store.addedSince(namespace, asOf),
    create: (namespace, image, now) => dropAfter(namespace, image.name, store.create(namespace, image, now)),
    put: (namespace, image, now) => dropAfter(namespace, image.name, store.put(namespace, image, now)),
    update: (namespace, image, paths, now, current) =>
      dropAfter(namespace, image.name, store.update(namespace, image, paths, now, current ?? cache.peek(namespace, image.name))),
    delete: (namespace, name, expectedDigest) => dropAfter(namespace, name, store.delete(namespace, name, expectedDigest)),
  };
}

/** Keeps the cache in step with the announced changes; resolves to the unsubscribe. */
export function followImageChanges(db: Database, cache: ImageCache): Promise<() => Promise<void>> {
  return db.listen(IMAGE_CHANGES, {
    notify: (payload) => cache.announced(payload),
    ready: () => cache.goLive(),
    lost: () => cache.lost(),
  });
}
