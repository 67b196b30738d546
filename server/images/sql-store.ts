import type { Database, Queryable } from "../db/database.js";
import type { Filter } from "../filters/parse.js";
import { matches } from "../filters/match.js";
import { imageFields } from "../filters/image-fields.js";
import { REGISTER_NAMESPACE } from "../namespaces/sql-store.js";
import { applyFieldMask } from "./field-mask.js";
import type { Image } from "./image.js";
import type { ImageFields, ImageStore } from "./store.js";
import { validateImage } from "./validate.js";

// The size is read as text: JSON numbers above 2^53 would lose precision in
// JSON.parse, and int64 must survive exactly.
const COLUMNS = `name, target->>'mediaType' AS media_type, target->>'digest' AS digest,
  target->>'size' AS size, target->'annotations' AS annotations, labels, created_at, updated_at`;

// $3..$6 build the OCI JSON descriptor; size arrives as a decimal string.
const TARGET = `jsonb_build_object('mediaType', $3::text, 'digest', $4::text, 'size', $5::bigint, 'annotations', $6::jsonb)`;

const SQL = {
  get: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 AND name = $2`,
  getForUpdate: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 AND name = $2 FOR UPDATE`,
  list: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 ORDER BY name`,
  create: `${REGISTER_NAMESPACE} INSERT INTO images (namespace, name, target, labels, created_at, updated_at)
    VALUES ($1, $2, ${TARGET}, $7::jsonb, $8, $8)
    ON CONFLICT (namespace, name) DO NOTHING RETURNING ${COLUMNS}`,
  put: `${REGISTER_NAMESPACE} INSERT INTO images (namespace, name, target, labels, created_at, updated_at)
    VALUES ($1, $2, ${TARGET}, $7::jsonb, $8, $8)
    ON CONFLICT (namespace, name) DO UPDATE
      SET target = EXCLUDED.target, labels = EXCLUDED.labels, updated_at = EXCLUDED.updated_at
    RETURNING ${COLUMNS}`,
  update: `UPDATE images SET target = ${TARGET}, labels = $7::jsonb, updated_at = $8
    WHERE namespace = $1 AND name = $2 RETURNING ${COLUMNS}`,
  delete: `DELETE FROM images
    WHERE namespace = $1 AND name = $2 AND ($3::text IS NULL OR target->>'digest' = $3::text)`,
} as const;

interface ImageRow {
  name: string;
  media_type: string;
  digest: string;
  size: string;
  annotations: Record<string, string> | null;
  labels: Record<string, string>;
  created_at: Date;
  updated_at: Date;
}

function fromRow(row: ImageRow): Image {
  return {
    name: row.name,
    labels: row.labels,
    target: { mediaType: row.media_type, digest: row.digest, size: BigInt(row.size), annotations: row.annotations ?? {} },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** containerd drops labels and annotations with an empty value on write: that is how one is removed. */
function withoutEmptyValues(map: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(map).filter(([, value]) => value !== "")));
}

function writeParams(namespace: string, image: ImageFields, now: Date): unknown[] {
  const { target } = image;
  return [
    namespace, image.name, target.mediaType, target.digest, target.size.toString(),
    withoutEmptyValues(target.annotations), withoutEmptyValues(image.labels), now,
  ];
}

async function write(db: Queryable, sql: string, namespace: string, image: ImageFields, now: Date) {
  validateImage(image);
  const { rows } = await db.query<ImageRow>(sql, writeParams(namespace, image, now));
  return rows[0] === undefined ? null : fromRow(rows[0]);
}

export function sqlImageStore(db: Database): ImageStore {
  return {
    async get(namespace, name) {
      const { rows } = await db.query<ImageRow>(SQL.get, [namespace, name]);
      return rows[0] === undefined ? null : fromRow(rows[0]);
    },
    async list(namespace, filter: Filter) {
      const { rows } = await db.query<ImageRow>(SQL.list, [namespace]);
      return rows.map(fromRow).filter((image) => matches(filter, imageFields(image)));
    },
    create: (namespace, image, now) => write(db, SQL.create, namespace, image, now),
    put: async (namespace, image, now) => (await write(db, SQL.put, namespace, image, now))!,
    update: (namespace, image, paths, now) =>
      db.transaction(async (tx) => {
        const { rows } = await tx.query<ImageRow>(SQL.getForUpdate, [namespace, image.name]);
        if (rows[0] === undefined) return null;
        const merged = applyFieldMask(fromRow(rows[0]), image, paths);
        return write(tx, SQL.update, namespace, merged, now);
      }),
    async delete(namespace, name, expectedDigest) {
      const { rowCount } = await db.query(SQL.delete, [namespace, name, expectedDigest ?? null]);
      return rowCount > 0;
    },
  };
}
