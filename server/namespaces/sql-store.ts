import { READ_ONLY, type Database } from "../db/database.js";
import { isStorableText } from "../db/storable-text.js";

export interface Namespace {
  name: string;
  labels: Record<string, string>;
}

/**
 * Registers the namespace of a write, in the same statement as the write:
 * prefix an INSERT into another table with it (`${REGISTER_NAMESPACE} INSERT ...`),
 * with the namespace as $1.
 */
export const REGISTER_NAMESPACE = "WITH registered AS (INSERT INTO namespaces (name) VALUES ($1) ON CONFLICT DO NOTHING)";

export interface NamespaceStore {
  get(name: string): Promise<Namespace | null>;
  list(): Promise<Namespace[]>;
}

export function sqlNamespaceStore(db: Database): NamespaceStore {
  return {
    async get(name) {
      if (!isStorableText(name)) return null;
      const { rows } = await db.query<Namespace>("SELECT name, labels FROM namespaces WHERE name = $1", [name], READ_ONLY);
      return rows[0] ?? null;
    },
    async list() {
      return (await db.query<Namespace>("SELECT name, labels FROM namespaces ORDER BY name", [], READ_ONLY)).rows;
    },
  };
}
