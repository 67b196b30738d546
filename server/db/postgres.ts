import pg from "pg";
import type { Database, Queryable, QueryOptions, QueryResult } from "./database.js";
import { listenOnPostgres } from "./postgres-listener.js";

export interface PostgresOptions {
  connectionString: string;
  poolSize?: number;
}

// Statements are prepared once per connection under a stable name derived
// from their text: every image query has a fixed text with bound parameters.
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `s${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * A query that had to wait for a pooled connection (where a busy worker's
 * queries queue up) runs only if its caller is still there.
 */
async function queryWhenConnected(pool: pg.Pool, query: pg.QueryConfig, signal: AbortSignal): Promise<pg.QueryResult> {
  const connection = await pool.connect();
  try {
    signal.throwIfAborted();
    return await connection.query(query);
  } finally {
    connection.release();
  }
}

function runOn(client: pg.Pool | pg.PoolClient): Queryable["query"] {
  return async <Row>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<Row>> => {
    const query = { name: options.prepare === false ? undefined : statementName(sql), text: sql, values: [...params] };
    const { signal } = options;
    signal?.throwIfAborted();
    const result =
      signal !== undefined && client instanceof pg.Pool ? await queryWhenConnected(client, query, signal) : await client.query(query);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return {
    kind: "postgres",
    query: runOn(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn({
          query: runOn(client),
          execScript: async (sql) => void (await client.query(sql)),
        });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    listen: (channel, handlers) => listenOnPostgres(options.connectionString, channel, handlers),
    close: () => pool.end(),
  };
}
