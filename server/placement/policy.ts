import type { ToWorker } from "./messages.js";

/** What a worker last reported. */
export interface WorkerLoad {
  /** Share of the last report's interval its event loop was busy, 0 to 1. */
  utilization: number;
  /** Unix socket HTTP/2 connections it serves. */
  connections: number;
}

export interface PlacementThresholds {
  /** The home worker busier than this in `spreadAfter` reports in a row: its connections spread. */
  spreadAbove: number;
  spreadAfter: number;
  /** All workers together less busy than this in `gatherAfter` rounds in a row: they gather again. */
  gatherBelow: number;
  gatherAfter: number;
}

// With REPORT_INTERVAL_MS of 250 ms: spread after half a second of a busy
// home worker, gather after a second in which the load would fit on one
// worker with room to spare.
export const DEFAULT_THRESHOLDS: PlacementThresholds = { spreadAbove: 0.9, spreadAfter: 2, gatherBelow: 0.5, gatherAfter: 4 };

export interface Command {
  worker: number;
  message: ToWorker;
}

/**
 * Where the unix socket's HTTP/2 connections are served. One worker serves
 * a light load with less CPU than two sharing it (each keeps its own
 * caches, batches and wake-ups; docs/performance.md), so connections are
 * gathered on one worker, the home (the lowest id), until its event loop
 * stays busy. Then half of them spread to the least busy worker, and new
 * connections stay where they were accepted, until the load falls again.
 * While spread, a worker that stays busy with two or more connections more
 * than the least busy one releases half the difference: a connection moves
 * only between calls, and one that had none within RELEASE_TIMEOUT_MS is
 * asked again this way.
 */
export class Placement {
  mode: "gather" | "spread" = "gather";
  private readonly loads = new Map<number, WorkerLoad>();
  /** Busy reports in a row, by worker. */
  private readonly busyReports = new Map<number, number>();
  private quietRounds = 0;

  constructor(private readonly thresholds: PlacementThresholds = DEFAULT_THRESHOLDS) {}

  get home(): number | undefined {
    let home: number | undefined;
    for (const worker of this.loads.keys()) if (home === undefined || worker < home) home = worker;
    return home;
  }

  /** A worker's report; its first one makes it a member. */
  report(worker: number, load: WorkerLoad): Command[] {
    const joined = !this.loads.has(worker);
    this.loads.set(worker, load);
    const commands = joined ? this.keepCommands() : [];
    const busy = this.countBusy(worker, load);
    const isHome = worker === this.home;
    if (this.mode === "gather") return isHome ? [...commands, ...this.spreadIfBusy(worker, busy, load)] : commands;
    return [...commands, ...this.rebalanceIfBusy(worker, busy, load), ...(isHome ? this.gatherIfQuiet() : [])];
  }

  /** A worker is gone: the home may change. */
  leave(worker: number): Command[] {
    this.busyReports.delete(worker);
    if (!this.loads.delete(worker)) return [];
    return this.keepCommands();
  }

  /** Where a connection handed over by `from` is to be served. */
  destination(from: number): number | undefined {
    const home = this.home;
    if (this.mode === "gather" && home !== from) return home;
    let least: number | undefined;
    for (const [worker, load] of this.loads) {
      if (worker !== from && (least === undefined || load.utilization < this.loads.get(least)!.utilization)) least = worker;
    }
    return least ?? from;
  }

  private countBusy(worker: number, load: WorkerLoad): number {
    const busy = load.utilization > this.thresholds.spreadAbove ? (this.busyReports.get(worker) ?? 0) + 1 : 0;
    this.busyReports.set(worker, busy);
    return busy;
  }

  private spreadIfBusy(home: number, busy: number, load: WorkerLoad): Command[] {
    if (busy < this.thresholds.spreadAfter || this.loads.size < 2 || load.connections < 2) return [];
    this.mode = "spread";
    this.busyReports.set(home, 0);
    return [...this.keepCommands(), release(home, Math.floor(load.connections / 2))];
  }

  private rebalanceIfBusy(worker: number, busy: number, load: WorkerLoad): Command[] {
    if (busy < this.thresholds.spreadAfter) return [];
    const surplus = load.connections - this.loads.get(this.destination(worker) ?? worker)!.connections;
    if (surplus < 2) return [];
    this.busyReports.set(worker, 0);
    return [release(worker, Math.floor(surplus / 2))];
  }

  private gatherIfQuiet(): Command[] {
    let total = 0;
    for (const load of this.loads.values()) total += load.utilization;
    this.quietRounds = total < this.thresholds.gatherBelow ? this.quietRounds + 1 : 0;
    if (this.quietRounds < this.thresholds.gatherAfter) return [];
    this.mode = "gather";
    this.quietRounds = 0;
    return this.keepCommands();
  }

  private keepCommands(): Command[] {
    const home = this.home;
    return [...this.loads.keys()].map((worker) => ({
      worker,
      message: { placement: "keep", keep: this.mode === "spread" || worker === home },
    }));
  }
}

function release(worker: number, count: number): Command {
  return { worker, message: { placement: "release", count } };
}
