import { fileURLToPath } from "node:url";
import Postgrator from "postgrator";
import type { Database } from "./database.js";

const migrationPattern = fileURLToPath(new URL("../../migrations/*.sql", import.meta.url));
// Any fixed number: every replica of the service takes the same advisory lock.
const MIGRATION_LOCK_KEY = 7_204_311;

/**
 * Brings the schema to the newest version (or to `target`, such as "3"). All
 * pending migrations run in one transaction under an advisory lock: replicas
 * starting at once against one Postgres wait for each other, and a failing
 * migration leaves no trace.
 */
export async function migrate(db: Database, target?: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    const postgrator = new Postgrator({
      driver: "pg",
      migrationPattern,
      schemaTable: "schema_version",
      execQuery: (sql) => tx.query(sql),
      execSqlScript: (sql) => tx.execScript(sql),
    });
    await postgrator.migrate(target);
    return postgrator.getDatabaseVersion();
  });
}
