-- Images, one row per (namespace, name). Names sort byte-wise (COLLATE "C"),
-- the order containerd lists them in. The target descriptor is kept in its
-- OCI JSON form: {"mediaType", "digest", "size", "annotations"}.
--
-- Names may be up to 4096 bytes, more than a btree entry can hold (2704
-- bytes), so rows are keyed by the SHA-256 of the name's UTF-8 bytes.
CREATE TABLE images (
  namespace  text COLLATE "C" NOT NULL,
  name       text COLLATE "C" NOT NULL,
  name_key   bytea NOT NULL,
  target     jsonb NOT NULL,
  labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, name_key)
);
