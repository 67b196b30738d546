import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const mainModule = fileURLToPath(new URL("../../server/main.ts", import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Runs `server/main.ts` as its own process, as `npm start` does, on an ephemeral port. */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", mainModule], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`service exited with ${code} before listening:\n${output}`)));
  });
  return {
    child,
    baseUrl,
    output: () => output,
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      child.kill(signal);
      const code = await waitForExit(child);
      return { code, ms: Date.now() - started };
    },
  };
}
