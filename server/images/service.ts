import { AlreadyExistsError, NotFoundError } from "../errors.js";
import { parseFilters } from "../filters/parse.js";
import { discardEvents, type ImageEventSink } from "./events.js";
import type { Image } from "./image.js";
import type { ImageFields, ImageStore } from "./store.js";

export interface WriteOptions {
  /** Used as the write's timestamp instead of the clock (reproducible builds). */
  sourceDateEpoch?: Date;
}

const notFound = (name: string) => new NotFoundError(`image ${JSON.stringify(name)}: not found`);

/**
 * The operations both APIs offer, over one store: the clock, events, and
 * the translation of a store's miss into a domain error.
 */
export class ImageService {
  constructor(
    private readonly store: ImageStore,
    private readonly publish: ImageEventSink = discardEvents,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async get(namespace: string, name: string): Promise<Image> {
    return (await this.store.get(namespace, name)) ?? Promise.reject(notFound(name));
  }

  /** signal: the caller gave up; a List still waiting for the database is then not run. */
  list(namespace: string, filters: readonly string[], signal?: AbortSignal): Promise<Image[]> {
    return this.store.list(namespace, parseFilters(filters), signal);
  }

  async create(namespace: string, image: ImageFields, options: WriteOptions = {}): Promise<Image> {
    const created = await this.store.create(namespace, image, options.sourceDateEpoch ?? this.clock());
    if (created === null) throw new AlreadyExistsError(`image ${JSON.stringify(image.name)}: already exists`);
    this.publish({ topic: "/images/create", namespace, name: created.name, labels: created.labels });
    return created;
  }

  async put(namespace: string, image: ImageFields): Promise<Image> {
    const stored = await this.store.put(namespace, image, this.clock());
    // A replaced image keeps its earlier created_at; a new one has both equal.
    const topic = stored.createdAt.getTime() === stored.updatedAt.getTime() ? "/images/create" : "/images/update";
    this.publish({ topic, namespace, name: stored.name, labels: stored.labels });
    return stored;
  }

  async update(namespace: string, image: ImageFields, paths: readonly string[], options: WriteOptions = {}) {
    const updated = await this.store.update(namespace, image, paths, options.sourceDateEpoch ?? this.clock());
    if (updated === null) throw notFound(image.name);
    this.publish({ topic: "/images/update", namespace, name: updated.name, labels: updated.labels });
    return updated;
  }

  async delete(namespace: string, name: string, expectedDigest?: string): Promise<void> {
    if (!(await this.store.delete(namespace, name, expectedDigest))) throw notFound(name);
    this.publish({ topic: "/images/delete", namespace, name });
  }
}
