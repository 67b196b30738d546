import { createHash } from "node:crypto";
import type { ImageFields } from "../../server/images/store.js";

export const INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json";

/** A valid sha256 digest, distinct for each seed. */
export function digestOf(seed: string | number): string {
  return `sha256:${createHash("sha256").update(String(seed)).digest("hex")}`;
}

export function imageFields(name: string, overrides: Partial<ImageFields> = {}): ImageFields {
  return {
    name,
    labels: {},
    target: { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(name), size: 1234n, annotations: {} },
    ...overrides,
  };
}

/** Polls until check() returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
