import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Image } from "../images/image.js";

/** Freezes a message and every message, list and map in it. Bytes fields stay as they are: a typed array cannot be frozen. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const field of Object.values(value)) deepFreeze(field);
  return Object.freeze(value);
}

/**
 * The answer for an image, made once per Image object and frozen. The image
 * cache hands out the same frozen Image until that image changes, so the
 * Gets it answers share one answer, and the gRPC lane keeps the encoding of
 * a frozen answer (server/http/answer-frames.ts): a cached image is
 * converted and encoded once, not on every call.
 */
export function answerPerImage<Desc extends DescMessage>(
  schema: Desc,
  build: (image: Image) => MessageInitShape<Desc>,
): (image: Image) => MessageShape<Desc> {
  const answers = new WeakMap<Image, MessageShape<Desc>>();
  return (image) => {
    let answer = answers.get(image);
    if (answer === undefined) answers.set(image, (answer = deepFreeze(create(schema, build(image)))));
    return answer;
  };
}
