import type { Filter } from "../filters/parse.js";
import type { Image } from "./image.js";

/** What a caller gives when writing an image; timestamps are the store's. */
export type ImageFields = Pick<Image, "name" | "labels" | "target">;

/** Images of a namespace in name order, and when they were read (what addedSince compares with). */
export interface NamespaceRead {
  images: readonly Image[];
  /** Opaque: a database snapshot taken before the images were read. */
  asOf: string;
}

export interface ImageStore {
  /** null when the image does not exist. */
  get(namespace: string, name: string): Promise<Image | null>;
  /** Matching images in byte-wise name order; not read once `signal` says the caller gave up. */
  list(namespace: string, filter: Filter, signal?: AbortSignal): Promise<Image[]>;
  /** The first `limit` images of a namespace in byte-wise name order. */
  first(namespace: string, limit: number): Promise<NamespaceRead>;
  /** Whether images were added to the namespace that a read asOf may not have seen (adding is not announced). */
  addedSince(namespace: string, asOf: string): Promise<boolean>;
  /** null when the name is taken. */
  create(namespace: string, image: ImageFields, now: Date): Promise<Image | null>;
  /** Inserts or replaces; a replaced image keeps its created_at. */
  put(namespace: string, image: ImageFields, now: Date): Promise<Image>;
  /**
   * Applies the field mask (see applyFieldMask); null when the image does not
   * exist. `current`: what the caller last read of the image (a cached copy),
   * so that it need not be read again; a stale one costs a retry, never a lost update.
   */
  update(namespace: string, image: ImageFields, paths: readonly string[], now: Date, current?: Image): Promise<Image | null>;
  /** false when nothing was deleted: no such image, or it points at another digest than expectedDigest. */
  delete(namespace: string, name: string, expectedDigest?: string): Promise<boolean>;
}
