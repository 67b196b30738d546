-- Every committed change to an image is announced on channel image_changes,
-- so that processes caching images (see server/images/cache.ts) drop their
-- copy. A trigger rather than the service's own statements: a row changed
-- by hand in psql must be announced too. The payload is the namespace and
-- the name separated by a newline (a namespace cannot hold one); an empty
-- payload means "anything may have changed".
CREATE FUNCTION announce_image_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('image_changes', '');
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM announce_image_change_of(OLD.namespace, OLD.name);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM announce_image_change_of(NEW.namespace, NEW.name);
  END IF;
  RETURN NULL;
END $$;

-- A NOTIFY payload must stay under 8000 bytes; a longer name (only possible
-- by hand) is announced as "anything may have changed".
CREATE FUNCTION announce_image_change_of(namespace text, name text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify('image_changes',
    CASE WHEN octet_length(namespace) + octet_length(name) < 7999 THEN namespace || E'\n' || name ELSE '' END)
$$;

CREATE TRIGGER images_announce_row_change AFTER INSERT OR UPDATE OR DELETE ON images
  FOR EACH ROW EXECUTE FUNCTION announce_image_change();
CREATE TRIGGER images_announce_truncate AFTER TRUNCATE ON images
  FOR EACH STATEMENT EXECUTE FUNCTION announce_image_change();
