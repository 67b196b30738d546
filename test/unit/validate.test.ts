import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../server/errors.js";
import { validateNamespace } from "../../server/namespaces/validate.js";
import { validateImage } from "../../server/images/validate.js";
import { imageFields } from "../support/fixtures.js";

const hex = (n: number) => "a".repeat(n);
const withTarget = (change: object) => imageFields("n", { target: { ...imageFields("n").target, ...change } });

describe("image validation", () => {
  const valid: Array<[string, object]> = [
    ["sha256", withTarget({ digest: `sha256:${hex(64)}` })],
    ["sha384", withTarget({ digest: `sha384:${hex(96)}` })],
    ["sha512", withTarget({ digest: `sha512:${hex(128)}` })],
    ["size 2^63-1", withTarget({ size: 2n ** 63n - 1n })],
    ["a 4096-byte name", imageFields("é".repeat(2048))],
    ["a label of 4096 bytes with its key", imageFields("n", { labels: { k: "v".repeat(4095) } })],
    ["an empty key with an empty value (dropped on write)", imageFields("n", { labels: { "": "" } })],
    ["an annotation over 4096 bytes (containerd limits labels only)", withTarget({ annotations: { k: "v".repeat(5000) } })],
  ];
  for (const [title, image] of valid) {
    it(`accepts ${title}`, () => validateImage(image as never));
  }

  const invalid: Array<[string, object, RegExp]> = [
    ["an empty name", imageFields(""), /image\.name is required/],
    ["a name over 4096 bytes", imageFields("é".repeat(2048) + "x"), /image\.name is 4097 bytes/],
    ["a lone surrogate in the name", imageFields("a\ud800"), /image\.name must be valid UTF-8/],
    ["NUL in the name", imageFields("a\u0000b"), /image\.name must be valid UTF-8/],
    ["a short digest", withTarget({ digest: "sha256:abc" }), /image\.target\.digest/],
    ["uppercase hex", withTarget({ digest: `sha256:${"A".repeat(64)}` }), /image\.target\.digest/],
    ["an unsupported algorithm", withTarget({ digest: `md5:${hex(32)}` }), /image\.target\.digest/],
    ["a digest with two colons", withTarget({ digest: `sha256:${hex(64)}:x` }), /image\.target\.digest/],
    ["an empty digest", withTarget({ digest: "" }), /image\.target\.digest/],
    ["size 0", withTarget({ size: 0n }), /image\.target\.size must be greater than 0/],
    ["a negative size", withTarget({ size: -1n }), /image\.target\.size/],
    ["an empty media type", withTarget({ mediaType: "" }), /image\.target\.media_type is required/],
    ["a label over 4096 bytes", imageFields("n", { labels: { k: "v".repeat(4096) } }), /image\.labels/],
    ["NUL in a label", imageFields("n", { labels: { k: "\u0000" } }), /image\.labels/],
    ["an empty label key", imageFields("n", { labels: { "": "v" } }), /image\.labels: keys must not be empty/],
    ["an empty annotation key", withTarget({ annotations: { "": "v" } }), /image\.target\.annotations: keys must not be empty/],
  ];
  for (const [title, image, message] of invalid) {
    it(`rejects ${title}`, () => {
      assert.throws(() => validateImage(image as never), (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message));
    });
  }
});

describe("namespace validation (containerd's identifier rules)", () => {
  for (const ok of ["default", "a", "A.b-c_d", "k8s.io", "x".repeat(76)]) {
    it(`accepts ${JSON.stringify(ok)}`, () => assert.equal(validateNamespace(ok), ok));
  }
  for (const bad of ["", "bad ns", "a/b", ".a", "a.", "a..b", "é", "x".repeat(77)]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => validateNamespace(bad), InvalidArgumentError));
  }
});
