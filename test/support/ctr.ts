// Test support: run containerd's `ctr` CLI against a given gRPC socket.

import { spawn } from "node:child_process";

export interface CtrResult {
  /** Exit code; 124 on timeout, 127 if ctr could not be spawned. */
  code: number;
  stdout: string;
  stderr: string;
}

export const CTR_BIN = "/usr/bin/ctr";
const CTR_TIMEOUT_MS = 15_000;

/**
 * Run `ctr -a <socket> -n <namespace> ...args`. Never throws on a non-zero
 * exit, on a timeout (SIGKILL after 15 s, code 124) or if ctr is missing.
 */
export function ctr(
  socket: string,
  namespace: string,
  args: string[],
  opts: { timeoutMs?: number; bin?: string } = {},
): Promise<CtrResult> {
  const timeoutMs = opts.timeoutMs ?? CTR_TIMEOUT_MS;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (code: number, extraErr = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + extraErr,
      });
    };
    const child = spawn(opts.bin ?? CTR_BIN, ["-a", socket, "-n", namespace, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CONTAINERD_ADDRESS: socket, CONTAINERD_NAMESPACE: namespace },
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => finish(127, `ctr spawn error: ${e.message}\n`));
    child.on("close", (code, signal) => {
      if (timedOut) finish(124, `ctr timed out after ${timeoutMs} ms\n`);
      else finish(code ?? (signal ? 128 : 1));
    });
  });
}
