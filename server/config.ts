import { availableParallelism } from "node:os";

// Environment -> typed configuration, with errors that name the variable.

export interface Config {
  host: string;
  port: number;
  socketPath?: string;
  databaseUrl?: string;
  dataDir: string;
  logLevel: string;
  corsOrigins: string[];
  /** Processes serving requests; above 1 they share the port through node:cluster. */
  workers: number;
}

export class ConfigError extends Error {}

function port(value: string | undefined): number {
  if (value === undefined || value === "") return 8080;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function logLevel(value: string | undefined): string {
  const level = value || "info";
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  return level;
}

// Postgres takes many connections, so every core can serve; the embedded
// database lives inside one process, so it gets exactly one.
function workers(value: string | undefined, databaseUrl: string | undefined): number {
  if (value === undefined || value === "") return databaseUrl ? availableParallelism() : 1;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64) {
    throw new ConfigError(`WORKERS must be an integer from 1 to 64, got ${JSON.stringify(value)}`);
  }
  if (parsed > 1 && !databaseUrl) {
    throw new ConfigError("WORKERS above 1 needs DATABASE_URL: the embedded database serves one process only");
  }
  return parsed;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || undefined;
  return {
    host: env.HOST || "127.0.0.1",
    port: port(env.PORT),
    socketPath: env.SOCKET || undefined,
    databaseUrl,
    dataDir: env.DATA_DIR || "./data",
    logLevel: logLevel(env.LOG_LEVEL),
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    workers: workers(env.WORKERS, databaseUrl),
  };
}
