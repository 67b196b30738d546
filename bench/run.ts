// `npm run bench`: OUR service vs a private containerd on the Images API,
// driven by one load generator (bench/grpc_load.py, python3-grpcio) over
// unix sockets; then OUR Get over TCP with h2load (gRPC, Connect JSON) and
// wrk (Connect JSON, HTTP/1.1). See bench/README.md.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadBenchConfig, type BenchConfig } from "./config.js";
import { runGrpcLoad, type LoadResult } from "./grpc-load.js";
import { checkHttpGet, HTTP_CASES, runHttpCase, writeBodies, type HttpResult } from "./http-load.js";
import { containerdVersion, createDatabase, startOurs, startReference, type Ours, type Target } from "./processes.js";
import {
  renderCalibration,
  renderHttp,
  renderMachineLoad,
  renderProblems,
  renderTable,
  summarize,
  summarizeHttp,
  writeResults,
  type Calibration,
} from "./report.js";
import { OPERATIONS, Workload, type Cell, type Operation } from "./scenarios.js";

const RESULTS_FILE = path.join(import.meta.dirname, "results", "latest.json");
const TRIVIAL_METHOD = "/containerd.services.version.v1.Version/Version";

let interrupted = false;
const log = (line: string) => process.stderr.write(`${line}\n`);

function checkInterrupted(): void {
  if (interrupted) throw new Error("interrupted");
}

function fmtRate(r: LoadResult): string {
  const errors = r.errors ? `, ${r.errors} errors ${JSON.stringify(r.errorCodes)}` : "";
  return `${r.rate.toFixed(1)}/s  p50 ${r.latencyMs.p50 ?? "-"} ms  p99 ${r.latencyMs.p99 ?? "-"} ms  (${r.calls} calls${errors})`;
}

/** Installed at all (wrk --version exits with 1, so only "not found" counts). */
function toolAvailable(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).error === undefined;
}

function commandOutput(command: string, args: string[]): string | null {
  const out = spawnSync(command, args, { encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim() : null;
}

/** The generator against the cheapest RPC there is (containerd's Version): its ceiling on this machine. */
async function calibrate(config: BenchConfig, containerd: Target, dir: string): Promise<Calibration[]> {
  const pool = path.join(dir, "empty.bin");
  writeFileSync(pool, Buffer.alloc(4)); // one record of zero bytes: an empty request message
  const concurrency = Math.max(...config.concurrency);
  const calibrations: Calibration[] = [];
  for (const engine of ["aio", "threads"] as const) {
    const result = await runGrpcLoad({
      python: config.python,
      engine,
      target: containerd,
      method: TRIVIAL_METHOD,
      pool,
      namespace: config.namespace,
      concurrency,
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
      pick: "random",
    });
    if (result.errors > 0) throw new Error(`calibration failed: ${JSON.stringify(result.errorCodes)}`);
    calibrations.push({ engine, concurrency, method: TRIVIAL_METHOD, result });
  }
  return calibrations;
}

async function fillAll(workload: Workload, targets: Target[], images: number): Promise<Record<string, LoadResult>> {
  const fills: Record<string, LoadResult> = {};
  for (const target of targets) {
    log(`filling ${target.name} with ${images} images (Create, c=16) ...`);
    fills[target.name] = await workload.fill(target);
    log(`  ${fmtRate(fills[target.name]!)}`);
  }
  return fills;
}

function selectedOperations(config: BenchConfig): readonly Operation[] {
  if (config.operations === null) return OPERATIONS;
  const unknown = config.operations.filter((key) => !OPERATIONS.some((op) => op.key === key));
  if (unknown.length) throw new Error(`BENCH_OPERATIONS: unknown ${unknown.join(", ")} (known: ${OPERATIONS.map((op) => op.key).join(", ")})`);
  return OPERATIONS.filter((op) => config.operations!.includes(op.key));
}

/** One run of the matrix; ours and containerd alternate which goes first, cell by cell. */
async function runMatrix(config: BenchConfig, workload: Workload, targets: Target[], run: number): Promise<Cell[]> {
  const cells: Cell[] = [];
  let turn = run;
  for (const op of selectedOperations(config)) {
    for (const concurrency of config.concurrency) {
      const order = turn++ % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        checkInterrupted();
        const cell = await workload.cell(op, target, run, concurrency);
        const flag = cell.invalid ? "  INVALID: " : cell.problems.length ? "  note: " : "";
        log(`[run ${run + 1}/${config.runs}] ${op.label} c=${concurrency} ${target.name}: ${fmtRate(cell.result)}${flag}${cell.problems.join("; ")}`);
        cells.push(cell);
      }
    }
  }
  return cells;
}

async function runHttp(config: BenchConfig, ours: Ours, dir: string): Promise<HttpResult[]> {
  const bodies = writeBodies(dir);
  await checkHttpGet(ours.port, config.namespace);
  const results: HttpResult[] = [];
  for (const { key, label } of HTTP_CASES) {
    if (!toolAvailable(key.startsWith("wrk") ? "wrk" : "h2load")) {
      log(`skipping ${label}: not installed`);
      continue;
    }
    checkInterrupted();
    const result = await runHttpCase(key, {
      ours,
      namespace: config.namespace,
      bodies,
      connections: config.httpConnections,
      streams: config.httpStreams,
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
    });
    log(`  Get, ${label}: ${result.rate.toFixed(1)} req/s${result.failed ? `, ${result.failed} failed` : ""}`);
    results.push(result);
  }
  return results;
}

function metadata(config: BenchConfig, containerd: Target | null) {
  return {
    date: new Date().toISOString(),
    commit: commandOutput("git", ["rev-parse", "--short", "HEAD"]),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    containerd: containerd ? containerdVersion() : null,
    python: commandOutput(config.python, ["-c", "import sys, grpc; print(sys.version.split()[0], 'grpcio', grpc.__version__)"]),
    h2load: commandOutput("h2load", ["--version"]),
    wrk: spawnSync("wrk", ["--version"], { encoding: "utf8" }).stdout?.split("\n")[0] ?? null,
    workers: process.env.WORKERS ?? null,
    settings: { ...config },
  };
}

async function main(): Promise<void> {
  const config = loadBenchConfig();
  process.on("SIGINT", () => (interrupted = true));
  // Short: unix socket paths are limited to ~107 bytes.
  const dir = mkdtempSync(path.join(os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp", "ims-bench-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    const database = await createDatabase(config.databaseUrl);
    stops.push(database.drop);
    const ours = await startOurs({
      databaseUrl: database.url,
      databaseName: database.name,
      socket: path.join(dir, "ours.sock"),
      logFile: path.join(dir, "ours.log"),
    });
    stops.push(ours.stop);
    log(`ours: pid ${ours.pid}, port ${ours.port}, socket ${ours.socket}${process.env.WORKERS ? `, WORKERS=${process.env.WORKERS}` : ""}`);
    const containerd = await startReference();
    if (containerd) {
      stops.push(containerd.stop);
      log(`containerd: pid ${containerd.pid}, socket ${containerd.socket}`);
    } else {
      log("NOTE: containerd is not installed or we are not root: running OUR service alone; the containerd columns stay empty.");
    }
    const targets = containerd ? [ours, containerd] : [ours];

    const workload = new Workload(config, dir);
    workload.prepare();
    const calibration = containerd ? await calibrate(config, containerd, dir) : [];
    if (calibration.length) log(["load generator ceiling:", ...renderCalibration(calibration)].join("\n"));
    const fills = await fillAll(workload, targets, config.images);

    const cells: Cell[] = [];
    const http: HttpResult[] = [];
    for (let run = 0; run < config.runs; run++) {
      cells.push(...(await runMatrix(config, workload, targets, run)));
      if (selectedOperations(config).some((op) => op.key === "get")) http.push(...(await runHttp(config, ours, dir)));
    }

    const rows = summarize(cells, selectedOperations(config), config.concurrency);
    const httpRows = summarizeHttp(http);
    const oursLog = ours.logLines().filter((l) => l.trim() !== "");
    print(config, rows, httpRows, calibration, fills, containerd !== null, oursLog);
    writeResults(RESULTS_FILE, {
      meta: metadata(config, containerd),
      calibration,
      fill: fills,
      summary: rows,
      http: httpRows,
      cells,
      httpRuns: http,
      oursLog: { lines: oursLog.length, first: oursLog.slice(0, 20) },
    });
    console.log(`\nresults written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(
  config: BenchConfig,
  rows: ReturnType<typeof summarize>,
  httpRows: ReturnType<typeof summarizeHttp>,
  calibration: Calibration[],
  fills: Record<string, LoadResult>,
  withContainerd: boolean,
  oursLog: string[],
): void {
  const out: string[] = [];
  out.push("");
  out.push(
    `Images API, ${config.images.toLocaleString("en-US")} images in namespace "${config.namespace}", ` +
      `${config.seconds} s per cell, median of ${config.runs} run(s); generator: ${config.engine} python3-grpcio over unix sockets` +
      (process.env.WORKERS ? `; WORKERS=${process.env.WORKERS}` : ""),
  );
  if (!withContainerd) out.push("NOTE: containerd did not run (not installed or not root): its columns are empty.");
  out.push("");
  out.push(renderTable(rows));
  out.push("  values: req/s (higher is better); List all: ms per call = 1000 / (calls/s) (lower is better). ratio = ours / containerd of the value shown; same-run ratio: the median (lowest-highest) of that ratio within each run.");
  out.push("  cpu µs/call: server CPU per successful call (ours: Node process tree + its Postgres backends). ! invalid cell, * some errors.");
  const problems = renderProblems(rows);
  if (problems.length) out.push("", "problems:", ...problems.map((p) => `  ${p}`));
  const fillLine = Object.entries(fills).map(([t, r]) => `${t} ${r.rate.toFixed(0)}/s`).join(", ");
  out.push("", `fill (Create of ${config.images} images at c=16): ${fillLine}`);
  if (calibration.length) out.push("load generator ceiling (trivial RPC on containerd):", ...renderCalibration(calibration));
  out.push(renderMachineLoad(rows));
  if (httpRows.length) {
    out.push("", `OUR Get over TCP (one fixed name, ${config.seconds} s, median of ${config.runs}):`, ...renderHttp(httpRows));
  }
  out.push("", `our service logged ${oursLog.length} line(s) at LOG_LEVEL=warn${oursLog.length ? `; first: ${oursLog[0]!.slice(0, 300)}` : ""}`);
  console.log(out.join("\n"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
