// OUR service's Get over its TCP port with generic HTTP load generators:
// gRPC and Connect JSON over h2c with h2load (same tool, same c x m), and
// Connect JSON over HTTP/1.1 with wrk. One fixed name for all three.

import { create, toBinary } from "@bufbuild/protobuf";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { GetImageRequestSchema } from "../gen/containerd/services/images/v1/images_pb.js";
import { imageName } from "./dataset.js";
import { cpuBetween, targetCpu, type Ours } from "./processes.js";

const GET_PATH = "/containerd.services.images.v1.Images/Get";
const LUA = path.join(import.meta.dirname, "wrk-post.lua");

export type HttpCase = "h2load-grpc" | "h2load-json" | "wrk-json";

export const HTTP_CASES: ReadonlyArray<{ key: HttpCase; label: string }> = [
  { key: "h2load-grpc", label: "gRPC (protobuf), h2c, h2load" },
  { key: "h2load-json", label: "Connect JSON, h2c, h2load" },
  { key: "wrk-json", label: "Connect JSON, HTTP/1.1, wrk" },
];

export interface HttpResult {
  case: HttpCase;
  connections: number;
  /** In-flight requests per connection (1 for HTTP/1.1). */
  streams: number;
  rate: number;
  requests: number;
  failed: number;
  /** h2load reports only the mean; wrk also percentiles. */
  latencyMs: { mean: number | null; p50: number | null; p99: number | null };
  serverCpu: number;
  command: string;
}

export interface HttpBodies {
  json: string;
  grpc: string;
}

/** The Get request as a JSON file and as a gRPC-framed protobuf file. */
export function writeBodies(dir: string, name = imageName(0)): HttpBodies {
  const json = path.join(dir, "get.json");
  const grpc = path.join(dir, "get.grpc");
  writeFileSync(json, JSON.stringify({ name }));
  const message = toBinary(GetImageRequestSchema, create(GetImageRequestSchema, { name }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0); // not compressed
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  writeFileSync(grpc, frame);
  return { json, grpc };
}

/** One call of each kind before loading, since h2load cannot see grpc-status (always HTTP 200). */
export async function checkHttpGet(port: number, namespace: string, name = imageName(0)): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${GET_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", "containerd-namespace": namespace },
    body: JSON.stringify({ name }),
  });
  const body = (await response.json()) as { image?: { name?: string } };
  if (!response.ok || body.image?.name !== name) throw new Error(`Connect JSON Get failed: ${response.status} ${JSON.stringify(body)}`);

  const message = toBinary(GetImageRequestSchema, create(GetImageRequestSchema, { name }));
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), Buffer.from(message)]);
  frame.writeUInt32BE(message.length, 1);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const status = await new Promise<string>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": GET_PATH,
        "content-type": "application/grpc",
        te: "trailers",
        "containerd-namespace": namespace,
      });
      let bytes = 0;
      stream.on("data", (d: Buffer) => (bytes += d.length));
      stream.on("trailers", (t) => resolve(`${t["grpc-status"]}/${bytes}`));
      stream.on("error", reject);
      stream.end(frame);
    });
    if (!status.startsWith("0/") || status === "0/0") throw new Error(`gRPC Get failed: grpc-status/bytes ${status}`);
  } finally {
    session.close();
  }
}

function exec(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}:\n${out}`))));
  });
}

function match(text: string, re: RegExp): string | null {
  return re.exec(text)?.[1] ?? null;
}

/** wrk's "1.23ms" / "456.00us" / "1.02s" -> ms */
function wrkMs(value: string | null): number | null {
  if (value === null) return null;
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return null;
  const factor = { us: 0.001, ms: 1, s: 1_000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
  return Number(m[1]) * factor;
}

/** h2load's "2.34ms" / "512us" / "1.2s" -> ms */
const h2loadMs = wrkMs;

export interface HttpLoadOptions {
  ours: Ours;
  namespace: string;
  bodies: HttpBodies;
  connections: number;
  streams: number;
  seconds: number;
  warmupSeconds: number;
}

function h2loadArgs(o: HttpLoadOptions, kind: "grpc" | "json"): string[] {
  const headers =
    kind === "grpc" ? ["content-type: application/grpc", "te: trailers"] : ["content-type: application/json"];
  return [
    ...["-c", String(o.connections), "-m", String(o.streams), "-t", "1"],
    ...["-D", `${Math.round(o.seconds * 1000)}ms`, `--warm-up-time=${Math.round(o.warmupSeconds * 1000)}ms`],
    ...[...headers, `containerd-namespace: ${o.namespace}`].flatMap((h) => ["-H", h]),
    ...["-d", kind === "grpc" ? o.bodies.grpc : o.bodies.json],
    `http://127.0.0.1:${o.ours.port}${GET_PATH}`,
  ];
}

function parseH2load(out: string): Pick<HttpResult, "rate" | "requests" | "failed" | "latencyMs"> {
  const rate = Number(match(out, /finished in [\d.]+\w*, ([\d.]+) req\/s/));
  const done = Number(match(out, /requests: \d+ total, \d+ started, (\d+) done/));
  const failed = Number(match(out, /requests: .* (\d+) failed/)) + Number(match(out, /requests: .* (\d+) errored/));
  const non2xx = ["3xx", "4xx", "5xx"].reduce((sum, c) => sum + Number(match(out, new RegExp(`(\\d+) ${c}`)) ?? 0), 0);
  const mean = h2loadMs(match(out, /time for request:\s+\S+\s+\S+\s+(\S+)/));
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`could not read h2load's output:\n${out}`);
  return { rate, requests: done, failed: failed + non2xx, latencyMs: { mean, p50: null, p99: null } };
}

function wrkArgs(o: HttpLoadOptions): string[] {
  return [
    ...["-t", "2", "-c", String(o.connections), "-d", `${Math.max(1, Math.round(o.seconds))}s`, "--latency", "-s", LUA],
    `http://127.0.0.1:${o.ours.port}${GET_PATH}`,
    "--",
    o.bodies.json,
    o.namespace,
  ];
}

function parseWrk(out: string): Pick<HttpResult, "rate" | "requests" | "failed" | "latencyMs"> {
  const rate = Number(match(out, /Requests\/sec:\s+([\d.]+)/));
  const requests = Number(match(out, /(\d+) requests in/));
  const non2xx = Number(match(out, /Non-2xx or 3xx responses: (\d+)/) ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  const latencyMs = {
    mean: wrkMs(match(out, /Latency\s+(\S+)/)),
    p50: wrkMs(match(out, /\s50%\s+(\S+)/)),
    p99: wrkMs(match(out, /\s99%\s+(\S+)/)),
  };
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`could not read wrk's output:\n${out}`);
  return { rate, requests, failed: non2xx + socketErrors, latencyMs };
}

export async function runHttpCase(key: HttpCase, o: HttpLoadOptions): Promise<HttpResult> {
  let command: string;
  let args: string[];
  if (key === "wrk-json") {
    // wrk has no warm-up option: a short unmeasured run first.
    await exec("wrk", wrkArgs({ ...o, seconds: Math.max(1, Math.round(o.warmupSeconds)) }));
    [command, args] = ["wrk", wrkArgs(o)];
  } else {
    [command, args] = ["h2load", h2loadArgs(o, key === "h2load-grpc" ? "grpc" : "json")];
  }
  const before = targetCpu(o.ours);
  const started = performance.now();
  const out = await exec(command, args);
  // h2load's warm-up is inside the command's run time; CPU is averaged over all of it.
  const wall = (performance.now() - started) / 1000;
  const serverCpu = cpuBetween(before, targetCpu(o.ours)) / wall;
  const parsed = command === "wrk" ? parseWrk(out) : parseH2load(out);
  return {
    case: key,
    connections: o.connections,
    streams: command === "wrk" ? 1 : o.streams,
    ...parsed,
    serverCpu,
    command: [command, ...args].join(" "),
  };
}
