import cluster, { type Worker } from "node:cluster";
import { pino } from "pino";
import type { Config } from "./config.js";
import { openDatabase } from "./db/open.js";
import { claimSocketPath } from "./http/unix-socket.js";
import { placeConnections } from "./placement/primary.js";

export const SHUTDOWN_DEADLINE_MS = 5_000;

/**
 * The primary of WORKERS processes: it migrates once and claims the unix
 * socket before any worker starts, then keeps the workers running (they share
 * the port and socket through node:cluster) and drains them on SIGTERM/SIGINT.
 */
export async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel });
  await (await openDatabase(config)).close();
  if (config.socketPath) await claimSocketPath(config.socketPath);

  let stopping = false;
  const listening = new WeakSet<Worker>();
  cluster.on("listening", (worker) => listening.add(worker));
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
      return;
    }
    if (!listening.has(worker)) {
      log.error(`worker ${worker.process.pid} failed to start (exit ${code ?? signal}); stopping`);
      return stop("SIGTERM", 1);
    }
    log.error(`worker ${worker.process.pid} died (exit ${code ?? signal}); starting another`);
    cluster.fork();
  });

  const stop = (signal: NodeJS.Signals, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, stopping ${config.workers} workers`);
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    if (exitCode !== 0) process.exitCode = exitCode;
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));

  if (config.socketPath) placeConnections(log);
  for (let i = 0; i < config.workers; i++) cluster.fork();
  log.info(`started ${config.workers} workers`);
}
