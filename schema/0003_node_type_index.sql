-- 0003_node_type_index.sql: index the node types of each workflow instead of its whole
-- document. A CHANGE TO THE SEED (data-model.md lists idx_workflows_workflow_data, a
-- GIN index on the whole workflow_data "for JSON queries").
--
-- Why:
--   * The one JSON query the product runs is the seed's node-type search
--     (workflow_data->'nodes' @> '[{"type": "gmail"}]'). That expression is not
--     workflow_data, so the seed's index could not serve the query as the seed writes
--     it; the repository had to rewrite it as workflow_data @> '{"nodes": [...]}'.
--   * A GIN index on the whole document holds one entry per distinct value in it: a
--     10,000-node workflow puts ~200,000 entries into the index on every save
--     (PostgreSQL updates a GIN index in full for each new row version). Measured on
--     Debian PostgreSQL 15: 80 ms of a 180 ms save, and every 5-12 saves a 1.8-3.3 s
--     stall while the index's pending list is merged, during which the editor waits.
--   * An index on the node-type list costs ~5 ms per 10,000-node save, never stalls,
--     and answers the node-type search from the index (bench/store.py: search over
--     10,000 workflows).
-- What is given up: an ad-hoc containment query on other parts of the document
-- (fields, labels) is no longer indexed; the product runs none.
DROP INDEX IF EXISTS idx_workflows_workflow_data;
ALTER TABLE workflows RESET (autovacuum_analyze_threshold);

CREATE INDEX idx_workflows_node_types ON workflows
  USING GIN (jsonb_path_query_array(workflow_data, '$.nodes[*].type') jsonb_path_ops);
