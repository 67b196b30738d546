import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Database } from "../../server/db/database.js";
import { openDatabase } from "../../server/db/open.js";

export interface TestDatabase {
  db: Database;
  /** How to reach the same database from another process (DATABASE_URL or DATA_DIR). */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

export interface Backend {
  kind: "pglite" | "postgres";
  open(): Promise<TestDatabase>;
}

/** The real Postgres this run tests against, if any. */
export const postgresUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** A fresh database of its own for each call, so runs and files cannot collide. */
export async function createPostgresDatabase(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ims_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabaseName(url, name),
    async drop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Cleans up even when a test closed the database itself (closing twice fails). */
async function closeThen(db: Database, cleanup: () => unknown): Promise<void> {
  try {
    await db.close();
  } catch {
    // already closed by the test
  } finally {
    await cleanup();
  }
}

const pglite: Backend = {
  kind: "pglite",
  async open() {
    const dir = tempDir("ims-pglite-");
    const db = await openDatabase({ dataDir: dir.path });
    return { db, env: { DATA_DIR: dir.path }, dispose: () => closeThen(db, () => dir.remove()) };
  },
};

function postgres(url: string): Backend {
  return {
    kind: "postgres",
    async open() {
      const created = await createPostgresDatabase(url);
      const db = await openDatabase({ databaseUrl: created.url, dataDir: "" });
      return { db, env: { DATABASE_URL: created.url }, dispose: () => closeThen(db, () => created.drop()) };
    },
  };
}

if (postgresUrl === undefined) {
  const message = "TEST_DATABASE_URL/DATABASE_URL is not set: the real-Postgres tests were NOT run";
  if (process.env.CI) throw new Error(`${message} (CI must test both databases)`);
  console.warn(`\n*** WARNING: ${message} ***\n`);
}

/** Every backend this run tests: PGlite always, real Postgres when a URL is given. */
export const backends: Backend[] = postgresUrl === undefined ? [pglite] : [pglite, postgres(postgresUrl)];

/** The backend for protocol-level tests: real Postgres when available. */
export const serverBackend: Backend = backends[backends.length - 1]!;
