import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "../errors.js";
import type { Descriptor, Image } from "../images/image.js";
import type { ImageFields } from "../images/store.js";

// Both APIs' Image and Descriptor messages have the same field names, so one
// pair of converters serves both: the store never sees protobuf.

interface WireDescriptor {
  mediaType: string;
  digest: string;
  size: bigint;
  annotations: { [key: string]: string };
}

interface WireImage {
  name: string;
  labels: { [key: string]: string };
  target?: WireDescriptor;
}

const emptyDescriptor: Descriptor = { mediaType: "", digest: "", size: 0n, annotations: {} };

function descriptorFromWire(target: WireDescriptor | undefined): Descriptor {
  if (target === undefined) return emptyDescriptor;
  const { mediaType, digest, size, annotations } = target;
  return { mediaType, digest, size, annotations: { ...annotations } };
}

/**
 * The image of a write request; its name must be present (containerd checks
 * this before anything else, the namespace included). Client timestamps are
 * ignored: the store keeps created_at and updated_at.
 */
export function imageFromWire(image: WireImage | undefined): ImageFields {
  if (!image?.name) throw new InvalidArgumentError("image.name is required");
  return { name: image.name, labels: { ...image.labels }, target: descriptorFromWire(image.target) };
}

export function imageToWire(image: Image) {
  return {
    name: image.name,
    labels: image.labels,
    target: { ...image.target },
    createdAt: timestampFromDate(image.createdAt),
    updatedAt: timestampFromDate(image.updatedAt),
  };
}

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** A client's timestamp, refused when outside the range google.protobuf.Timestamp defines. */
export function dateFromWire(timestamp: Timestamp | undefined, field: string): Date | undefined {
  if (timestamp === undefined) return undefined;
  const { seconds, nanos } = timestamp;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) {
    throw new InvalidArgumentError(`${field}: must be a timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z`);
  }
  return timestampDate(timestamp);
}
