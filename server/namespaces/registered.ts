/**
 * Namespaces known to have their row in `namespaces`. The service never
 * removes a namespace's row, so a write in a namespace known here need not
 * register it again. At most `limit` names are kept; past that the set
 * starts over, which costs only registrations.
 */
export class RegisteredNamespaces {
  private readonly names = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  allKnown(namespaces: Iterable<string>): boolean {
    for (const namespace of namespaces) if (!this.names.has(namespace)) return false;
    return true;
  }

  /** Namespaces whose registration has committed. */
  add(namespaces: Iterable<string>): void {
    for (const namespace of namespaces) {
      if (this.names.size >= this.limit && !this.names.has(namespace)) this.names.clear();
      this.names.add(namespace);
    }
  }
}
