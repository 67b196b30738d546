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
  /** Postgres connections per worker. */
  poolSize: number;
  /** Memory per worker for recently read images. */
  imageCacheBytes: number;
}

export class ConfigError extends Error {}

// Chosen by measurement (npm run bench): see docs/performance.md.
export const DEFAULT_POOL_SIZE = 10;

// Per worker; 10,000 typical images take about 10 MiB.
export const DEFAULT_IMAGE_CACHE_MB = 64;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function logLevel(value: string | undefined): string {
  const level = value || "info";
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  return level;
}

// Postgres takes many connections, so every core can serve; the embedded
// database lives inside one process, so it gets exactly one.
function workers(value: string | undefined, databaseUrl: string | undefined): number {
  const parsed = integer("WORKERS", value, databaseUrl ? availableParallelism() : 1, 1, 64);
  if (parsed > 1 && !databaseUrl) {
    throw new ConfigError("WORKERS above 1 needs DATABASE_URL: the embedded database serves one process only");
  }
  return parsed;
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || undefined;
  return {
    host: env.HOST || "127.0.0.1",
    port: integer("PORT", env.PORT, 8080, 0, 65535),
    socketPath: env.SOCKET || undefined,
    databaseUrl,
    dataDir: env.DATA_DIR || "./data",
    logLevel: logLevel(env.LOG_LEVEL),
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    workers: workers(env.WORKERS, databaseUrl),
    poolSize: integer("DATABASE_POOL_SIZE", env.DATABASE_POOL_SIZE, DEFAULT_POOL_SIZE, 1, 1000),
    imageCacheBytes: integer("IMAGE_CACHE_MB", env.IMAGE_CACHE_MB, DEFAULT_IMAGE_CACHE_MB, 0, 65_536) * 1024 * 1024,
  };
}
