-- 0008_execution_node_data.sql: what each node of a run received and how it ended.
-- ADDITION TO THE SEED.
--
-- Addition to the seed: one row per node of an execution (the last time it ran, for a
-- node inside a loop body), so the editor shows every node's inputs, item counts and
-- status again after the workflow or the app is re-opened, and partial runs ("run from
-- here") can re-use what upstream nodes produced. Each node's outputs are not repeated
-- here: they stay in executions.output_data ({node_id: {port: value}}), capped and
-- marked the same way as these inputs.
--   status: 'success' (ran; also a node whose outputs were pinned or re-used), 'error'
--     (failed; with onError continue / error_output its error still flowed on),
--     'skipped' (a branch not taken / an input skipped), 'cancelled' (stopped by a
--     cancelled or failed run while it ran).
--   origin: 'run' (its run was called), 'pinned' (the node's pinned data stood in for
--     it), 'reused' (a partial run took its outputs from an earlier execution).
--   inputs: {port: value} as the node received them, capped per node with the same
--     truncation marker as output_data ({"__truncated__": true, ...}); masked.
--   input_counts / output_counts: {port: item count} (a list counts its elements, any
--     other value 1), counted before capping; an edge's item count is its source's
--     output_counts[sourceHandle].
--   runs: how many times the node ran in this execution (loop bodies run it per item).
CREATE TABLE execution_node_data (
  execution_id UUID NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  node_type TEXT,
  status TEXT NOT NULL
    CONSTRAINT ck_execution_node_data_status
    CHECK (status IN ('success', 'error', 'skipped', 'cancelled')),
  origin TEXT NOT NULL DEFAULT 'run'
    CONSTRAINT ck_execution_node_data_origin CHECK (origin IN ('run', 'pinned', 'reused')),
  inputs JSONB,
  input_counts JSONB,
  output_counts JSONB,
  error TEXT,
  runs INTEGER NOT NULL DEFAULT 1,
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  PRIMARY KEY (execution_id, node_id)
);
