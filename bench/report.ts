// Medians across runs, the printed table, and the JSON results file.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { LoadResult } from "./grpc-load.js";
import { HTTP_CASES, type HttpCase, type HttpResult } from "./http-load.js";
import type { Cell, Operation } from "./scenarios.js";

export function median(values: readonly number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const nums = (values: ReadonlyArray<number | null>) => values.filter((v): v is number => v !== null);

export interface Stat {
  runs: number;
  /** req/s, median over runs */
  rate: number | null;
  /** 1000 / rate: wall time per call at this concurrency */
  msPerCall: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Server CPU per call (ours: Node + its Postgres backends), microseconds */
  cpuUsPerCall: number | null;
  /** CPU (cores) of the generator, of other processes and taken by the hypervisor (steal), the largest of the runs */
  generatorCpuMax: number;
  otherCpuMax: number;
  stolenCpuMax: number;
  errors: number;
  invalid: boolean;
  problems: string[];
}

export interface Row {
  op: Operation["key"];
  label: string;
  unit: Operation["unit"];
  concurrency: number;
  ours: Stat | null;
  containerd: Stat | null;
  /** ours/containerd within each run that measured both, in run order (for "msPerCall", of the time per call). */
  sameRunRatios: number[];
}

function stat(cells: Cell[]): Stat | null {
  if (cells.length === 0) return null;
  const results = cells.map((c) => c.result);
  const rate = median(results.map((r) => r.rate));
  const cpu = results.map((r) => (r.serverCpu === null || r.rate === 0 ? Number.NaN : (r.serverCpu / r.rate) * 1e6));
  return {
    runs: cells.length,
    rate,
    msPerCall: rate ? 1000 / rate : null,
    p50Ms: median(nums(results.map((r) => r.latencyMs.p50))),
    p99Ms: median(nums(results.map((r) => r.latencyMs.p99))),
    cpuUsPerCall: median(cpu),
    generatorCpuMax: Math.max(...results.map((r) => r.generatorCpu)),
    otherCpuMax: Math.max(...results.map((r) => r.otherCpu)),
    stolenCpuMax: Math.max(...results.map((r) => r.stolenCpu)),
    errors: results.reduce((s, r) => s + r.errors, 0),
    invalid: cells.some((c) => c.invalid),
    problems: cells.flatMap((c) => c.problems.map((p) => (cells.length > 1 ? `run ${c.run + 1}: ${p}` : p))),
  };
}

/** ours/containerd of each run that has both cells: the two ran minutes apart at most, on a machine whose speed drifts. */
function sameRunRatios(ours: Cell[], containerd: Cell[], unit: Operation["unit"]): number[] {
  return ours.flatMap((o) => {
    const c = containerd.find((x) => x.run === o.run);
    if (c === undefined || o.result.rate === 0 || c.result.rate === 0) return [];
    return [unit === "rate" ? o.result.rate / c.result.rate : c.result.rate / o.result.rate];
  });
}

export function summarize(cells: Cell[], operations: readonly Operation[], levels: number[]): Row[] {
  return operations.flatMap((op) =>
    levels.map((concurrency) => {
      const of = (target: Cell["target"]) =>
        cells.filter((c) => c.op === op.key && c.concurrency === concurrency && c.target === target).sort((a, b) => a.run - b.run);
      return {
        op: op.key,
        label: op.label,
        unit: op.unit,
        concurrency,
        ours: stat(of("ours")),
        containerd: stat(of("containerd")),
        sameRunRatios: sameRunRatios(of("ours"), of("containerd"), op.unit),
      };
    }),
  );
}

// ---- formatting ----

function fmt(value: number | null, digits?: number): string {
  if (value === null || !Number.isFinite(value)) return "-";
  const d = digits ?? (value >= 100 ? 0 : value >= 10 ? 1 : 2);
  return value.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

function shown(row: Row, s: Stat | null): number | null {
  if (s === null) return null;
  return row.unit === "rate" ? s.rate : s.msPerCall;
}

function cellText(row: Row, s: Stat | null): string {
  const value = shown(row, s);
  if (s === null || value === null) return "-";
  const flag = s.invalid ? " !" : s.errors > 0 ? " *" : "";
  return (row.unit === "rate" ? `${fmt(value)}/s` : `${fmt(value)} ms`) + flag;
}

function latency(s: Stat | null): string {
  return s === null ? "-" : `${fmt(s.p50Ms)} / ${fmt(s.p99Ms)}`;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The median of the same-run ratios and their range, when there were several runs. */
function sameRunText(ratios: number[]): string {
  if (ratios.length < 2) return "-";
  return `${fmt(median(ratios), 2)} (${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)})`;
}

export function renderTable(rows: Row[]): string {
  const header = [
    "operation", "c", "ours", "containerd", "ours/ctd", "same-run ratio", "ours p50/p99 ms", "ctd p50/p99 ms", "cpu µs/call ours", "ctd",
  ];
  const body = rows.map((row) => {
    const ours = shown(row, row.ours);
    const ctd = shown(row, row.containerd);
    const ratio = ours !== null && ctd ? ours / ctd : null;
    return [
      row.label,
      String(row.concurrency),
      cellText(row, row.ours),
      cellText(row, row.containerd),
      fmt(ratio, 2),
      sameRunText(row.sameRunRatios),
      latency(row.ours),
      latency(row.containerd),
      fmt(row.ours?.cpuUsPerCall ?? null, 0),
      fmt(row.containerd?.cpuUsPerCall ?? null, 0),
    ];
  });
  return table(header, body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]));
}

/** What else ran during the cells: the generator, other processes, and the hypervisor's steal. */
export function renderMachineLoad(rows: Row[]): string {
  const stats = rows.flatMap((r) => [r.ours, r.containerd]).filter((s): s is Stat => s !== null);
  const largest = (pick: (s: Stat) => number) => fmt(Math.max(...stats.map(pick)), 2);
  return (
    `generator CPU per cell: median ${fmt(median(stats.map((s) => s.generatorCpuMax)), 2)} cores, max ${largest((s) => s.generatorCpuMax)}; ` +
    `other processes on the machine: up to ${largest((s) => s.otherCpuMax)} cores; ` +
    `taken by the hypervisor (steal): up to ${largest((s) => s.stolenCpuMax)} cores`
  );
}

export function renderProblems(rows: Row[]): string[] {
  return rows.flatMap((row) =>
    (["ours", "containerd"] as const).flatMap((t) =>
      (row[t]?.problems ?? []).map((p) => `${row.label} c=${row.concurrency} ${t}: ${p}`),
    ),
  );
}

export interface HttpRow {
  case: HttpCase;
  label: string;
  connections: number;
  streams: number;
  runs: number;
  rate: number | null;
  meanMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  cpuUsPerCall: number | null;
  failed: number;
}

export function summarizeHttp(results: HttpResult[]): HttpRow[] {
  return HTTP_CASES.flatMap(({ key, label }) => {
    const of = results.filter((r) => r.case === key);
    if (of.length === 0) return [];
    return [{
      case: key,
      label,
      connections: of[0]!.connections,
      streams: of[0]!.streams,
      runs: of.length,
      rate: median(of.map((r) => r.rate)),
      meanMs: median(nums(of.map((r) => r.latencyMs.mean))),
      p50Ms: median(nums(of.map((r) => r.latencyMs.p50))),
      p99Ms: median(nums(of.map((r) => r.latencyMs.p99))),
      cpuUsPerCall: median(of.map((r) => (r.serverCpu / r.rate) * 1e6)),
      failed: of.reduce((s, r) => s + r.failed, 0),
    }];
  });
}

export function renderHttp(rows: HttpRow[]): string[] {
  const lines = rows.map((r) => {
    const load = r.streams > 1 ? `c=${r.connections} x m=${r.streams}` : `c=${r.connections}`;
    const lat = r.p50Ms !== null ? `p50 ${fmt(r.p50Ms)} / p99 ${fmt(r.p99Ms)} ms` : `mean ${fmt(r.meanMs)} ms`;
    const failed = r.failed > 0 ? `  FAILED ${r.failed}` : "";
    return `  Get, ${r.label.padEnd(30)} ${load.padEnd(14)} ${fmt(r.rate).padStart(7)} req/s  ${lat}  cpu ${fmt(r.cpuUsPerCall, 0)} µs/call${failed}`;
  });
  const grpc = rows.find((r) => r.case === "h2load-grpc")?.rate;
  const json = rows.find((r) => r.case === "h2load-json")?.rate;
  if (grpc && json) lines.push(`  Connect JSON / gRPC throughput (h2load, same c x m): ${fmt(json / grpc, 2)}`);
  return lines;
}

export interface Calibration {
  engine: string;
  concurrency: number;
  method: string;
  result: LoadResult;
}

export function renderCalibration(calibrations: Calibration[]): string[] {
  return calibrations.map(({ engine, concurrency, method, result: r }) =>
    `  ${engine.padEnd(7)} c=${concurrency}: ${fmt(r.rate)} calls/s of ${method} (p50 ${fmt(r.latencyMs.p50)} ms), ` +
      `generator ${fmt(r.generatorCpu, 2)} cores, containerd ${fmt(r.serverCpu, 2)}, other processes ${fmt(r.otherCpu, 2)}, steal ${fmt(r.stolenCpu, 2)}`,
  );
}

export function writeResults(file: string, results: object): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
}
