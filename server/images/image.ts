// The image domain type: what the store keeps, independent of any wire format.

export interface Descriptor {
  mediaType: string;
  digest: string;
  /** int64 on the wire; kept as bigint end to end so no precision is lost. */
  size: bigint;
  annotations: Record<string, string>;
}

export interface Image {
  name: string;
  labels: Record<string, string>;
  target: Descriptor;
  createdAt: Date;
  updatedAt: Date;
}

/** One string per image across namespaces (a namespace holds no newline). */
export const imageKey = (namespace: string, name: string) => `${namespace}\n${name}`;
