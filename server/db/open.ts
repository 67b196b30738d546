import type { Database } from "./database.js";
import { migrate } from "./migrate.js";
import { openPostgres } from "./postgres.js";

export interface DatabaseConfig {
  databaseUrl?: string;
  dataDir: string;
  /** Postgres connections in the pool. */
  poolSize?: number;
  /** false when another process (a cluster primary) has migrated already. */
  migrate?: boolean;
}

/** Postgres when a URL is given, else the embedded database in dataDir; migrated unless told not to. */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  // PGlite's module is large: load it only when the embedded database is used.
  const db = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, poolSize: config.poolSize })
    : await (await import("./pglite.js")).openPglite(config.dataDir);
  if (config.migrate === false) return db;
  try {
    await migrate(db);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
