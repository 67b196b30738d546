import cluster from "node:cluster";
import { build } from "./app.js";
import { runPrimary, SHUTDOWN_DEADLINE_MS } from "./cluster.js";
import { loadConfig, type Config } from "./config.js";
import { openDatabase } from "./db/open.js";

// Process concerns only: configuration, start-up, signals, graceful close.

async function serve(config: Config): Promise<void> {
  const clustered = cluster.isWorker;
  const database = await openDatabase({ ...config, migrate: !clustered });
  const app = await build({
    database,
    logger: { level: config.logLevel },
    corsOrigins: config.corsOrigins,
    imageCacheBytes: config.imageCacheBytes,
    socketPath: config.socketPath,
    socketPathClaimed: clustered,
  });
  await app.listen({ host: config.host, port: config.port });
  if (config.socketPath) app.log.info(`also serving on unix socket ${config.socketPath}`);
  app.log.info(`storage: ${database.kind === "postgres" ? "Postgres" : `embedded PGlite in ${config.dataDir}`}`);

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${signal} received, finishing in-flight calls`);
    setTimeout(() => {
      app.log.error("graceful shutdown took too long, exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    await app.close();
    await database.close();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  return serve(config);
}

/** An error's message, then its causes' (what could not be done, then why). */
function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message}: ${explain(error.cause)}`;
}

main().catch((error: unknown) => {
  console.error(explain(error));
  process.exit(1);
});
