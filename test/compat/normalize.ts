// What the differential test compares: status codes, and images without
// their timestamps (those follow rules, checked in timestamps.ts).

import { isDeepStrictEqual } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Image } from "../../gen/containerd/services/images/v1/images_pb.js";
import type { Descriptor } from "../../gen/containerd/types/descriptor_pb.js";
import type { Operation } from "./operations.js";

export interface PlainDescriptor {
  mediaType: string;
  digest: string;
  size: string;
  annotations: Record<string, string>;
}

export interface PlainImage {
  name: string;
  labels: Record<string, string>;
  target: PlainDescriptor | null;
}

/** One call's answer. `images` keeps the wire form (timestamps included); a missing image is undefined. */
export type Outcome =
  | { ok: true; images: (Image | undefined)[] }
  | { ok: false; code: Code; message: string };

// Go randomises map order on the wire; sorted keys keep a seeded run reproducible.
function sortedMap(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function plainDescriptor(target: Descriptor | undefined): PlainDescriptor | null {
  if (target === undefined) return null;
  const { mediaType, digest, size, annotations } = target;
  return { mediaType, digest, size: size.toString(), annotations: sortedMap(annotations) };
}

export function plainImage(image: Image | undefined): PlainImage | null {
  if (image === undefined) return null;
  return { name: image.name, labels: sortedMap(image.labels), target: plainDescriptor(image.target) };
}

export function statusOf(outcome: Outcome): string {
  return outcome.ok ? "OK" : Code[outcome.code];
}

export async function outcomeOf(call: () => Promise<(Image | undefined)[]>): Promise<Outcome> {
  try {
    return { ok: true, images: await call() };
  } catch (error) {
    const { code, rawMessage } = ConnectError.from(error);
    return { ok: false, code, message: rawMessage };
  }
}

/** Why two outcomes differ, or undefined when they agree: codes exactly, images in order. */
export function difference(reference: Outcome, ours: Outcome): string | undefined {
  if (statusOf(reference) !== statusOf(ours)) return `status ${statusOf(reference)} (containerd) vs ${statusOf(ours)} (ours)`;
  if (!reference.ok || !ours.ok) return undefined;
  const theirs = reference.images.map(plainImage);
  const mine = ours.images.map(plainImage);
  return isDeepStrictEqual(theirs, mine) ? undefined : `images differ:\n  containerd: ${show(theirs)}\n  ours:       ${show(mine)}`;
}

/** JSON for humans: bigints as strings, long strings shortened. */
export function show(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === "$typeName") return undefined;
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "string" && v.length > 80) return `${v.slice(0, 20)}…(${v.length} chars)`;
    return v;
  });
}

export function describeOutcome(outcome: Outcome): string {
  return outcome.ok ? `OK ${show(outcome.images.map(plainImage))}` : `${Code[outcome.code]}: ${outcome.message}`;
}

/** The reference's images as its answers showed them; the generator aims its calls at them. */
export class KnownImages {
  private readonly byNamespace = new Map<string, Map<string, PlainImage>>();

  images(namespace: string): PlainImage[] {
    return [...(this.byNamespace.get(namespace)?.values() ?? [])];
  }

  image(namespace: string, name: string): PlainImage | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  record(operation: Operation, outcome: Outcome): void {
    if (!outcome.ok) return;
    const images = this.byNamespace.get(operation.namespace) ?? new Map<string, PlainImage>();
    this.byNamespace.set(operation.namespace, images);
    if (operation.kind === "delete") images.delete(operation.request.name ?? "");
    if (operation.kind !== "create" && operation.kind !== "update") return;
    const written = plainImage(outcome.images[0]);
    if (written !== null) images.set(written.name, written);
  }
}
