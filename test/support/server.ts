import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { build, type AppOptions } from "../../server/app.js";
import type { Database } from "../../server/db/database.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import { serverBackend, type TestDatabase } from "./database.js";
import { digestOf, INDEX_MEDIA_TYPE } from "./fixtures.js";

export interface RunningServer {
  app: FastifyInstance;
  baseUrl: string;
  close(): Promise<void>;
}

/** The real app on an ephemeral port (and a unix socket when asked). */
export async function startServer(
  database: Database,
  socketPath?: string,
  options: Omit<AppOptions, "database" | "socketPath"> = {},
): Promise<RunningServer> {
  const app = await build({ database, socketPath, logger: { level: "error" }, ...options });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, baseUrl: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export interface ServerWithImages {
  testDb: TestDatabase;
  server: RunningServer;
  close(): Promise<void>;
}

/**
 * The app on a fresh database (real Postgres when available), with `count`
 * images created over gRPC in `namespace`: image i is named by `name(i)`,
 * has `labels` and an index descriptor of its own.
 */
export async function startServerWithImages(
  namespace: string,
  count: number,
  name: (i: number) => string,
  labels: Record<string, string> = {},
): Promise<ServerWithImages> {
  const testDb = await serverBackend.open();
  const server = await startServer(testDb.db);
  const images = createClient(Images, createGrpcTransport({ baseUrl: server.baseUrl }));
  for (let i = 0; i < count; i++) {
    const target = { mediaType: INDEX_MEDIA_TYPE, digest: digestOf(i), size: 10n };
    await images.create({ image: { name: name(i), labels, target } }, { headers: { "containerd-namespace": namespace } });
  }
  return {
    testDb,
    server,
    async close() {
      await server.close();
      await testDb.dispose();
    },
  };
}
