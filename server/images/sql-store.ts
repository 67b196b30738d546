import { batched } from "../db/batched.js";
import { READ_ONLY, type Database, type Queryable } from "../db/database.js";
import { InvalidArgumentError } from "../errors.js";
import { isStorableText } from "../db/storable-text.js";
import type { Filter } from "../filters/parse.js";
import { matches } from "../filters/match.js";
import { imageFields } from "../filters/image-fields.js";
import { REGISTER_NAMESPACE } from "../namespaces/sql-store.js";
import { RegisteredNamespaces } from "../namespaces/registered.js";
import { applyFieldMask } from "./field-mask.js";
import { imageKey, type Image } from "./image.js";
import type { ImageFields, ImageStore } from "./store.js";
import { validateImage } from "./validate.js";

// Lookups of a name Postgres cannot hold (NUL, lone surrogates) find nothing
// without asking it: no such image can exist.

// The size is read as text: JSON numbers above 2^53 would lose precision in
// JSON.parse, and int64 must survive exactly. Timestamps come as epoch
// milliseconds (what the store writes), far cheaper to decode than dates.
const COLUMNS = `name, target->>'mediaType' AS media_type, target->>'digest' AS digest,
  target->>'size' AS size, target->'annotations' AS annotations, labels,
  (extract(epoch FROM created_at) * 1000)::int8 AS created_ms, (extract(epoch FROM updated_at) * 1000)::int8 AS updated_ms`;

// $3..$6 build the OCI JSON descriptor; size arrives as a decimal string.
const TARGET = `jsonb_build_object('mediaType', $3::text, 'digest', $4::text, 'size', $5::bigint, 'annotations', $6::jsonb)`;

// The row key: the name's SHA-256 (see migrations/0001).
const KEY = (param: string) => `sha256(convert_to(${param}::text, 'UTF8'))`;

// An epoch-milliseconds integer as a timestamp, exactly.
const AT = "timestamptz 'epoch' + at_ms * interval '1 millisecond'";

// Many creates in one statement, from one JSON array (far cheaper to send
// than an array parameter per column); answers with the names it inserted.
// Registering the batch's namespaces is left out once all are known to have
// their row: it took a few percent of a batch's time.
function createManySql({ register }: { register: boolean }): string {
  return `WITH input AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS t(namespace text, name text, media_type text, digest text, size text, annotations jsonb, labels jsonb, at_ms bigint)
    )${register ? ", registered AS (INSERT INTO namespaces (name) SELECT DISTINCT namespace FROM input ON CONFLICT DO NOTHING)" : ""}
    INSERT INTO images (namespace, name, name_key, target, labels, created_at, updated_at)
    SELECT namespace, name, ${KEY("name")},
      jsonb_build_object('mediaType', media_type, 'digest', digest, 'size', size::bigint, 'annotations', annotations),
      labels, ${AT}, ${AT}
    FROM input
    ON CONFLICT (namespace, name_key) DO NOTHING RETURNING namespace, name`;
}

const SQL = {
  get: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 AND name_key = ${KEY("$2")}`,
  getForUpdate: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 AND name_key = ${KEY("$2")} FOR UPDATE`,
  list: (where: string) => `SELECT ${COLUMNS} FROM images WHERE namespace = $1 AND (${where}) ORDER BY name`,
  listFirst: `SELECT ${COLUMNS} FROM images WHERE namespace = $1 ORDER BY name LIMIT $2`,
  snapshot: "SELECT pg_current_snapshot()::text AS snapshot",
  // Rows added by a transaction that had not committed when the snapshot $2
  // was taken: one begun after it, or one in progress at the time.
  addedSince: `SELECT EXISTS (
      SELECT 1 FROM images WHERE namespace = $1 AND added_by >= pg_snapshot_xmax($2::pg_snapshot)
    ) OR EXISTS (
      SELECT 1 FROM images WHERE namespace = $1 AND added_by IN (SELECT pg_snapshot_xip($2::pg_snapshot))
    ) AS added`,
  createMany: createManySql({ register: true }),
  createManyInRegistered: createManySql({ register: false }),
  put: `${REGISTER_NAMESPACE} INSERT INTO images (namespace, name, name_key, target, labels, created_at, updated_at)
    VALUES ($1, $2, ${KEY("$2")}, ${TARGET}, $7::jsonb, $8, $8)
    ON CONFLICT (namespace, name_key) DO UPDATE
      SET target = EXCLUDED.target, labels = EXCLUDED.labels, updated_at = EXCLUDED.updated_at
    RETURNING ${COLUMNS}`,
  update: `UPDATE images SET target = ${TARGET}, labels = $7::jsonb, updated_at = $8
    WHERE namespace = $1 AND name_key = ${KEY("$2")} RETURNING ${COLUMNS}`,
  // The update, only while the image still holds what $9..$13 say it held.
  updateIfUnchanged: `UPDATE images SET target = ${TARGET}, labels = $7::jsonb, updated_at = $8
    WHERE namespace = $1 AND name_key = ${KEY("$2")}
      AND target = jsonb_build_object('mediaType', $9::text, 'digest', $10::text, 'size', $11::bigint, 'annotations', $12::jsonb)
      AND labels = $13::jsonb
    RETURNING ${COLUMNS}`,
  delete: `DELETE FROM images
    WHERE namespace = $1 AND name_key = ${KEY("$2")} AND ($3::text IS NULL OR target->>'digest' = $3::text)`,
} as const;

interface ImageRow {
  name: string;
  media_type: string;
  digest: string;
  size: string;
  annotations: Record<string, string> | null;
  labels: Record<string, string>;
  created_ms: string;
  updated_ms: string;
}

/**
 * Equality selectors narrow what Postgres returns (fewer rows to decode);
 * every row is still matched in full afterwards, so this only has to keep
 * each row that can match. null: some alternative could match any row.
 * Parameters are numbered from $2 ($1 is the namespace).
 */
function prefilter(filter: Filter): { where: string; params: string[] } | null {
  const params = ["namespace placeholder"];
  const alternatives: string[] = [];
  for (const selectors of filter.anyOf) {
    const conditions = selectors.flatMap((s) => (s.operator === "==" ? equals(s.fieldpath, s.value, params) : []));
    if (conditions.length === 0) return null;
    alternatives.push(conditions.join(" AND "));
  }
  if (alternatives.length === 0) return null;
  return { where: alternatives.map((a) => `(${a})`).join(" OR "), params: params.slice(1) };
}

/** The SQL for `fieldpath == value`, read as imageFields reads an image. */
function equals(fieldpath: readonly string[], value: string, params: string[]): string[] {
  const param = (v: string) => `$${params.push(v)}::text`;
  const key = () => param(fieldpath.slice(1).join("."));
  switch (fieldpath[0]) {
    case "name":
      return [`name = ${param(value)}`];
    case "labels":
      return [`labels->>${key()} = ${param(value)}`];
    case "annotations":
      return [`target->'annotations'->>${key()} = ${param(value)}`];
    case "target":
      if (fieldpath[1] === "digest") return [`target->>'digest' = ${param(value)}`];
      if (fieldpath[1] === "mediatype") return [`target->>'mediaType' = ${param(value)}`];
      return [];
    default:
      return [];
  }
}

function fromRow(row: ImageRow): Image {
  return {
    name: row.name,
    labels: row.labels,
    target: { mediaType: row.media_type, digest: row.digest, size: BigInt(row.size), annotations: row.annotations ?? {} },
    createdAt: new Date(Number(row.created_ms)),
    updatedAt: new Date(Number(row.updated_ms)),
  };
}

/** containerd drops labels and annotations with an empty value on write: that is how one is removed. */
function withoutEmptyValues(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([, value]) => value !== ""));
}

function writeParams(namespace: string, image: ImageFields, now: Date): unknown[] {
  const { target } = image;
  return [
    namespace, image.name, target.mediaType, target.digest, target.size.toString(),
    JSON.stringify(withoutEmptyValues(target.annotations)), JSON.stringify(withoutEmptyValues(image.labels)), now,
  ];
}

interface Create {
  namespace: string;
  image: ImageFields;
  now: Date;
}

/** Creates in one statement: null for each name taken, by an existing image or by an earlier create in the batch. */
async function createMany(db: Queryable, registered: RegisteredNamespaces, creates: readonly Create[]): Promise<(Image | null)[]> {
  const first = new Map<string, Create>();
  for (const create of creates) {
    const key = imageKey(create.namespace, create.image.name);
    if (!first.has(key)) first.set(key, create);
  }
  const stored = new Map<string, Image>();
  const input = [...first].map(([key, { namespace, image, now }]) => {
    const { target } = image;
    const labels = withoutEmptyValues(image.labels);
    const annotations = withoutEmptyValues(target.annotations);
    stored.set(key, { name: image.name, labels, target: { ...target, annotations }, createdAt: now, updatedAt: now });
    return {
      namespace, name: image.name, media_type: target.mediaType, digest: target.digest, size: target.size.toString(),
      annotations, labels, at_ms: now.getTime(),
    };
  });
  const namespaces = new Set(creates.map((c) => c.namespace));
  const known = registered.allKnown(namespaces);
  const sql = known ? SQL.createManyInRegistered : SQL.createMany;
  const { rows } = await db.query<{ namespace: string; name: string }>(sql, [JSON.stringify(input)]);
  if (!known) registered.add(namespaces);
  const inserted = new Set(rows.map((row) => imageKey(row.namespace, row.name)));
  return creates.map((c) => {
    const key = imageKey(c.namespace, c.image.name);
    return first.get(key) === c && inserted.has(key) ? stored.get(key)! : null;
  });
}

/** Up to this many concurrent creates share a statement. */
const MAX_CREATE_BATCH = 64;
/** A batch of creates waits at most this long for the callers of the previous one (docs/performance.md). */
const CREATE_LINGER_MS = 1;

async function write(db: Queryable, sql: string, namespace: string, image: ImageFields, now: Date, extraParams: unknown[] = []) {
  validateImage(image);
  const { rows } = await db.query<ImageRow>(sql, [...writeParams(namespace, image, now), ...extraParams]);
  return rows[0] === undefined ? null : fromRow(rows[0]);
}

/** updateIfUnchanged's $9..$13: an image's content as stored. */
function contentParams(image: Image): unknown[] {
  const { target } = image;
  return [target.mediaType, target.digest, target.size.toString(), JSON.stringify(target.annotations), JSON.stringify(image.labels)];
}

export function sqlImageStore(db: Database): ImageStore {
  const registered = new RegisteredNamespaces();
  const create = batched<Create, Image | null>({
    runBatch: (creates) => createMany(db, registered, creates),
    runOne: async (c) => (await createMany(db, registered, [c]))[0]!,
    maxBatch: MAX_CREATE_BATCH,
    lingerMs: CREATE_LINGER_MS,
  });
  async function get(namespace: string, name: string): Promise<Image | null> {
    if (!isStorableText(name)) return null;
    const { rows } = await db.query<ImageRow>(SQL.get, [namespace, name], READ_ONLY);
    return rows[0] === undefined ? null : fromRow(rows[0]);
  }
  return {
    get,
    async first(namespace, limit) {
      // Taken before the read, so whatever the read could not see counts as added (see migrations/0004).
      const asOf = (await db.query<{ snapshot: string }>(SQL.snapshot, [], READ_ONLY)).rows[0]!.snapshot;
      const { rows } = await db.query<ImageRow>(SQL.listFirst, [namespace, limit], READ_ONLY);
      return { images: rows.map(fromRow), asOf };
    },
    async addedSince(namespace, asOf) {
      const { rows } = await db.query<{ added: boolean }>(SQL.addedSince, [namespace, asOf], READ_ONLY);
      return rows[0]!.added;
    },
    async list(namespace, filter: Filter, signal) {
      const narrowed = prefilter(filter);
      // A narrowed query's text depends on the filter: not worth preparing.
      const { rows } = narrowed
        ? await db.query<ImageRow>(SQL.list(narrowed.where), [namespace, ...narrowed.params], { ...READ_ONLY, prepare: false, signal })
        : await db.query<ImageRow>(SQL.list("true"), [namespace], { ...READ_ONLY, signal });
      return rows.map(fromRow).filter((image) => matches(filter, imageFields(image)));
    },
    async create(namespace, image, now) {
      validateImage(image);
      return create({ namespace, image, now });
    },
    put: async (namespace, image, now) => (await write(db, SQL.put, namespace, image, now))!,
    async update(namespace, image, paths, now, current) {
      if (!isStorableText(image.name)) return null;
      // A replacement does not depend on what is stored: one statement. As in
      // containerd, a missing image is NotFound even when the new one is invalid.
      if (paths.length === 0) {
        try {
          return await write(db, SQL.update, namespace, image, now);
        } catch (error) {
          if (error instanceof InvalidArgumentError && (await get(namespace, image.name)) === null) return null;
          throw error;
        }
      }
      // Merge into what was read, and write it only if that is still stored: one
      // or two statements. When something changed meanwhile, merge under a row lock.
      const seen = current ?? (await get(namespace, image.name));
      if (seen === null) return null;
      const swapped = await write(db, SQL.updateIfUnchanged, namespace, applyFieldMask(seen, image, paths), now, contentParams(seen));
      if (swapped !== null) return swapped;
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<ImageRow>(SQL.getForUpdate, [namespace, image.name]);
        if (rows[0] === undefined) return null;
        return write(tx, SQL.update, namespace, applyFieldMask(fromRow(rows[0]), image, paths), now);
      });
    },
    async delete(namespace, name, expectedDigest) {
      // Neither a name nor a digest Postgres cannot hold can be stored.
      if (!isStorableText(name) || (expectedDigest !== undefined && !isStorableText(expectedDigest))) return false;
      const { rowCount } = await db.query(SQL.delete, [namespace, name, expectedDigest ?? null]);
      return rowCount > 0;
    },
  };
}
