// Timestamp rules, checked on our answers only: containerd 1.6 does not know
// source_date_epoch (it came with 2.x), and its clock is not ours.
//
// Create: created_at = updated_at = source_date_epoch, or the call's time.
// Update: created_at kept; updated_at = source_date_epoch, or the call's time.
// Get and List: exactly what the last write answered.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { TimestampSchema, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Image } from "../../gen/containerd/services/images/v1/images_pb.js";
import type { Outcome } from "./normalize.js";
import type { Operation } from "./operations.js";

interface Times {
  createdAt: number;
  updatedAt: number;
}

/** The wall-clock interval a call ran in, in ms. */
export interface Window {
  start: number;
  end: number;
}

const key = (namespace: string, name: string) => `${namespace}\u0000${name}`;
const ms = (timestamp: Timestamp | undefined) => (timestamp === undefined ? NaN : timestampMs(timestamp));
const iso = (at: number) => (Number.isNaN(at) ? "missing" : new Date(at).toISOString());

function timesOf(image: Image): Times {
  return { createdAt: ms(image.createdAt), updatedAt: ms(image.updatedAt) };
}

type Epoch = MessageInitShape<typeof TimestampSchema> | undefined;

function expectedWriteTime(epoch: Epoch, window: Window, at: number): string | undefined {
  if (epoch !== undefined) {
    const want = timestampMs(create(TimestampSchema, epoch));
    return at === want ? undefined : `is ${iso(at)}, want source_date_epoch ${iso(want)}`;
  }
  return at >= window.start && at <= window.end ? undefined : `is ${iso(at)}, outside the call (${iso(window.start)}..${iso(window.end)})`;
}

export class TimestampRules {
  private readonly written = new Map<string, Times>();

  /** Violations of the rules by `outcome`, our answer to `operation`. */
  check(operation: Operation, outcome: Outcome, window: Window): string[] {
    if (!outcome.ok) return [];
    const { namespace } = operation;
    switch (operation.kind) {
      case "create":
        return this.created(namespace, outcome.images[0], operation.request.sourceDateEpoch, window);
      case "update":
        return this.updated(namespace, outcome.images[0], operation.request.sourceDateEpoch, window);
      case "get":
      case "list":
        return outcome.images.flatMap((image) => this.unchanged(namespace, image));
      case "delete":
        this.written.delete(key(namespace, operation.request.name ?? ""));
        return [];
    }
  }

  private created(namespace: string, image: Image | undefined, epoch: Epoch, window: Window): string[] {
    if (image === undefined) return ["Create answered no image"];
    const times = timesOf(image);
    this.written.set(key(namespace, image.name), times);
    const problems: string[] = [];
    const problem = expectedWriteTime(epoch, window, times.createdAt);
    if (problem !== undefined) problems.push(`Create: created_at ${problem}`);
    if (times.updatedAt !== times.createdAt) problems.push(`Create: updated_at ${iso(times.updatedAt)} != created_at ${iso(times.createdAt)}`);
    return problems;
  }

  private updated(namespace: string, image: Image | undefined, epoch: Epoch, window: Window): string[] {
    if (image === undefined) return ["Update answered no image"];
    const times = timesOf(image);
    const before = this.written.get(key(namespace, image.name));
    this.written.set(key(namespace, image.name), times);
    const problems: string[] = [];
    if (before !== undefined && before.createdAt !== times.createdAt) {
      problems.push(`Update: created_at changed from ${iso(before.createdAt)} to ${iso(times.createdAt)}`);
    }
    const problem = expectedWriteTime(epoch, window, times.updatedAt);
    if (problem !== undefined) problems.push(`Update: updated_at ${problem}`);
    return problems;
  }

  private unchanged(namespace: string, image: Image | undefined): string[] {
    if (image === undefined) return ["an image is missing from the answer"];
    const before = this.written.get(key(namespace, image.name));
    const now = timesOf(image);
    if (before === undefined || (before.createdAt === now.createdAt && before.updatedAt === now.updatedAt)) return [];
    return [
      `${image.name}: read created_at ${iso(now.createdAt)}, updated_at ${iso(now.updatedAt)}; ` +
        `last written ${iso(before.createdAt)}, ${iso(before.updatedAt)}`,
    ];
  }
}
