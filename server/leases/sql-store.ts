import { READ_ONLY, type Database } from "../db/database.js";
import type { Filter } from "../filters/parse.js";
import { leaseFields } from "../filters/lease-fields.js";
import { matches } from "../filters/match.js";
import { isStorableText } from "../db/storable-text.js";
import { REGISTER_NAMESPACE } from "../namespaces/sql-store.js";

export interface Lease {
  id: string;
  labels: Record<string, string>;
  createdAt: Date;
}

interface LeaseRow {
  id: string;
  labels: Record<string, string>;
  created_at: Date;
}

const fromRow = (row: LeaseRow): Lease => ({ id: row.id, labels: row.labels, createdAt: row.created_at });

export interface LeaseStore {
  /** null when the id is taken. */
  create(namespace: string, lease: Lease): Promise<Lease | null>;
  /** false when there was no such lease. */
  delete(namespace: string, id: string): Promise<boolean>;
  list(namespace: string, filter: Filter): Promise<Lease[]>;
}

export function sqlLeaseStore(db: Database): LeaseStore {
  return {
    async create(namespace, lease) {
      const { rows } = await db.query<LeaseRow>(
        `${REGISTER_NAMESPACE} INSERT INTO leases (namespace, id, labels, created_at) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (namespace, id) DO NOTHING RETURNING id, labels, created_at`,
        [namespace, lease.id, JSON.stringify(lease.labels), lease.createdAt],
      );
      return rows[0] === undefined ? null : fromRow(rows[0]);
    },
    async delete(namespace, id) {
      if (!isStorableText(id)) return false;
      const { rowCount } = await db.query("DELETE FROM leases WHERE namespace = $1 AND id = $2", [namespace, id]);
      return rowCount > 0;
    },
    async list(namespace, filter) {
      const { rows } = await db.query<LeaseRow>(
        "SELECT id, labels, created_at FROM leases WHERE namespace = $1 ORDER BY id",
        [namespace],
        READ_ONLY,
      );
      return rows.map(fromRow).filter((lease) => matches(filter, leaseFields(lease)));
    },
  };
}
