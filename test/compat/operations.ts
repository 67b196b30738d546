// Seeded random calls of containerd.services.images.v1.Images for the
// differential test, drawn from the pools in pools.ts.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  CreateImageRequestSchema,
  DeleteImageRequestSchema,
  GetImageRequestSchema,
  ImageSchema,
  ListImagesRequestSchema,
  UpdateImageRequestSchema,
} from "../../gen/containerd/services/images/v1/images_pb.js";
import type { DescriptorSchema } from "../../gen/containerd/types/descriptor_pb.js";
import { randomFilters } from "./filters.js";
import type { KnownImages } from "./normalize.js";
import {
  ANNOTATION_KEYS,
  ANNOTATION_VALUES,
  DIGESTS,
  INVALID_DIGESTS,
  LABEL_KEYS,
  LABEL_VALUES,
  MEDIA_TYPES,
  NAMES,
  NAMESPACES,
} from "./pools.js";

/** mulberry32: tiny, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(items.length)]!;
  }
}

type Descriptor = MessageInitShape<typeof DescriptorSchema>;
type ImageInit = MessageInitShape<typeof ImageSchema>;

export type Operation =
  | { kind: "create"; namespace: string; request: MessageInitShape<typeof CreateImageRequestSchema> }
  | { kind: "get"; namespace: string; request: MessageInitShape<typeof GetImageRequestSchema> }
  | { kind: "update"; namespace: string; request: MessageInitShape<typeof UpdateImageRequestSchema> }
  | { kind: "list"; namespace: string; request: MessageInitShape<typeof ListImagesRequestSchema> }
  | { kind: "delete"; namespace: string; request: MessageInitShape<typeof DeleteImageRequestSchema> };

export type OperationKind = Operation["kind"];
export const OPERATION_KINDS: readonly OperationKind[] = ["create", "get", "update", "list", "delete"];

const VALID_SIZES = [1n, 512n, 1234n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n];
const INVALID_SIZES = [0n, -1n, -(2n ** 63n)];

// containerd's limit is key + value <= 4096 BYTES, so "é" (2 bytes) checks
// that bytes, not characters, are counted.
const BIG_LABELS: ReadonlyArray<readonly [string, string]> = [
  ["big", "v".repeat(4093)],
  ["big", "v".repeat(4094)],
  ["big", "é".repeat(2046)],
  ["big", "é".repeat(2047)],
  ["k".repeat(4097), ""],
];

/** A 1.6 client sends zero timestamps (0001-01-01); both servers must ignore client timestamps. */
const ZERO_TIME: Timestamp = timestampFromMs(-62_135_596_800_000);

function stringMap(rng: Random, keys: readonly string[], values: readonly string[], max: number) {
  const map: Record<string, string> = {};
  for (let n = rng.int(max + 1); n > 0; n--) map[rng.pick(keys)] = rng.pick(values);
  return map;
}

function labels(rng: Random): Record<string, string> {
  const map = stringMap(rng, LABEL_KEYS, LABEL_VALUES, 3);
  if (rng.chance(0.04)) {
    const [key, value] = rng.pick(BIG_LABELS);
    map[key] = value;
  }
  return map;
}

const annotations = (rng: Random) => stringMap(rng, ANNOTATION_KEYS, ANNOTATION_VALUES, 2);

function validTarget(rng: Random): Descriptor {
  return {
    mediaType: rng.pick(MEDIA_TYPES),
    digest: rng.pick(DIGESTS),
    size: rng.pick(VALID_SIZES),
    annotations: annotations(rng),
  };
}

/** Breaks exactly one field, so each validation rule is exercised on its own. */
function invalidTarget(rng: Random): Descriptor {
  const target = validTarget(rng);
  switch (rng.int(3)) {
    case 0:
      return { ...target, digest: rng.pick(INVALID_DIGESTS) };
    case 1:
      return { ...target, size: rng.pick(INVALID_SIZES) };
    default:
      return { ...target, mediaType: "" };
  }
}

function target(rng: Random): Descriptor | undefined {
  const r = rng.next();
  if (r < 0.82) return validTarget(rng);
  if (r < 0.97) return invalidTarget(rng);
  return undefined;
}

/** Random ms in 1970..2100, sometimes with nanoseconds below the millisecond. */
function sourceDateEpoch(rng: Random): Timestamp | undefined {
  if (!rng.chance(0.25)) return undefined;
  const timestamp = timestampFromMs(rng.int(4_102_444_800) * 1000 + rng.int(1000));
  if (rng.chance(0.2)) timestamp.nanos += rng.int(1_000_000);
  return timestamp;
}

function clientTimestamps(rng: Random): Pick<ImageInit, "createdAt" | "updatedAt"> {
  if (rng.chance(0.6)) return {};
  const at = rng.chance(0.5) ? ZERO_TIME : timestampFromMs(rng.int(2_000_000_000) * 1000);
  return { createdAt: at, updatedAt: at };
}

/** Mostly names the reference holds, so Get/Update/Delete often succeed. */
function name(rng: Random, known: KnownImages, namespace: string, existing: number): string {
  if (rng.chance(0.03)) return "";
  const held = known.images(namespace);
  if (held.length > 0 && rng.chance(existing)) return rng.pick(held).name;
  return rng.pick(NAMES);
}

function createOperation(rng: Random, known: KnownImages): Operation {
  const namespace = rng.pick(NAMESPACES);
  const image: ImageInit | undefined = rng.chance(0.02)
    ? undefined
    : { name: name(rng, known, namespace, 0.3), labels: labels(rng), target: target(rng), ...clientTimestamps(rng) };
  return { kind: "create", namespace, request: { image, sourceDateEpoch: sourceDateEpoch(rng) } };
}

const INVALID_PATHS = ["name", "created_at", "updated_at", "bogus", "target.digest", "target.annotations", "Labels", ""];

/** One mask path; `request` is changed so that keyed paths are sometimes present in it, sometimes not. */
function maskPath(rng: Random, request: ImageInit): string {
  const r = rng.next();
  if (r < 0.3) {
    const key = rng.pick(LABEL_KEYS);
    if (rng.chance(0.6)) request.labels = { ...request.labels, [key]: rng.pick(LABEL_VALUES) };
    return `labels.${key}`;
  }
  if (r < 0.45) {
    const key = rng.pick(ANNOTATION_KEYS);
    if (rng.chance(0.6) && request.target !== undefined) {
      request.target = { ...request.target, annotations: { ...request.target.annotations, [key]: rng.pick(ANNOTATION_VALUES) } };
    }
    return `annotations.${key}`;
  }
  if (r < 0.85) return rng.pick(["labels", "target", "annotations", "labels.", "annotations."]);
  return rng.pick(INVALID_PATHS);
}

function randomMask(rng: Random, request: ImageInit): { paths: string[] } | undefined {
  const r = rng.next();
  if (r < 0.18) return undefined;
  if (r < 0.22) return { paths: [] };
  return { paths: Array.from({ length: 1 + rng.int(3) }, () => maskPath(rng, request)) };
}

function updateOperation(rng: Random, known: KnownImages): Operation {
  const namespace = rng.pick(NAMESPACES);
  if (rng.chance(0.01)) return { kind: "update", namespace, request: {} };
  const image: ImageInit = { name: name(rng, known, namespace, 0.75), labels: labels(rng), target: target(rng), ...clientTimestamps(rng) };
  const updateMask = randomMask(rng, image);
  return { kind: "update", namespace, request: { image, updateMask, sourceDateEpoch: sourceDateEpoch(rng) } };
}

function getOperation(rng: Random, known: KnownImages): Operation {
  const namespace = rng.pick(NAMESPACES);
  return { kind: "get", namespace, request: { name: name(rng, known, namespace, 0.5) } };
}

function listOperation(rng: Random, known: KnownImages): Operation {
  const namespace = rng.pick(NAMESPACES);
  return { kind: "list", namespace, request: { filters: randomFilters(rng, known.images(namespace)) } };
}

// A target whose digest differs from the stored one is a deliberate
// difference (containerd 1.6 ignores the field), so targets sent here match
// the image, name a missing image, or have no digest.
function deleteTarget(rng: Random, known: KnownImages, namespace: string, image: string): Descriptor | undefined {
  if (!rng.chance(0.3)) return undefined;
  const held = known.image(namespace, image);
  if (rng.chance(0.2)) return { ...validTarget(rng), digest: "" };
  if (held?.target == null) return validTarget(rng);
  return { mediaType: held.target.mediaType, digest: held.target.digest, size: BigInt(held.target.size) };
}

function deleteOperation(rng: Random, known: KnownImages): Operation {
  const namespace = rng.pick(NAMESPACES);
  const image = name(rng, known, namespace, 0.6);
  const target = deleteTarget(rng, known, namespace, image);
  return { kind: "delete", namespace, request: { name: image, sync: rng.chance(0.3), target } };
}

const WEIGHTED: ReadonlyArray<readonly [number, (rng: Random, known: KnownImages) => Operation]> = [
  [0.28, createOperation],
  [0.14, getOperation],
  [0.24, updateOperation],
  [0.22, listOperation],
  [0.12, deleteOperation],
];

export function randomOperation(rng: Random, known: KnownImages): Operation {
  let r = rng.next();
  for (const [weight, generate] of WEIGHTED) {
    if (r < weight) return generate(rng, known);
    r -= weight;
  }
  return listOperation(rng, known);
}
