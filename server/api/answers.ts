import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Image } from "../images/image.js";

/** Freezes a message and every message, list and map in it. Bytes fields stay as they are: a typed array cannot be frozen. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const field of Object.values(value)) deepFreeze(field);
  return Object.freeze(value);
}

/**
 * The answer for an image. The image cache hands out the same frozen Image
 * until that image changes; for such an image the answer is made once and
 * frozen, so the Gets it answers share it, and the gRPC lane keeps the
 * encoding of a frozen answer (server/http/answer-frames.ts): a cached image
 * is converted and encoded once, not on every call. An image read for one
 * call only (not frozen) gets an answer of its own, kept by nobody.
 */
export function answerPerImage<Desc extends DescMessage>(
  schema: Desc,
  build: (image: Image) => MessageInitShape<Desc>,
): (image: Image) => MessageShape<Desc> {
  const answers = new WeakMap<Image, MessageShape<Desc>>();
  return (image) => {
    if (!Object.isFrozen(image)) return create(schema, build(image));
    let answer = answers.get(image);
    if (answer === undefined) answers.set(image, (answer = deepFreeze(create(schema, build(image)))));
    return answer;
  };
}
