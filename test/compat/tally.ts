import { statusOf, type Outcome } from "./normalize.js";
import { OPERATION_KINDS, type OperationKind } from "./operations.js";

/** Counts of the reference's statuses per operation kind: proof that a run exercised successes and errors. */
export class Tally {
  private readonly counts = new Map<OperationKind, Map<string, number>>(OPERATION_KINDS.map((k) => [k, new Map()]));
  private listsWithImages = 0;
  total = 0;

  add(kind: OperationKind, outcome: Outcome): void {
    const perKind = this.counts.get(kind)!;
    const status = statusOf(outcome);
    perKind.set(status, (perKind.get(status) ?? 0) + 1);
    if (kind === "list" && outcome.ok && outcome.images.length > 0) this.listsWithImages++;
    this.total++;
  }

  statuses(kind: OperationKind): Set<string> {
    return new Set(this.counts.get(kind)!.keys());
  }

  report(): string {
    const totals = new Map<string, number>();
    const lines = OPERATION_KINDS.map((kind) => {
      const perKind = [...this.counts.get(kind)!].sort(([a], [b]) => a.localeCompare(b));
      for (const [status, n] of perKind) totals.set(status, (totals.get(status) ?? 0) + n);
      const sum = perKind.reduce((s, [, n]) => s + n, 0);
      return `  ${kind.padEnd(7)} ${String(sum).padStart(6)}: ${perKind.map(([s, n]) => `${s} ${n}`).join(", ")}`;
    });
    const overall = [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s} ${n}`).join(", ");
    const all = `  all     ${String(this.total).padStart(6)}: ${overall}`;
    return [...lines, all, `  list answers holding at least one image: ${this.listsWithImages}`].join("\n");
  }
}
