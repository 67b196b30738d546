// Bench settings from the environment. Defaults keep one full run under
// ~6 minutes on 2 cores; BENCH_QUICK=1 is a smoke run of well under a minute.

import { spawnSync } from "node:child_process";

export interface BenchConfig {
  /** Postgres server to create the bench database on. */
  databaseUrl: string;
  /** Images pre-filled in the namespace before the matrix. */
  images: number;
  /** Operation keys to run (see OPERATIONS in scenarios.ts); all by default. */
  operations: string[] | null;
  /** Concurrency levels of every gRPC scenario. */
  concurrency: number[];
  /** Measured seconds per cell. */
  seconds: number;
  /** Unmeasured seconds before each read/update cell. */
  warmupSeconds: number;
  /** Whole-matrix repetitions; the table shows the median per cell. */
  runs: number;
  /** Upper bound on Create calls per cell (size of its name pool). */
  createPool: number;
  /** HTTP load (wrk / h2load): connections and, for h2load, streams per connection. */
  httpConnections: number;
  httpStreams: number;
  /** A Python 3 that can `import grpc` (Debian's python3-grpcio). */
  python: string;
  /** Python load generator engine: asyncio tasks or threads. */
  engine: "aio" | "threads";
  quick: boolean;
  namespace: string;
}

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

/** The first interpreter that has grpc: BENCH_PYTHON, Debian's, then whatever `python3` is on PATH. */
export function findPython(): string | null {
  const candidates = [process.env.BENCH_PYTHON, "/usr/bin/python3", "python3"].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ["-c", "import grpc"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  return null;
}

export function loadBenchConfig(): BenchConfig {
  const quick = process.env.BENCH_QUICK === "1";
  const python = findPython();
  if (python === null) {
    throw new Error("no python3 with grpc found: apt-get install python3-grpcio, or set BENCH_PYTHON");
  }
  const engine = process.env.BENCH_ENGINE ?? "aio";
  if (engine !== "aio" && engine !== "threads") throw new Error("BENCH_ENGINE must be aio or threads");
  const seconds = num("BENCH_SECONDS", quick ? 1 : 5);
  return {
    databaseUrl: process.env.BENCH_DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres",
    images: Math.round(num("BENCH_IMAGES", quick ? 2_000 : 10_000)),
    operations: process.env.BENCH_OPERATIONS ? process.env.BENCH_OPERATIONS.split(",").map((o) => o.trim()) : null,
    concurrency: (process.env.BENCH_CONCURRENCY || "1,4,16").split(",").map((c) => {
      const n = Number(c.trim());
      if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_CONCURRENCY: bad level ${JSON.stringify(c)}`);
      return n;
    }),
    seconds,
    warmupSeconds: num("BENCH_WARMUP", quick ? 0.3 : 1),
    runs: Math.round(num("BENCH_RUNS", 1)),
    createPool: Math.round(num("BENCH_CREATE_POOL", Math.max(2_000, seconds * 10_000))),
    httpConnections: Math.round(num("BENCH_HTTP_CONNECTIONS", 16)),
    httpStreams: Math.round(num("BENCH_HTTP_STREAMS", 10)),
    python,
    engine,
    quick,
    namespace: "bench",
  };
}
