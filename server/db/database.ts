// The one small database interface that both Postgres (pg pool) and embedded
// PGlite implement. All SQL in the project runs unchanged on both.

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /** Keep a prepared statement for this text (default true); false for one-off texts. */
  prepare?: boolean;
  /**
   * The caller gave up (its client left, its deadline passed): a query not
   * yet sent is not run, and rejects with the signal's reason. On Postgres
   * that includes one still waiting for a pooled connection.
   */
  signal?: AbortSignal;
  /**
   * The statement changes nothing, so running it twice is harmless: on
   * Postgres, one whose session is lost before it answers runs again on
   * another. (A write is never run again: it may have committed.)
   */
  readOnly?: boolean;
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

/** What a subscription to a NOTIFY channel reports. */
export interface NotificationHandlers {
  /** A notification's payload. */
  notify(payload: string): void;
  /** Listening (again): every commit from now on is reported. */
  ready(): void;
  /** Notifications may have been missed (the connection was lost); ready() follows once listening again. */
  lost(): void;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs fn inside BEGIN..COMMIT on one connection; ROLLBACK if it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel. Resolves once the first attempt to listen
   * is over (ready() was called, or lost() and retrying goes on in the
   * background); the returned function ends the subscription.
   */
  listen(channel: string, handlers: NotificationHandlers): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Options for a query that only reads. */
export const READ_ONLY: Readonly<QueryOptions> = { readOnly: true };
