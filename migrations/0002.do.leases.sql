-- Leases, stored so that clients which wrap writes in a lease (ctr images tag) work.
CREATE TABLE leases (
  namespace  text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, id)
);
