import { imageKey, type Image } from "./image.js";
import type { NamespaceRead } from "./store.js";

/** One read of the database whose result may be kept, unless a change to its image was seen meanwhile. */
interface PendingRead {
  stale: boolean;
}

/** A namespace being read whole: the keys changed meanwhile are not kept from it. */
interface Warming {
  changed: Set<string>;
  everything: boolean;
}

interface Entry {
  image: Image;
  bytes: number;
}

/** By default, a namespace is read whole at most this often (per process). */
export const WARM_INTERVAL_MS = 30_000;
/** Below what most images take in memory (see estimatedBytes): how many images to read when warming. */
const MIN_IMAGE_BYTES = 1_200;

/**
 * A rough size of an image in memory: its strings (UTF-16) plus the objects
 * around them, and the Get answer kept while the image is (its message
 * objects, and its encoding, about a byte per character; server/api/answers.ts).
 * Measured for the bench's images: 1,182 bytes for the image; 526 for the
 * answer's messages and 369 for its encoding.
 */
function estimatedBytes(image: Image): number {
  let chars = image.name.length + image.target.mediaType.length + image.target.digest.length;
  for (const map of [image.labels, image.target.annotations]) {
    for (const [k, v] of Object.entries(map)) chars += k.length + v.length + 16;
  }
  const imageBytes = 2 * chars + 400;
  const answerBytes = chars + 600;
  return imageBytes + answerBytes;
}

function frozen(image: Image): Image {
  Object.freeze(image.labels);
  Object.freeze(image.target.annotations);
  Object.freeze(image.target);
  return Object.freeze(image);
}

/**
 * Recently read images of this process, least recently used dropped first
 * past maxBytes. Postgres is the truth: a copy is kept only while every
 * change to images is being announced to this process (see
 * migrations/0003), and dropped as soon as one to its image is.
 *
 * Until live() and after lost(), nothing is kept or answered from memory:
 * changes made then would go unseen.
 */
export class ImageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Set<PendingRead>>();
  private readonly warming = new Map<string, Warming>();
  private readonly warmedAt = new Map<string, number>();
  /**
   * Namespaces whose every image is kept: from a warm that read them all,
   * until one changes. Additions are not announced: see list().
   */
  private readonly complete = new Map<string, NamespaceRead>();
  private bytes = 0;
  private isLive = false;

  /** warmIntervalMs: how often a namespace may be read whole (per process). */
  constructor(
    private readonly maxBytes: number,
    private readonly warmIntervalMs = WARM_INTERVAL_MS,
  ) {}

  get live(): boolean {
    return this.isLive;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept copy, if any, without reading or counting it as a use. */
  peek(namespace: string, name: string): Image | undefined {
    return this.entries.get(imageKey(namespace, name))?.image;
  }

  /** The kept copy, or what read() finds (kept if no change to it was announced while reading). */
  async get(namespace: string, name: string, read: () => Promise<Image | null>): Promise<Image | null> {
    const k = imageKey(namespace, name);
    const entry = this.entries.get(k);
    if (entry !== undefined) {
      this.entries.delete(k);
      this.entries.set(k, entry);
      return entry.image;
    }
    if (!this.isLive) return read();
    const mark: PendingRead = { stale: false };
    let reads = this.pending.get(k);
    if (reads === undefined) this.pending.set(k, (reads = new Set()));
    reads.add(mark);
    try {
      const image = await read();
      if (image !== null && !mark.stale) this.keep(k, frozen(image));
      return image;
    } finally {
      reads.delete(mark);
      if (reads.size === 0 && this.pending.get(k) === reads) this.pending.delete(k);
    }
  }

  /**
   * Every image of the namespace in byte-wise name order when all are kept,
   * except those added since it was read (ImageStore.addedSince tells).
   */
  list(namespace: string): NamespaceRead | undefined {
    return this.complete.get(namespace);
  }

  /** Images were added since the namespace was read whole: it is no longer. */
  notWhole(namespace: string, whole: NamespaceRead): void {
    if (this.complete.get(namespace) === whole) this.complete.delete(namespace);
  }

  /**
   * Reads a namespace's images in the background, as many as the free room
   * can keep, unless it was done within the warm interval: a namespace's images tend to be asked
   * for together (a node's images, a dashboard's rows).
   */
  warm(namespace: string, readFirst: (limit: number) => Promise<NamespaceRead>, now = Date.now()): void {
    if (!this.isLive || this.warming.has(namespace)) return;
    if (now - (this.warmedAt.get(namespace) ?? -Infinity) < this.warmIntervalMs) return;
    // Read no more than the free room can keep: a full cache reads nothing.
    const limit = Math.floor((this.maxBytes - this.bytes) / MIN_IMAGE_BYTES);
    if (limit < 1) return;
    this.warmedAt.set(namespace, now);
    const warming: Warming = { changed: new Set(), everything: false };
    this.warming.set(namespace, warming);
    readFirst(limit)
      .then(({ images, asOf }) => {
        if (warming.everything) return;
        // Read in name order; whole when the limit was not reached and all of it is kept.
        const all: Image[] = [];
        let whole = images.length < limit;
        for (const image of images) {
          const k = imageKey(namespace, image.name);
          if (warming.changed.has(k)) {
            whole = false;
            continue;
          }
          const kept = this.entries.get(k)?.image ?? (this.keep(k, frozen(image), false) ? image : undefined);
          if (kept === undefined) {
            whole = false;
            break;
          }
          all.push(kept);
        }
        if (whole) this.complete.set(namespace, { images: all, asOf });
      })
      // Only a head start: Gets read what they need themselves.
      .catch(() => {})
      .finally(() => this.warming.delete(namespace));
  }

  /** The image may have changed: forget it, and do not keep what reads in flight find. */
  invalidate(namespace: string, name: string): void {
    const k = imageKey(namespace, name);
    this.drop(k);
    this.complete.delete(namespace);
    for (const read of this.pending.get(k) ?? []) read.stale = true;
    this.warming.get(namespace)?.changed.add(k);
  }

  /** Anything may have changed. */
  invalidateAll(): void {
    this.entries.clear();
    this.complete.clear();
    this.bytes = 0;
    for (const reads of this.pending.values()) for (const read of reads) read.stale = true;
    for (const warming of this.warming.values()) warming.everything = true;
  }

  /** A payload of migrations/0003's announcements. */
  announced(payload: string): void {
    const newline = payload.indexOf("\n");
    if (newline < 0) this.invalidateAll();
    else this.invalidate(payload.slice(0, newline), payload.slice(newline + 1));
  }

  /** Changes are announced from now on. */
  goLive(): void {
    this.invalidateAll();
    this.isLive = true;
  }

  /** Announcements may have been missed: keep and answer nothing until live again. */
  lost(): void {
    this.isLive = false;
    this.invalidateAll();
  }

  /** false when it did not fit; evictOthers: drop least recently used images to make room. */
  private keep(k: string, image: Image, evictOthers = true): boolean {
    const bytes = estimatedBytes(image);
    if (bytes > this.maxBytes || (!evictOthers && this.bytes + bytes > this.maxBytes)) return false;
    this.drop(k);
    this.entries.set(k, { image, bytes });
    this.bytes += bytes;
    for (const oldest of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
    return true;
  }

  private drop(k: string): void {
    const entry = this.entries.get(k);
    if (entry === undefined) return;
    this.entries.delete(k);
    this.bytes -= entry.bytes;
    this.complete.delete(k.slice(0, k.indexOf("\n")));
  }
}
