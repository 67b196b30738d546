import { isStorableText } from "../db/storable-text.js";
import { InvalidArgumentError } from "../errors.js";
import type { Descriptor, Image } from "./image.js";

export const MAX_NAME_BYTES = 4096;
/** containerd's limit: a label's key and value together. */
export const MAX_LABEL_BYTES = 4096;
const INT64_MAX = 2n ** 63n - 1n;

const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const byteLength = (s: string) => Buffer.byteLength(s, "utf8");

function validateName(name: string): void {
  const field = "image.name";
  if (name === "") throw new InvalidArgumentError(`${field} is required`);
  if (!isStorableText(name)) throw new InvalidArgumentError(`${field} must be valid UTF-8 without NUL characters`);
  if (byteLength(name) > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`${field} is ${byteLength(name)} bytes; at most ${MAX_NAME_BYTES} are allowed`);
  }
}

function validateDigest(digest: string, field: string): void {
  const [algorithm, hex, ...rest] = digest.split(":");
  const expected = algorithm === undefined ? undefined : DIGEST_HEX_LENGTHS[algorithm];
  const ok = rest.length === 0 && expected !== undefined && hex !== undefined && hex.length === expected && /^[0-9a-f]+$/.test(hex);
  if (!ok) {
    throw new InvalidArgumentError(
      `${field} ${JSON.stringify(digest)} is not a valid digest: want sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>, lowercase`,
    );
  }
}

/**
 * Labels and annotations: what Postgres can store, and for labels containerd's
 * size rule (it has none for annotations; the message size limit bounds them).
 */
export function validateStringMap(map: Record<string, string>, field: string, maxEntryBytes = Infinity): void {
  for (const [key, value] of Object.entries(map)) {
    // An empty value removes the entry, so only a key that would be stored must be non-empty.
    if (key === "" && value !== "") throw new InvalidArgumentError(`${field}: keys must not be empty`);
    if (!isStorableText(key) || !isStorableText(value)) {
      throw new InvalidArgumentError(`${field}: key ${JSON.stringify(key)} must be valid UTF-8 without NUL characters`);
    }
    if (byteLength(key) + byteLength(value) > maxEntryBytes) {
      throw new InvalidArgumentError(
        `${field}: key and value of ${JSON.stringify(key)} are longer than ${maxEntryBytes} bytes together`,
      );
    }
  }
}

function validateTarget(target: Descriptor): void {
  const field = "image.target";
  validateDigest(target.digest, `${field}.digest`);
  if (target.size <= 0n) throw new InvalidArgumentError(`${field}.size must be greater than 0`);
  if (target.size > INT64_MAX) throw new InvalidArgumentError(`${field}.size does not fit in int64`);
  if (target.mediaType === "") throw new InvalidArgumentError(`${field}.media_type is required`);
  if (!isStorableText(target.mediaType)) {
    throw new InvalidArgumentError(`${field}.media_type must be valid UTF-8 without NUL characters`);
  }
  validateStringMap(target.annotations, `${field}.annotations`);
}

/** The invariants of a stored image, checked inside every write. */
export function validateImage(image: Pick<Image, "name" | "labels" | "target">): void {
  validateName(image.name);
  validateStringMap(image.labels, "image.labels", MAX_LABEL_BYTES);
  validateTarget(image.target);
}
