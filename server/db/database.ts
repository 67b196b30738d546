// The one small database interface that both Postgres (pg pool) and embedded
// PGlite implement. All SQL in the project runs unchanged on both.

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /** Keep a prepared statement for this text (default true); false for one-off texts. */
  prepare?: boolean;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>>;
}

export interface Transaction extends Queryable {
  /** Runs a multi-statement SQL script without parameters (migrations). */
  execScript(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs fn inside BEGIN..COMMIT on one connection; ROLLBACK if it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
