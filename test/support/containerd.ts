// Test support: run a PRIVATE containerd (root, state, sockets all inside a
// fresh temp folder) as a behavioural reference for the Images API.
//
// Never touches /var/lib/containerd, /run/containerd or /opt/containerd:
// every path containerd would write to is pointed into the temp folder, and
// the plugins that default to system paths (io.containerd.internal.v1.opt ->
// /opt/containerd, CRI -> /etc/cni, ...) are disabled.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, openSync, closeSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface RunningContainerd {
  /** Absolute path of containerd's gRPC unix socket. */
  socket: string;
  /** PID of the containerd child process. */
  pid: number;
  /** The temp folder holding config, root, state, sockets and log. */
  dir: string;
  /** Path of the log file (containerd's stdout + stderr). */
  logFile: string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp folder. Idempotent. */
  stop(): Promise<void>;
}

export interface StartContainerdOptions {
  /** Log level written to the config's [debug] section (default "info"). */
  logLevel?: "trace" | "debug" | "info" | "warn" | "error";
  /** How long to wait for the gRPC socket to accept connections (default 20 s). */
  timeoutMs?: number;
}

/**
 * Plugins not needed for images / leases / namespaces / content metadata.
 * Disabling them makes startup fast (~20 ms) and free of warnings/errors,
 * and keeps containerd from touching system paths.
 */
const DISABLED_PLUGINS: readonly string[] = [
  // CRI (wants /etc/cni, /opt/cni, streaming server, ...)
  "io.containerd.grpc.v1.cri",
  // snapshotters needing kernel features / extra config
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
  // runtimes / tasks / monitoring
  "io.containerd.runtime.v1.linux",
  "io.containerd.runtime.v2.task",
  "io.containerd.monitor.v1.cgroups",
  "io.containerd.service.v1.tasks-service",
  "io.containerd.grpc.v1.tasks",
  "io.containerd.internal.v1.restart",
  // creates /opt/containerd/{bin,lib} by default
  "io.containerd.internal.v1.opt",
  // containers, diff
  "io.containerd.service.v1.containers-service",
  "io.containerd.grpc.v1.containers",
  "io.containerd.differ.v1.walking",
  "io.containerd.service.v1.diff-service",
  "io.containerd.grpc.v1.diff",
  // optional plugins that exist in some builds
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
];

/** Plugins that must load, or containerd refuses to start. */
const REQUIRED_PLUGINS: readonly string[] = [
  "io.containerd.grpc.v1.images",
  "io.containerd.grpc.v1.leases",
  "io.containerd.grpc.v1.namespaces",
  "io.containerd.grpc.v1.content",
];

function tomlString(s: string): string {
  return JSON.stringify(s); // JSON string escaping is valid TOML basic-string escaping
}

function tomlArray(items: readonly string[]): string {
  return "[\n" + items.map((p) => `  ${tomlString(p)},`).join("\n") + "\n]";
}

function containerdConfig(dir: string, logLevel: string): string {
  return `version = 2
root = ${tomlString(path.join(dir, "root"))}
state = ${tomlString(path.join(dir, "state"))}
temp = ${tomlString(path.join(dir, "tmp"))}
plugin_dir = ""
oom_score = 0
imports = []
disabled_plugins = ${tomlArray(DISABLED_PLUGINS)}
required_plugins = ${tomlArray(REQUIRED_PLUGINS)}

[grpc]
  address = ${tomlString(path.join(dir, "c.sock"))}
  tcp_address = ""
  uid = 0
  gid = 0

[ttrpc]
  address = ${tomlString(path.join(dir, "t.sock"))}
  uid = 0
  gid = 0

[debug]
  address = ""
  level = ${tomlString(logLevel)}

[metrics]
  address = ""
  grpc_histogram = false

[plugins]
  [plugins."io.containerd.gc.v1.scheduler"]
    startup_delay = "100ms"
`;
}

/** Absolute path of a usable containerd binary, or null. */
function findContainerd(): string | null {
  const candidates = ["/usr/bin/containerd"];
  for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
    if (d) candidates.push(path.join(d, "containerd"));
  }
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // try next
    }
  }
  return null;
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function tryConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    const done = (ok: boolean) => {
      s.removeAllListeners();
      s.on("error", () => {});
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

/** Pick a temp base short enough for unix socket paths (max ~107 bytes). */
function tempBase(): string {
  const t = os.tmpdir();
  return t.length <= 60 ? t : "/tmp";
}

/**
 * Start a private containerd. Returns null (never throws) if containerd is not
 * installed or we are not root. Throws if it is installed but fails to start.
 */
export async function startContainerd(opts: StartContainerdOptions = {}): Promise<RunningContainerd | null> {
  let bin: string | null;
  try {
    bin = findContainerd();
    if (!bin || !isRoot()) return null;
  } catch {
    return null;
  }

  const dir = await mkdtemp(path.join(tempBase(), "ctd-"));
  const socket = path.join(dir, "c.sock");
  const configFile = path.join(dir, "config.toml");
  const logFile = path.join(dir, "containerd.log");
  const timeoutMs = opts.timeoutMs ?? 20_000;

  await writeFile(configFile, containerdConfig(dir, opts.logLevel ?? "info"));

  const logFd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(bin, ["--config", configFile], {
      stdio: ["ignore", logFd, logFd],
      detached: false,
    });
  } finally {
    closeSync(logFd); // child has its own copy
  }
  const state: { spawnError: Error | null } = { spawnError: null };
  child.on("error", (e) => {
    state.spawnError = e;
  });
  // Never leave an orphaned containerd behind if the test process exits
  // without calling stop().
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      if (!(await waitExit(child, 5_000))) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
        await waitExit(child, 5_000);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (state.spawnError || child.exitCode !== null || child.signalCode !== null) {
      const tail = logTail(logFile);
      const why = state.spawnError
        ? `spawn failed: ${state.spawnError.message}`
        : `exited with code ${child.exitCode} signal ${child.signalCode}`;
      await stop();
      throw new Error(`containerd ${why}\n--- log tail ---\n${tail}`);
    }
    if (await tryConnect(socket)) break;
    if (Date.now() > deadline) {
      const tail = logTail(logFile);
      await stop();
      throw new Error(`containerd socket ${socket} not ready after ${timeoutMs} ms\n--- log tail ---\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return { socket, pid: child.pid!, dir, logFile, stop };
}
