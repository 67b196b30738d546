import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { build, type AppOptions } from "../../server/app.js";
import type { Database } from "../../server/db/database.js";

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
