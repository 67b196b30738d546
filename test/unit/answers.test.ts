import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetImageResponseSchema } from "../../gen/containerd/services/images/v1/images_pb.js";
import { answerPerImage } from "../../server/api/answers.js";
import { imageToWire } from "../../server/api/convert.js";
import { answerFrame } from "../../server/http/answer-frames.js";
import type { Image } from "../../server/images/image.js";

/** As the image cache keeps them: frozen. */
const image = (labels: Record<string, string>): Image => Object.freeze({
  name: "docker.io/library/alpine:3",
  labels,
  target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 1234n, annotations: { a: "1" } },
  createdAt: new Date("2026-01-02T03:04:05.678Z"),
  updatedAt: new Date("2026-01-02T03:04:05.678Z"),
});

const expectedFrame = (bytes: Uint8Array) => {
  const f = Buffer.alloc(5 + bytes.length);
  f.writeUInt32BE(bytes.length, 1);
  f.set(bytes, 5);
  return f;
};

describe("answers shared between calls", () => {
  const getAnswer = answerPerImage(GetImageResponseSchema, (i) => ({ image: imageToWire(i) }));

  it("makes one answer per image object, frozen through and through", () => {
    const stored = image({ env: "prod" });
    const answer = getAnswer(stored);
    assert.equal(getAnswer(stored), answer);
    assert.deepEqual(answer, create(GetImageResponseSchema, { image: imageToWire(stored) }));
    for (const part of [answer, answer.image, answer.image!.labels, answer.image!.target, answer.image!.target!.annotations, answer.image!.createdAt]) {
      assert.ok(Object.isFrozen(part));
    }
  });

  it("makes a new answer for a new image object, as a changed image is", () => {
    const before = getAnswer(image({ env: "prod" }));
    const after = getAnswer(image({ env: "dev" }));
    assert.notEqual(after, before);
    assert.deepEqual(after.image?.labels, { env: "dev" });
  });

  it("gives an image that is not shared (not frozen) an answer of its own each time", () => {
    const once: Image = { ...image({ env: "prod" }) };
    const first = getAnswer(once);
    assert.notEqual(getAnswer(once), first);
    assert.equal(Object.isFrozen(first), false);
    assert.deepEqual(first, create(GetImageResponseSchema, { image: imageToWire(once) }));
  });

  it("encodes a frozen answer once and shares the frame", () => {
    const answer = getAnswer(image({ env: "prod" }));
    const first = answerFrame(GetImageResponseSchema, answer);
    assert.deepEqual(first, expectedFrame(toBinary(GetImageResponseSchema, answer)));
    assert.equal(answerFrame(GetImageResponseSchema, answer), first);
    assert.equal(first.buffer.byteLength, first.length, "a kept frame holds no slab of Node's buffer pool");
  });

  it("encodes an answer that can change on every call", () => {
    const answer = create(GetImageResponseSchema, { image: imageToWire(image({ env: "prod" })) });
    const first = answerFrame(GetImageResponseSchema, answer);
    answer.image!.labels.env = "dev";
    const second = answerFrame(GetImageResponseSchema, answer);
    assert.notEqual(second, first);
    assert.deepEqual(second, expectedFrame(toBinary(GetImageResponseSchema, answer)));
  });
});
