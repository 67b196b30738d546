import { InvalidArgumentError } from "../errors.js";

// containerd's identifier rules for namespaces.
const NAMESPACE_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const NAMESPACE_MAX_LENGTH = 76;

/** Default namespace for the seed API, which predates namespaces. */
export const DEFAULT_NAMESPACE = "default";

export function validateNamespace(namespace: string): string {
  if (namespace.length > NAMESPACE_MAX_LENGTH) {
    throw new InvalidArgumentError(
      `namespace "${namespace}" is longer than ${NAMESPACE_MAX_LENGTH} characters`,
    );
  }
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new InvalidArgumentError(`namespace "${namespace}" must match ${NAMESPACE_PATTERN.source}`);
  }
  return namespace;
}
