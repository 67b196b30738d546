// Framework overhead: what connect-es costs per unary call, with no database.
//
// Starts minimal servers with a trivial in-memory unary handler (containerd's
// Images.Get answering from a Map) and drives them with h2load over h2c,
// 16 connections x 10 streams, for gRPC and for the Connect protocol with JSON.
// Each server is a child process, so its CPU time (process.cpuUsage, all
// threads) over a run divided by the requests h2load completed is the CPU per
// request. Runs are interleaved across servers and repeated; the table shows
// medians and the min-max spread.
//
//   npx tsx bench/framework-overhead.ts [options]
//     --variant NAME=DIR   load @connectrpc/* from DIR/node_modules (repeatable;
//                          default: this project, as installed). Use it to
//                          compare an unpatched copy with the patched one.
//     --servers node,fastify   connect-node's adapter on http2.createServer, and/or
//                          Fastify on the project's one-port server (default both)
//     --protocols grpc,connect (default both)
//     --runs N             measured runs per cell (default 5)
//     --duration S         seconds per run (default 5)
//     --warmup S           seconds of unmeasured load per cell first (default 3)
//     --rps N              offer a fixed N requests/s in total instead of as many as
//                          possible: CPU per request is then compared at equal load,
//                          which is far less sensitive to other processes on the
//                          machine than saturated throughput is
//     --json FILE          also write every run as JSON
//
// An unpatched copy to compare with (npm ci without scripts skips patch-package):
//   mkdir /tmp/unpatched && cp package.json package-lock.json /tmp/unpatched/ &&
//   (cd /tmp/unpatched && npm ci --ignore-scripts)
//   npx tsx bench/framework-overhead.ts --variant 2.2.0=/tmp/unpatched --variant patched=.
// docs/connect-unary-fast-path.md has the results.
//
// Needs h2load (Debian: nghttp2-client). Traffic goes to 127.0.0.1 only.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  GetImageRequestSchema,
  Images,
  ImageSchema,
  type Image,
} from "../gen/containerd/services/images/v1/images_pb.js";

const execFileAsync = promisify(execFile);
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GET_PATH = "/containerd.services.images.v1.Images/Get";
const IMAGE_NAME = "docker.io/library/alpine:3.20";
const CONNECTIONS = 16;
const STREAMS = 10;

type ServerKind = "node" | "fastify";
type Protocol = "grpc" | "connect";

// ---------------------------------------------------------------------------
// Child process: one server.

function sampleImage(): Image {
  return create(ImageSchema, {
    name: IMAGE_NAME,
    labels: { "containerd.io/gc.ref.content.m.0": "sha256:" + "a".repeat(64) },
    target: {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: "sha256:" + "b".repeat(64),
      size: 9218n,
    },
  });
}

async function serve(kind: ServerKind, root: string): Promise<void> {
  const modules = join(root, "node_modules");
  const esm = (entry: string) => import(pathToFileURL(join(modules, entry)).href);
  const connect = (await esm("@connectrpc/connect/dist/esm/index.js")) as typeof import("@connectrpc/connect");
  const images = new Map<string, Image>([[IMAGE_NAME, sampleImage()]]);
  const routes = (router: import("@connectrpc/connect").ConnectRouter) =>
    router.service(Images, {
      get(req) {
        const image = images.get(req.name);
        if (image === undefined) throw new connect.ConnectError(`image ${req.name} not found`, connect.Code.NotFound);
        return { image };
      },
    });

  let port: number;
  if (kind === "node") {
    const { connectNodeAdapter } = (await esm(
      "@connectrpc/connect-node/dist/esm/index.js",
    )) as typeof import("@connectrpc/connect-node");
    const server = http2.createServer(connectNodeAdapter({ routes }));
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    port = (server.address() as { port: number }).port;
  } else {
    const { fastifyConnectPlugin } = (await esm(
      "@connectrpc/connect-fastify/dist/esm/index.js",
    )) as typeof import("@connectrpc/connect-fastify");
    const fastify = createRequire(join(root, "package.json"))("fastify") as typeof import("fastify").default;
    const { createOnePortServer } = await import("../server/http/one-port-server.js");
    type Handler = Parameters<typeof createOnePortServer>[0];
    const app = fastify({
      serverFactory: (h) => createOnePortServer(h as Handler) as unknown as import("node:http").Server,
    });
    await app.register(fastifyConnectPlugin, { routes });
    await app.listen({ port: 0, host: "127.0.0.1" });
    port = (app.server.address() as { port: number }).port;
  }
  process.on("message", (m: { cmd?: string }) => {
    if (m.cmd === "cpu") process.send!({ cpu: process.cpuUsage() });
  });
  process.send!({ port });
}

// ---------------------------------------------------------------------------
// Parent: start servers, drive them, report.

interface Variant {
  name: string;
  root: string;
}

interface Cell {
  variant: string;
  server: ServerKind;
  protocol: Protocol;
  port: number;
  child: ChildProcess;
}

interface Run {
  variant: string;
  server: ServerKind;
  protocol: Protocol;
  run: number;
  reqPerSec: number;
  succeeded: number;
  failed: number;
  cpuMicrosPerReq: number;
}

function parseArgs(argv: string[]) {
  const variants: Variant[] = [];
  let servers: ServerKind[] = ["node", "fastify"];
  let protocols: Protocol[] = ["grpc", "connect"];
  let runs = 5;
  let duration = 5;
  let warmup = 3;
  let json: string | undefined;
  let rps: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--variant") {
      const [name, dir] = value().split("=");
      if (!name || !dir) throw new Error("--variant NAME=DIR");
      variants.push({ name, root: resolve(dir) });
    } else if (a === "--servers") servers = value().split(",") as ServerKind[];
    else if (a === "--protocols") protocols = value().split(",") as Protocol[];
    else if (a === "--runs") runs = Number(value());
    else if (a === "--duration") duration = Number(value());
    else if (a === "--warmup") warmup = Number(value());
    else if (a === "--json") json = value();
    else if (a === "--rps") rps = Number(value());
    else throw new Error(`unknown argument ${a}`);
  }
  if (variants.length === 0) variants.push({ name: "installed", root: projectRoot });
  return { variants, servers, protocols, runs, duration, warmup, json, rps };
}

function startChild(kind: ServerKind, root: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--serve", kind, "--root", root],
    { stdio: ["ignore", "inherit", "inherit", "ipc"], cwd: projectRoot },
  );
  return new Promise((ok, fail) => {
    child.once("message", (m: { port: number }) => ok({ child, port: m.port }));
    child.once("exit", (code) => fail(new Error(`server ${kind} ${root} exited with ${code}`)));
  });
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((ok) => {
    child.once("message", (m: { cpu: NodeJS.CpuUsage }) => ok(m.cpu.user + m.cpu.system));
    child.send({ cmd: "cpu" });
  });
}

/** One real call per protocol, so that h2load's 2xx counts mean correct answers. */
async function preflight(port: number): Promise<void> {
  const { createClient } = await import("@connectrpc/connect");
  const { createGrpcTransport, createConnectTransport } = await import("@connectrpc/connect-node");
  const baseUrl = `http://127.0.0.1:${port}`;
  for (const transport of [
    createGrpcTransport({ baseUrl }),
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false }),
  ]) {
    const res = await createClient(Images, transport).get({ name: IMAGE_NAME });
    if (res.image?.name !== IMAGE_NAME) throw new Error(`preflight on port ${port}: unexpected answer`);
  }
}

function bodyFiles(dir: string): Record<Protocol, { file: string; contentType: string }> {
  const request = create(GetImageRequestSchema, { name: IMAGE_NAME });
  const message = toBinary(GetImageRequestSchema, request);
  const envelope = Buffer.alloc(5 + message.length);
  envelope.writeUInt8(0, 0);
  envelope.writeUInt32BE(message.length, 1);
  envelope.set(message, 5);
  writeFileSync(join(dir, "get.grpc"), envelope);
  writeFileSync(join(dir, "get.json"), toJsonString(GetImageRequestSchema, request));
  return {
    grpc: { file: join(dir, "get.grpc"), contentType: "application/grpc" },
    connect: { file: join(dir, "get.json"), contentType: "application/json" },
  };
}

async function h2load(port: number, body: { file: string; contentType: string }, seconds: number, rps?: number) {
  const args = [
    ...(rps === undefined ? [] : [`--rps=${rps / CONNECTIONS}`]),
    "-c", String(CONNECTIONS),
    "-m", String(STREAMS),
    "-D", String(seconds),
    "-d", body.file,
    "-H", `content-type: ${body.contentType}`,
    "-H", "te: trailers",
    `http://127.0.0.1:${port}${GET_PATH}`,
  ];
  const { stdout } = await execFileAsync("h2load", args, { maxBuffer: 1 << 20 });
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  if (!rate || !counts) throw new Error(`cannot parse h2load output:\n${stdout}`);
  return {
    reqPerSec: Number(rate[1]),
    done: Number(counts[2]),
    succeeded: Number(counts[3]),
    failed: Number(counts[4]) + Number(counts[5]),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--serve") {
    await serve(argv[1] as ServerKind, argv[3] ?? projectRoot);
    return;
  }
  const opt = parseArgs(argv);
  await execFileAsync("h2load", ["--version"]).catch(() => {
    throw new Error("h2load not found (apt-get install nghttp2-client)");
  });
  const dir = mkdtempSync(join(tmpdir(), "framework-overhead-"));
  const bodies = bodyFiles(dir);
  const cells: Cell[] = [];
  const children: ChildProcess[] = [];
  try {
    for (const variant of opt.variants) {
      for (const server of opt.servers) {
        const { child, port } = await startChild(server, variant.root);
        children.push(child);
        await preflight(port);
        for (const protocol of opt.protocols) cells.push({ variant: variant.name, server, protocol, port, child });
      }
    }
    console.log(
      `${cells.length} cells, ${opt.runs} runs x ${opt.duration}s, ${CONNECTIONS} connections x ${STREAMS} streams` +
        `${opt.rps === undefined ? "" : `, offering ${opt.rps} req/s`}; warm-up ${opt.warmup}s each`,
    );
    for (const cell of cells) await h2load(cell.port, bodies[cell.protocol], opt.warmup, opt.rps);

    const runs: Run[] = [];
    for (let r = 0; r < opt.runs; r++) {
      // Rotate the order each round so no cell always runs first or last.
      const order = cells.map((_, i) => cells[(i + r) % cells.length]!);
      for (const cell of order) {
        const before = await cpuOf(cell.child);
        const res = await h2load(cell.port, bodies[cell.protocol], opt.duration, opt.rps);
        const after = await cpuOf(cell.child);
        const run: Run = {
          variant: cell.variant,
          server: cell.server,
          protocol: cell.protocol,
          run: r,
          reqPerSec: res.reqPerSec,
          succeeded: res.succeeded,
          failed: res.failed,
          cpuMicrosPerReq: (after - before) / Math.max(1, res.done),
        };
        runs.push(run);
        console.log(
          `  run ${r + 1}/${opt.runs} ${cell.variant.padEnd(12)} ${cell.server.padEnd(7)} ${cell.protocol.padEnd(7)} ` +
            `${res.reqPerSec.toFixed(0).padStart(6)} req/s  ${run.cpuMicrosPerReq.toFixed(0).padStart(4)} us CPU/req` +
            (res.failed ? `  ${res.failed} FAILED` : ""),
        );
      }
    }

    const first = opt.variants[0]!.name;
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(0)}%`;
    console.log(
      `\n| variant | server | protocol | req/s median | req/s min-max | CPU us/req median | CPU us/req min-max | req/s vs ${first} | CPU/req vs ${first} |`,
    );
    console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const cell of cells) {
      const of = (variant: string) =>
        runs.filter((x) => x.variant === variant && x.server === cell.server && x.protocol === cell.protocol);
      const mine = of(cell.variant);
      const base = of(first);
      const rps = mine.map((x) => x.reqPerSec);
      const cpu = mine.map((x) => x.cpuMicrosPerReq);
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
      console.log(
        `| ${cell.variant} | ${cell.server} | ${cell.protocol} | ${median(rps).toFixed(0)} | ${range(rps)} | ` +
          `${median(cpu).toFixed(0)} | ${range(cpu)} | ` +
          `${pct((median(rps) / median(base.map((x) => x.reqPerSec)) - 1) * 100)} | ` +
          `${pct((median(cpu) / median(base.map((x) => x.cpuMicrosPerReq)) - 1) * 100)} |`,
      );
    }
    const failed = runs.reduce((n, x) => n + x.failed, 0);
    if (failed > 0) console.log(`\n${failed} requests failed`);
    if (opt.json) writeFileSync(opt.json, JSON.stringify({ options: opt, runs }, null, 2));
  } finally {
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
