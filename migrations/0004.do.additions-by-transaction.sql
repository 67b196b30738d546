-- Adding an image is no longer announced (see 0003). NOTIFY takes one lock
-- that serializes every announcing commit in the cluster, and wakes every
-- listening process, for news that concerns no kept image: a new name
-- cannot be in anybody's cache. Only a namespace held whole in memory misses
-- it, so such a namespace is checked for additions before it answers a List
-- (server/images/cached-store.ts): were rows added by a transaction that a
-- snapshot taken before the namespace was read could not see?
--
-- added_by is the adding transaction; the default is the only writer of it.
-- Rows already here read 0, seen by every snapshot, and take no rewrite of
-- the table. (Rows restored from another cluster may carry ids it has not
-- reached yet: they read as additions, so the namespace is read from the
-- database.)
--
-- A replica older than this migration still counts on additions being
-- announced: stop old replicas before starting new ones.
ALTER TABLE images ADD COLUMN added_by xid8 NOT NULL DEFAULT '0';
ALTER TABLE images ALTER COLUMN added_by SET DEFAULT pg_current_xact_id();
CREATE INDEX images_added_by ON images (namespace, added_by);

DROP TRIGGER images_announce_row_change ON images;
CREATE TRIGGER images_announce_row_change AFTER UPDATE OR DELETE ON images
  FOR EACH ROW EXECUTE FUNCTION announce_image_change();
