// Runs bench/grpc_load.py (Debian's python3-grpcio) once and parses its JSON.

import { spawn } from "node:child_process";
import path from "node:path";
import type { Target } from "./processes.js";

const SCRIPT = path.join(import.meta.dirname, "grpc_load.py");

export interface LoadResult {
  engine: string;
  concurrency: number;
  channels: number;
  /** Successful calls completed inside the measured window. */
  calls: number;
  /** Failed calls (any time), by gRPC code name. */
  errors: number;
  errorCodes: Record<string, number>;
  /** Records taken from a sequential pool (Create/Delete: how many names were used). */
  issued: number;
  seconds: number;
  /** calls / seconds */
  rate: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; mean: number | null; max: number | null };
  /** CPU cores the generator itself used during the window. */
  generatorCpu: number;
  /** CPU cores the server used during the window (process tree, plus Postgres backends for ours). */
  serverCpu: number | null;
  /** CPU cores everything else on the machine used during the window (noise). */
  otherCpu: number;
  /** CPU cores the hypervisor took during the window (steal: the machine had work to run and was not run). */
  stolenCpu: number;
}

export interface LoadOptions {
  python: string;
  engine: "aio" | "threads";
  target: Target;
  method: string;
  pool: string;
  namespace: string;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  pick: "random" | "sequential";
  channels?: number;
  /** Write one successful response here (for checking). */
  sample?: string;
}

export function runGrpcLoad(o: LoadOptions): Promise<LoadResult> {
  const args = [
    SCRIPT,
    ["--socket", o.target.socket],
    ["--method", o.method],
    ["--requests", o.pool],
    ["--namespace", o.namespace],
    ["--concurrency", String(o.concurrency)],
    ["--duration", String(o.seconds)],
    ["--warmup", String(o.warmupSeconds)],
    ["--pick", o.pick],
    ["--engine", o.engine],
    ["--watch", String(o.target.pid)],
    o.target.pgDatabase ? ["--watch-pg-db", o.target.pgDatabase] : [],
    o.channels ? ["--channels", String(o.channels)] : [],
    o.sample ? ["--sample", o.sample] : [],
  ].flat();
  return new Promise((resolve, reject) => {
    const child = spawn(o.python, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`grpc_load.py exited with ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`grpc_load.py printed no JSON: ${out.slice(0, 300)} ${err.slice(0, 300)}`));
      }
    });
  });
}
