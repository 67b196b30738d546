// Shared by the field adaptors: how containerd reads map keys and empty strings.

/** A map key is the rest of the field path joined with ".". */
export function mapField(map: Record<string, string>, keyPath: readonly string[]): string | undefined {
  const key = keyPath.join(".");
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** An empty string is an absent field. */
export function nonEmpty(value: string): string | undefined {
  return value === "" ? undefined : value;
}
