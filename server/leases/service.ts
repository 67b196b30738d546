import { randomBytes } from "node:crypto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../errors.js";
import { parseFilters } from "../filters/parse.js";
import { isStorableText } from "../db/storable-text.js";
import { validateStringMap, MAX_LABEL_BYTES } from "../images/validate.js";
import type { Lease, LeaseStore } from "./sql-store.js";

// Ids are part of the primary key, and a btree entry holds at most 2704 bytes.
const MAX_ID_BYTES = 1024;

/** Like containerd's generated lease ids: time-ordered, with a random suffix. */
function generateLeaseId(): string {
  return `${Date.now()}-${randomBytes(3).toString("base64url")}`;
}

function validateId(id: string): void {
  if (!isStorableText(id)) throw new InvalidArgumentError("lease id must be valid UTF-8 without NUL characters");
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new InvalidArgumentError(`lease id is longer than ${MAX_ID_BYTES} bytes`);
}

/** Leases are kept as records only: nothing is garbage collected here. */
export class LeaseService {
  constructor(
    private readonly store: LeaseStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(namespace: string, id: string, labels: Record<string, string>): Promise<Lease> {
    const lease = { id: id || generateLeaseId(), labels, createdAt: this.clock() };
    validateId(lease.id);
    validateStringMap(labels, "labels", MAX_LABEL_BYTES);
    const created = await this.store.create(namespace, lease);
    if (created === null) throw new AlreadyExistsError(`lease ${JSON.stringify(lease.id)}: already exists`);
    return created;
  }

  async delete(namespace: string, id: string): Promise<void> {
    if (!(await this.store.delete(namespace, id))) throw new NotFoundError(`lease ${JSON.stringify(id)}: not found`);
  }

  list(namespace: string, filters: readonly string[]): Promise<Lease[]> {
    return this.store.list(namespace, parseFilters(filters));
  }
}
