import type { Database } from "./database.js";
import { migrate } from "./migrate.js";
import { openPglite } from "./pglite.js";
import { openPostgres } from "./postgres.js";

export interface DatabaseConfig {
  databaseUrl?: string;
  dataDir: string;
}

/** Postgres when a URL is given, else the embedded database in dataDir; migrated either way. */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const db = config.databaseUrl ? openPostgres({ connectionString: config.databaseUrl }) : await openPglite(config.dataDir);
  try {
    await migrate(db);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
