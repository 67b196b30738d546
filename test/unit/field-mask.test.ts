import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../server/errors.js";
import { applyFieldMask } from "../../server/images/field-mask.js";
import { digestOf, imageFields } from "../support/fixtures.js";

const current = imageFields("img", {
  labels: { a: "1", b: "2" },
  target: { mediaType: "m/current", digest: digestOf("current"), size: 1n, annotations: { x: "1", y: "2" } },
});
const update = imageFields("ignored-name", {
  labels: { a: "9", "k.with.dots": "d" },
  target: { mediaType: "m/new", digest: digestOf("new"), size: 2n, annotations: { x: "9", z: "3" } },
});

describe("applyFieldMask (containerd's Update rules)", () => {
  const cases: Array<[string, string[], { labels: object; annotations: object; digest: string }]> = [
    ["no paths: replace the whole image", [], { labels: update.labels, annotations: update.target.annotations, digest: update.target.digest }],
    ["labels: replace all labels", ["labels"], { labels: update.labels, annotations: current.target.annotations, digest: current.target.digest }],
    ["labels.<key>: copy one label", ["labels.a"], { labels: { a: "9", b: "2" }, annotations: current.target.annotations, digest: current.target.digest }],
    ["labels.<key> absent in the update: empty, i.e. removed", ["labels.b"], { labels: { a: "1", b: "" }, annotations: current.target.annotations, digest: current.target.digest }],
    ["the key is the rest of the path, dots included", ["labels.k.with.dots"], { labels: { a: "1", b: "2", "k.with.dots": "d" }, annotations: current.target.annotations, digest: current.target.digest }],
    ["target: the whole descriptor, annotations included", ["target"], { labels: current.labels, annotations: update.target.annotations, digest: update.target.digest }],
    ["annotations: replace all, keep the digest", ["annotations"], { labels: current.labels, annotations: update.target.annotations, digest: current.target.digest }],
    ["annotations.<key>: copy one annotation", ["annotations.z"], { labels: current.labels, annotations: { x: "1", y: "2", z: "3" }, digest: current.target.digest }],
    ["paths apply in order", ["target", "annotations.y"], { labels: current.labels, annotations: { x: "9", z: "3", y: "" }, digest: update.target.digest }],
  ];
  for (const [title, paths, expected] of cases) {
    it(title, () => {
      const merged = applyFieldMask(current, update, paths);
      assert.deepEqual(merged.labels, expected.labels);
      assert.deepEqual(merged.target.annotations, expected.annotations);
      assert.equal(merged.target.digest, expected.digest);
    });
  }

  it("keeps the stored name when paths are given", () => {
    assert.equal(applyFieldMask(current, update, ["labels"]).name, "img");
  });

  for (const paths of [["name"], ["created_at"], ["bogus"], ["labels", "target.digest"], ["Labels"]]) {
    it(`rejects the whole update for ${JSON.stringify(paths)}`, () => {
      assert.throws(() => applyFieldMask(current, update, paths), InvalidArgumentError);
    });
  }

  it("does not modify its inputs", () => {
    const before = structuredClone(current);
    applyFieldMask(current, update, ["labels.a", "annotations.z"]);
    assert.deepEqual(current, before);
  });
});
