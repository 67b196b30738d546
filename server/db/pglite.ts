import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { Database, Queryable, QueryOptions, QueryResult } from "./database.js";
import { lockDataDir } from "./data-dir-lock.js";

type PGliteQueryable = Pick<PGlite, "query">;

function runOn(db: PGliteQueryable): Queryable["query"] {
  return async <Row>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<Row>> => {
    options.signal?.throwIfAborted();
    const result = await db.query<Row>(sql, [...params]);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  };
}

/** Opens (creating on first use) the embedded database kept in dataDir. */
export async function openPglite(dataDir: string): Promise<Database> {
  const unlock = lockDataDir(dataDir);
  let db: PGlite;
  try {
    const pgdata = join(dataDir, "pgdata");
    mkdirSync(pgdata, { recursive: true });
    db = await PGlite.create(pgdata);
  } catch (error) {
    unlock();
    throw error;
  }
  return {
    kind: "pglite",
    query: runOn(db),
    transaction: (fn) =>
      db.transaction((tx) => fn({ query: runOn(tx), execScript: async (sql) => void (await tx.exec(sql)) })),
    async listen(channel, handlers) {
      // One process owns the embedded database, so the subscription cannot be lost.
      const unlisten = await db.listen(channel, (payload) => handlers.notify(payload));
      handlers.ready();
      return async () => {
        if (!db.closed) await unlisten();
      };
    },
    async close() {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}
