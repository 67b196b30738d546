import { toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

export const ENVELOPE_HEADER_BYTES = 5;

/**
 * A gRPC message frame: uncompressed flag, big-endian length, message. A
 * frame that is kept gets memory of its own: a slice of Node's shared pool
 * would hold on to the whole slab it was cut from.
 */
function envelope(data: Uint8Array, kept: boolean): Buffer {
  const size = ENVELOPE_HEADER_BYTES + data.length;
  const frame = kept ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
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
  const frozen = Object.isFrozen(message);
  const frame = envelope(toBinary(schema, message), frozen);
  if (frozen) framesOfFrozen.set(message, frame);
  return frame;
}
