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
 */
export class Placement {
  mode: "gather" | "spread" = "gather";
  private readonly loads = new Map<number, WorkerLoad>();
  private busyReports = 0;
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
    if (worker !== this.home) return commands;
    return [...commands, ...(this.mode === "gather" ? this.spreadIfBusy(worker, load) : this.gatherIfQuiet())];
  }

  /** A worker is gone: the home may change. */
  leave(worker: number): Command[] {
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

  private spreadIfBusy(home: number, load: WorkerLoad): Command[] {
    this.busyReports = load.utilization > this.thresholds.spreadAbove ? this.busyReports + 1 : 0;
    if (this.busyReports < this.thresholds.spreadAfter || this.loads.size < 2 || load.connections < 2) return [];
    this.mode = "spread";
    this.busyReports = 0;
    return [...this.keepCommands(), { worker: home, message: { placement: "release", count: Math.floor(load.connections / 2) } }];
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
