-- Namespaces come into being with the first image or lease written in them
-- and stay when those are deleted, as in containerd.
CREATE TABLE namespaces (
  name       text COLLATE "C" PRIMARY KEY,
  labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO namespaces (name) SELECT DISTINCT namespace FROM images;

-- Leases, stored so that clients which wrap writes in a lease (ctr images tag) work.
CREATE TABLE leases (
  namespace  text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, id)
);
