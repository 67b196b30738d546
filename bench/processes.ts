// The processes under test: a fresh Postgres database, OUR service as a
// child process, and (when installed and root) a private containerd.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { startContainerd } from "../test/support/containerd.js";

/** A gRPC server the load generator can drive. */
export interface Target {
  name: "ours" | "containerd";
  /** Unix socket of its gRPC endpoint. */
  socket: string;
  /** Root pid; its descendants count as the server too. */
  pid: number;
  /** For ours: Postgres backends of this database count as the server too. */
  pgDatabase?: string;
  stop(): Promise<void>;
}

export interface Ours extends Target {
  name: "ours";
  /** TCP port (HTTP/1.1 + h2c) for wrk and h2load. */
  port: number;
  /** Lines the service wrote to stdout/stderr (its log at LOG_LEVEL=warn). */
  logLines(): string[];
}

// ---- database ----

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A database of its own for this bench run (as test/support/database.ts does for tests). */
export async function createDatabase(baseUrl: string): Promise<BenchDatabase> {
  const name = `ims_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(baseUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin(baseUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

// ---- helpers ----

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => (clearTimeout(timer), resolve(true)));
  });
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** pid and all its descendants, from /proc. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/**
 * The TCP port a process tree listens on, from /proc: at LOG_LEVEL=warn the
 * service does not log "Server listening at ..." (Fastify logs it at info).
 */
function listeningPort(root: number): number | null {
  const inodes = new Set<string>();
  for (const pid of processTree(root)) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" });
        const match = /^socket:\[(\d+)\]$/.exec(link);
        if (match) inodes.add(match[1]!);
      }
    } catch {
      // exited or not readable
    }
  }
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local_address rem_address st ... inode (index 9); st 0A = LISTEN
      if (cols.length > 9 && cols[3] === "0A" && inodes.has(cols[9]!)) return parseInt(cols[1]!.split(":")[1]!, 16);
    }
  }
  return null;
}

const LISTENING = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/;

// ---- our service ----

export interface StartOursOptions {
  databaseUrl: string;
  databaseName: string;
  socket: string;
  logFile: string;
  timeoutMs?: number;
}

/** `node --import tsx server/main.ts` with PORT=0 and a unix socket; WORKERS passes through. */
export async function startOurs(options: StartOursOptions): Promise<Ours> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["HOST", "DATA_DIR", "CORS_ORIGINS"]) delete env[name];
  Object.assign(env, {
    DATABASE_URL: options.databaseUrl,
    PORT: "0",
    SOCKET: options.socket,
    LOG_LEVEL: "warn",
  });
  const root = path.resolve(import.meta.dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const log = createWriteStream(options.logFile);
  let port: number | null = null;
  let partial = "";
  const onOutput = (chunk: Buffer) => {
    log.write(chunk);
    const text = partial + chunk.toString("utf8");
    const parts = text.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      const match = LISTENING.exec(line);
      if (match && port === null) port = Number(match[1]);
    }
  };
  child.stdout!.on("data", onOutput);
  child.stderr!.on("data", onOutput);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 8_000))) child.kill("SIGKILL");
      await waitExit(child, 2_000);
    }
    log.end();
  };

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`our service exited during start-up (code ${child.exitCode}):\n${lines.slice(-20).join("\n")}`);
    }
    if (await canConnect(options.socket)) {
      port ??= listeningPort(child.pid!);
      if (port !== null) break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`our service did not start within the timeout:\n${lines.slice(-20).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
  if (!ready?.ok) {
    await stop();
    throw new Error(`our service is not ready: GET /readyz on port ${port} answered ${ready?.status ?? "nothing"}`);
  }

  return {
    name: "ours",
    socket: options.socket,
    pid: child.pid!,
    pgDatabase: options.databaseName,
    port,
    logLines: () => [...lines, ...(partial ? [partial] : [])],
    stop,
  };
}

// ---- containerd ----

/** A private containerd (see test/support/containerd.ts), or null when not installed or not root. */
export async function startReference(): Promise<Target | null> {
  const running = await startContainerd({ logLevel: "warn" });
  if (running === null) return null;
  return { name: "containerd", socket: running.socket, pid: running.pid, stop: running.stop };
}

export function containerdVersion(): string | null {
  const out = spawnSync("containerd", ["--version"], { encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim() : null;
}

// ---- CPU accounting (the Python generator does the same for gRPC cells) ----

const CLK_TCK = 100; // Linux USER_HZ

function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function postgresBackends(database: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.startsWith("postgres:") && cmd.includes(` ${database} `)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** CPU seconds so far, per pid, of a target's process tree and (for ours) its Postgres backends. */
export function targetCpu(target: Target): Map<number, number> {
  const pids = [...processTree(target.pid), ...(target.pgDatabase ? postgresBackends(target.pgDatabase) : [])];
  return new Map(pids.map((pid) => [pid, cpuSecondsOf(pid)]));
}

/** CPU seconds used between two targetCpu snapshots (a pid that appeared counts in full). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}
