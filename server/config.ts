// Environment -> typed configuration, with errors that name the variable.

export interface Config {
  host: string;
  port: number;
  socketPath?: string;
  databaseUrl?: string;
  dataDir: string;
  logLevel: string;
  corsOrigins: string[];
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    host: env.HOST || "127.0.0.1",
    port: port(env.PORT),
    socketPath: env.SOCKET || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || "./data",
    logLevel: logLevel(env.LOG_LEVEL),
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
  };
}
