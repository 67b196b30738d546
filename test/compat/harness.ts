// Test harness of the differential test: a private containerd and our
// service side by side, and one client shape for both.

import assert from "node:assert/strict";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createClient, type Client } from "@connectrpc/connect";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { startContainerd, type RunningContainerd } from "../support/containerd.js";
import { serverBackend, tempDir, type TestDatabase } from "../support/database.js";
import { grpcUnixTransport } from "../support/grpc-unix.js";
import { startServer, type RunningServer } from "../support/server.js";
import { outcomeOf, type Outcome } from "./normalize.js";
import type { Operation } from "./operations.js";

type ImagesClient = Client<typeof Images>;

export interface Pair {
  containerd: ImagesClient;
  ours: ImagesClient;
  stop(): Promise<void>;
}

export async function startPair(): Promise<Pair | null> {
  const containerd = await startContainerd();
  if (containerd === null) return null;
  let database: TestDatabase | undefined;
  let server: RunningServer | undefined;
  const dir = tempDir("ims-diff-");
  try {
    database = await serverBackend.open();
    const socket = join(dir.path, "s.sock");
    server = await startServer(database.db, socket);
    return {
      containerd: createClient(Images, grpcUnixTransport(containerd.socket)),
      ours: createClient(Images, grpcUnixTransport(socket)),
      stop: () => stopAll(containerd, server, database, dir),
    };
  } catch (error) {
    await stopAll(containerd, server, database, dir);
    throw error;
  }
}

async function stopAll(containerd: RunningContainerd, server?: RunningServer, database?: TestDatabase, dir?: { remove(): void }) {
  await server?.close();
  await database?.dispose();
  dir?.remove();
  await containerd.stop();
}

let warned = false;

export function ready(t: TestContext, pair: Pair | null): pair is Pair {
  if (pair !== null) return true;
  if (process.env.CI) assert.fail("containerd is not installed (or we are not root) but CI is set: the differential test must run");
  if (!warned) console.warn("\n!!! WARNING: containerd not installed (or not root): SKIPPING the differential test against containerd !!!\n");
  warned = true;
  t.skip("containerd not installed (or not root)");
  return false;
}

function call(client: ImagesClient, operation: Operation): Promise<Outcome> {
  const options = { headers: { "containerd-namespace": operation.namespace } };
  return outcomeOf(async () => {
    switch (operation.kind) {
      case "create":
        return [(await client.create(operation.request, options)).image];
      case "get":
        return [(await client.get(operation.request, options)).image];
      case "update":
        return [(await client.update(operation.request, options)).image];
      case "list":
        return (await client.list(operation.request, options)).images;
      case "delete":
        await client.delete(operation.request, options);
        return [];
    }
  });
}

export function both(pair: Pair, operation: Operation): Promise<[Outcome, Outcome]> {
  return Promise.all([call(pair.containerd, operation), call(pair.ours, operation)]);
}
