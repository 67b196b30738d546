// The small pools the differential test draws from. Small on purpose:
// calls must collide (AlreadyExists, NotFound) and filters must match.

import { createHash } from "node:crypto";

export const NAMESPACES = ["default", "team-a", "x.y_z"] as const;

// No NUL: Postgres text cannot hold it (a documented difference). "ｚ" and
// "🐳" sort in opposite orders in UTF-8 and UTF-16, so list order is tested.
// A 3000-byte name that does not compress is longer than a btree entry can
// hold; a leading U+FEFF is what a default TextDecoder strips.
export const NAMES: readonly string[] = [
  "docker.io/library/redis:7",
  "docker.io/library/redis:7.2",
  "docker.io/library/alpine:3.19",
  "ghcr.io/Org/App:v1.0",
  "localhost:5000/a/b/c:latest",
  `registry.example.com/x@sha256:${"0".repeat(64)}`,
  "redis",
  "a",
  "A",
  "a.b",
  "name with space",
  "comma,name",
  'quote"name',
  "tab\tname",
  "ünïcödé/画像:最新",
  "ｚ-fullwidth",
  "🐳/whale:1",
  "\uFEFFbom/leading:1",
  `long/${createHash("sha512").update("long").digest("base64").repeat(35).slice(0, 2995)}`,
];

export const LABEL_KEYS: readonly string[] = [
  "env", "team", "a.b.c", "io.cri-containerd.image", "ns/key", "Env", "ключ", "with space", "x",
];
export const LABEL_VALUES: readonly string[] = ["prod", "dev", "", "a b", "ünï", "v,1", "managed", "1", "🐳"];
export const ANNOTATION_KEYS: readonly string[] = [
  "org.opencontainers.image.ref.name", "org.opencontainers.image.created", "a", "x/y", "Ä",
];
export const ANNOTATION_VALUES: readonly string[] = ["7", "latest", "", "2024-01-01T00:00:00Z", "ü ü", "a,b"];

export const MEDIA_TYPES: readonly string[] = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "x",
];

const hash = (algorithm: string, seed: string) => createHash(algorithm).update(seed).digest("hex");

export const DIGESTS: readonly string[] = [
  `sha256:${hash("sha256", "one")}`,
  `sha256:${hash("sha256", "two")}`,
  `sha256:${hash("sha256", "three")}`,
  `sha384:${hash("sha384", "four")}`,
  `sha512:${hash("sha512", "five")}`,
];

export const HEX64 = hash("sha256", "bad");
export const INVALID_DIGESTS: readonly string[] = [
  "",
  "sha256:",
  "sha256",
  HEX64,
  `sha256:${HEX64.slice(1)}`,
  `sha256:${HEX64}0`,
  `sha256:${HEX64.toUpperCase()}`,
  `SHA256:${HEX64}`,
  `md5:${hash("md5", "bad")}`,
  `sha256:${"g".repeat(64)}`,
  `sha384:${HEX64}`,
  `sha512:${hash("sha384", "bad")}`,
  ` sha256:${HEX64}`,
  `sha256:${HEX64}\n`,
];
