-- 0011_dedupe_keys.sql: what a Remove Duplicates node let through in earlier runs of its
-- workflow. Every statement is an ADDITION TO THE SEED.

-- Addition to the seed: one row per key a node (workflow_id, node_id) has let through:
-- the SHA-256 of the item (or of its chosen fields) as compact sorted JSON. The node
-- inserts its keys with ON CONFLICT DO NOTHING ... RETURNING, so two runs at once cannot
-- both let the same item through. Bounded: after each run the node keeps only its newest
-- N keys (its "remember" field). Deleted with the workflow.
CREATE TABLE dedupe_keys (
  workflow_id UUID NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  key_hash BYTEA NOT NULL CONSTRAINT ck_dedupe_keys_key_hash
    CHECK (octet_length(key_hash) = 32),
  seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, node_id, key_hash)
);

-- Addition to the seed: finding a node's oldest keys when it is over its bound.
CREATE INDEX idx_dedupe_keys_node_seen_at ON dedupe_keys (workflow_id, node_id, seen_at);
