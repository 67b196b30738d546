import { toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

export const ENVELOPE_HEADER_BYTES = 5;

/** A gRPC message frame: uncompressed flag, big-endian length, message. */
function envelope(data: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + data.length);
  frame[0] = 0;
  frame.writeUInt32BE(data.length, 1);
  frame.set(data, ENVELOPE_HEADER_BYTES);
  return frame;
}

/** Frames of frozen answers, kept while the answer is: a frozen message cannot change, so neither can its encoding. */
const framesOfFrozen = new WeakMap<object, Buffer>();

/**
 * The answer as one gRPC frame. A frozen answer (server/api/answers.ts
 * freezes the answers it shares between calls) is encoded once; the frame is
 * shared and must not be written to.
 */
export function answerFrame<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Buffer {
  const kept = framesOfFrozen.get(message);
  if (kept !== undefined) return kept;
  const frame = envelope(toBinary(schema, message));
  if (Object.isFrozen(message)) framesOfFrozen.set(message, frame);
  return frame;
}
