import pg from "pg";
import type { Database, Queryable, QueryOptions, QueryResult } from "./database.js";
import { UnavailableError } from "../errors.js";
import { connectionFailure } from "./connection-failure.js";
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
 * Lends a pooled session to `use`. A session that ends while lent also
 * reports it as an 'error' event, which unheard would end the process; one
 * that failed goes back to the pool only to be closed.
 */
async function withSession<T>(pool: pg.Pool, use: (session: pg.PoolClient) => Promise<T>): Promise<T> {
  const session = await pool.connect();
  const heard = () => {};
  session.on("error", heard);
  let failure: Error | undefined;
  try {
    return await use(session);
  } catch (error) {
    if (connectionFailure(error) !== undefined) failure = error as Error;
    throw error;
  } finally {
    session.off("error", heard);
    session.release(failure);
  }
}

/**
 * A query that had to wait for a pooled connection (where a busy worker's
 * queries queue up) runs only if its caller is still there.
 */
function queryWhenConnected(pool: pg.Pool, query: pg.QueryConfig, signal: AbortSignal): Promise<pg.QueryResult> {
  return withSession(pool, async (session) => {
    signal.throwIfAborted();
    return await session.query(query);
  });
}

/** The domain's view of a session that failed; other errors pass unchanged. */
function asUnavailable(error: unknown): unknown {
  switch (connectionFailure(error)) {
    case "lost":
      return new UnavailableError("database connection lost", { cause: error });
    case "unreachable":
      return new UnavailableError("cannot connect to the database", { cause: error });
    default:
      return error;
  }
}

function queryConfig(sql: string, params: readonly unknown[], options: QueryOptions): pg.QueryConfig {
  return { name: options.prepare === false ? undefined : statementName(sql), text: sql, values: [...params] };
}

function answer<Row>(result: pg.QueryResult): QueryResult<Row> {
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
}

function runOnPool(pool: pg.Pool, poolSize: number): Queryable["query"] {
  return async <Row>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<Row>> => {
    const query = queryConfig(sql, params, options);
    const { signal } = options;
    // A restart of Postgres ends every pooled session at once, and the pool
    // finds out one by one: a read may meet each of them before a new one.
    const attempts = options.readOnly ? poolSize + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      try {
        return answer(signal === undefined ? await pool.query(query) : await queryWhenConnected(pool, query, signal));
      } catch (error) {
        if (attempt < attempts && connectionFailure(error) === "lost") continue;
        throw asUnavailable(error);
      }
    }
  };
}

function runOnSession(session: pg.PoolClient): Queryable["query"] {
  return async <Row>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<Row>> => {
    options.signal?.throwIfAborted();
    return answer(await session.query(queryConfig(sql, params, options)));
  };
}

export function openPostgres(options: PostgresOptions): Database {
  const poolSize = options.poolSize ?? 10;
  const pool = new pg.Pool({ connectionString: options.connectionString, max: poolSize });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return {
    kind: "postgres",
    query: runOnPool(pool, poolSize),
    async transaction(fn) {
      // Never run again: a session lost at COMMIT may have committed.
      try {
        return await withSession(pool, async (session) => {
          await session.query("BEGIN");
          try {
            const result = await fn({
              query: runOnSession(session),
              execScript: async (sql) => void (await session.query(sql)),
            });
            await session.query("COMMIT");
            return result;
          } catch (error) {
            await session.query("ROLLBACK").catch(() => {});
            throw error;
          }
        });
      } catch (error) {
        throw asUnavailable(error);
      }
    },
    listen: (channel, handlers) => listenOnPostgres(options.connectionString, channel, handlers),
    close: () => pool.end(),
  };
}
