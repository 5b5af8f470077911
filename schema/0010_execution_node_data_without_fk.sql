-- 0010_execution_node_data_without_fk.sql: per-node rows written without a foreign-key
-- check per row.
--
-- Addition to the seed (changes 0008): execution_node_data.execution_id no longer
-- REFERENCES executions(id). The check cost the server about as much as the insert
-- itself for each node row (a run writes one row per node, so a 1,000-node run paid it
-- 1,000 times). Rows are only ever written by the run of that execution
-- (engine/runner.py), so the reference holds when they are written; what ON DELETE
-- CASCADE did is now done by the statement-level triggers below: deleting executions
-- (retention, deleting a workflow or a user, which cascade to executions) deletes
-- their node rows in one statement, and TRUNCATE executions empties the node rows too.
ALTER TABLE execution_node_data DROP CONSTRAINT execution_node_data_execution_id_fkey;

-- Addition to the seed: the node rows of deleted executions go with them.
CREATE FUNCTION glyphic_delete_execution_node_data() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM execution_node_data AS d USING gone AS g WHERE d.execution_id = g.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER trg_executions_delete_node_data
  AFTER DELETE ON executions
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION glyphic_delete_execution_node_data();

-- Addition to the seed: TRUNCATE executions (no row triggers fire) empties the node rows.
CREATE FUNCTION glyphic_truncate_execution_node_data() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE execution_node_data;
  RETURN NULL;
END;
$$;

CREATE TRIGGER trg_executions_truncate_node_data
  AFTER TRUNCATE ON executions
  FOR EACH STATEMENT EXECUTE FUNCTION glyphic_truncate_execution_node_data();
