-- 0004_schedule_trigger_nodes.sql: schedules that come from a workflow's Schedule trigger
-- nodes. ADDITION TO THE SEED.
--
-- A workflow with a Schedule trigger node (cron + timezone fields) is scheduled by
-- saving it: each save keeps one schedules row per enabled Schedule node of the
-- document (created, changed when its cron, timezone or data change, removed with the
-- node). node_id says which node a row stands for; rows a person adds with
-- `glyphic schedule add` have none and are left alone by saves.
ALTER TABLE schedules ADD COLUMN node_id TEXT;

CREATE UNIQUE INDEX idx_schedules_workflow_node ON schedules (workflow_id, node_id)
  WHERE node_id IS NOT NULL;
