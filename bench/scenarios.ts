// The gRPC workload: which RPCs, in which order, with which request pools,
// and how one response of each is checked.

import { fromBinary } from "@bufbuild/protobuf";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import {
  CreateImageResponseSchema,
  GetImageResponseSchema,
  ListImagesResponseSchema,
  UpdateImageResponseSchema,
} from "../gen/containerd/services/images/v1/images_pb.js";
import type { BenchConfig } from "./config.js";
import { PROD_FILTER, UPDATE_LABEL, pools } from "./dataset.js";
import { runGrpcLoad, type LoadResult } from "./grpc-load.js";
import type { Target } from "./processes.js";

const SERVICE = "/containerd.services.images.v1.Images";

export type OperationKey = "get" | "list" | "listFiltered" | "update" | "create" | "delete";

export interface Operation {
  key: OperationKey;
  label: string;
  method: string;
  /** "rate": req/s (higher is better); "msPerCall": wall time per call, 1000/rate (lower is better). */
  unit: "rate" | "msPerCall";
  /** Create and Delete use each name once; the others draw at random. */
  pick: "random" | "sequential";
  /** Why the one sampled response is wrong, or null. */
  check(response: Uint8Array, images: number): string | null;
}

const prodCount = (images: number) => Math.ceil(images / 10);

/** In the order they run: reads and updates on exactly `images` images, then Create, then Delete of what was created. */
export const OPERATIONS: readonly Operation[] = [
  {
    key: "get",
    label: "Get",
    method: `${SERVICE}/Get`,
    unit: "rate",
    pick: "random",
    check: (r) => (fromBinary(GetImageResponseSchema, r).image?.target?.digest.startsWith("sha256:") ? null : "Get returned no image"),
  },
  {
    key: "list",
    label: "List all",
    method: `${SERVICE}/List`,
    unit: "msPerCall",
    pick: "random",
    check: (r, images) => {
      const n = fromBinary(ListImagesResponseSchema, r).images.length;
      return n === images ? null : `List returned ${n} images, expected ${images}`;
    },
  },
  {
    key: "listFiltered",
    label: `List ${PROD_FILTER}`,
    method: `${SERVICE}/List`,
    unit: "rate",
    pick: "random",
    check: (r, images) => {
      const listed = fromBinary(ListImagesResponseSchema, r).images;
      if (listed.some((i) => i.labels.env !== "prod")) return "filtered List returned a non-prod image";
      return listed.length === prodCount(images) ? null : `filtered List returned ${listed.length}, expected ${prodCount(images)}`;
    },
  },
  {
    key: "update",
    label: "Update label",
    method: `${SERVICE}/Update`,
    unit: "rate",
    pick: "random",
    check: (r) => (fromBinary(UpdateImageResponseSchema, r).image?.labels[UPDATE_LABEL] ? null : "Update did not set the label"),
  },
  {
    key: "create",
    label: "Create",
    method: `${SERVICE}/Create`,
    unit: "rate",
    pick: "sequential",
    check: (r) => (fromBinary(CreateImageResponseSchema, r).image?.name.includes("/bench-r") ? null : "Create returned no image"),
  },
  {
    key: "delete",
    label: "Delete",
    method: `${SERVICE}/Delete`,
    unit: "rate",
    pick: "sequential",
    check: (r) => (r.length === 0 ? null : "Delete returned a non-empty message"),
  },
];

export interface Cell {
  op: OperationKey;
  concurrency: number;
  target: Target["name"];
  run: number;
  result: LoadResult;
  /** What went wrong (errors, a wrong response, a short pool). */
  problems: string[];
  /** Too many errors or a wrong response: the numbers are shown but must not be trusted. */
  invalid: boolean;
}

/** Share of errors above which a cell is invalid. */
const MAX_ERROR_SHARE = 0.01;

export class Workload {
  /** Names each target used per (run, concurrency) Create cell, for the matching Delete. */
  private created = new Map<string, number>();

  constructor(
    private readonly config: BenchConfig,
    private readonly dir: string,
  ) {}

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Pools that do not depend on the run. */
  prepare(): void {
    pools.get(this.file("get.bin"), this.config.images);
    pools.list(this.file("list.bin"), []);
    pools.list(this.file("listFiltered.bin"), [PROD_FILTER]);
  }

  /** Pre-fill a target with `images` images via Create at concurrency 16. */
  async fill(target: Target): Promise<LoadResult> {
    const pool = this.file("fill.bin");
    if (!existsSync(pool)) pools.fill(pool, this.config.images);
    const result = await runGrpcLoad({
      ...this.common(target),
      method: `${SERVICE}/Create`,
      pool,
      concurrency: 16,
      seconds: 3_600,
      warmupSeconds: 0,
      pick: "sequential",
    });
    if (result.errors > 0 || result.issued !== this.config.images) {
      throw new Error(`filling ${target.name} failed: ${result.issued} sent, errors ${JSON.stringify(result.errorCodes)}`);
    }
    return result;
  }

  private common(target: Target) {
    return { python: this.config.python, engine: this.config.engine, target, namespace: this.config.namespace };
  }

  private poolFor(op: Operation, target: Target, run: number, concurrency: number): string {
    switch (op.key) {
      case "get":
      case "list":
      case "listFiltered":
        return this.file(`${op.key}.bin`);
      case "update": {
        const file = this.file(`update-r${run}.bin`);
        if (!existsSync(file)) pools.update(file, this.config.images, run);
        return file;
      }
      case "create": {
        const file = this.file(`create-r${run}-c${concurrency}.bin`);
        if (!existsSync(file)) pools.create(file, this.config.createPool, run, concurrency);
        return file;
      }
      case "delete": {
        const used = this.created.get(`${target.name}/${run}/${concurrency}`) ?? 0;
        return pools.delete(this.file(`delete-${target.name}-r${run}-c${concurrency}.bin`), used, run, concurrency);
      }
    }
  }

  async cell(op: Operation, target: Target, run: number, concurrency: number): Promise<Cell> {
    const sample = this.file(`sample-${target.name}.bin`);
    rmSync(sample, { force: true });
    const timed = op.pick === "random";
    const result = await runGrpcLoad({
      ...this.common(target),
      method: op.method,
      pool: this.poolFor(op, target, run, concurrency),
      concurrency,
      // Delete runs until the names Create used are gone, however long Create took.
      seconds: op.key === "delete" ? 3_600 : this.config.seconds,
      warmupSeconds: timed ? this.config.warmupSeconds : 0,
      pick: op.pick,
      sample,
    });
    if (op.key === "create") this.created.set(`${target.name}/${run}/${concurrency}`, result.issued);
    return { op: op.key, concurrency, target: target.name, run, result, ...this.verdict(op, result, sample) };
  }

  private verdict(op: Operation, result: LoadResult, sample: string): Pick<Cell, "problems" | "invalid"> {
    const problems: string[] = [];
    let invalid = false;
    const fail = (message: string) => (problems.push(message), (invalid = true));
    if (result.errors > 0) {
      const message = `${result.errors} errors ${JSON.stringify(result.errorCodes)}`;
      if (result.errors / Math.max(1, result.calls + result.errors) > MAX_ERROR_SHARE) fail(message);
      else problems.push(message);
    }
    if (result.calls === 0) fail("no successful call in the window");
    if (!existsSync(sample)) fail("no response to check");
    else {
      const why = op.check(readFileSync(sample), this.config.images);
      if (why) fail(why);
    }
    if (op.key === "create" && result.issued >= this.config.createPool) {
      problems.push("name pool ran out before the time was up (raise BENCH_CREATE_POOL)");
    }
    return { problems, invalid };
  }
}
