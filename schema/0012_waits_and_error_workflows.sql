-- 0012: runs that wait (issue 16 item 5) and error workflows (issue 16 item 6).

-- Addition to the seed: 'waiting', a run a Wait node stored until it is due (or resumed
-- by its signed URL); it holds no agent slot and any live agent resumes it.
ALTER TABLE executions DROP CONSTRAINT ck_executions_status;
ALTER TABLE executions ADD CONSTRAINT ck_executions_status
  CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'waiting'));

-- Addition: when a waiting run is due (a resume call sets it to now()); NULL while it
-- waits only for a resume call.
ALTER TABLE executions ADD COLUMN resume_at TIMESTAMPTZ;
-- Addition: SHA-256 of the secret token of the run's resume URL (the token is shown in
-- the run log only).
ALTER TABLE executions ADD COLUMN resume_token_hash BYTEA
  CONSTRAINT ck_executions_resume_token_hash
  CHECK (resume_token_hash IS NULL OR octet_length(resume_token_hash) = 32);
-- Addition: what a waiting run resumes from: {"node": the Wait node's id,
-- "outputs": {node id: {port: value}} of the nodes that had run, the Wait node's too,
-- "max_at": the wait's latest end}.
ALTER TABLE executions ADD COLUMN resume_state JSONB;

-- Addition: waiting runs by due time (the agents' claim of due ones).
CREATE INDEX idx_executions_waiting ON executions (resume_at) WHERE status = 'waiting';

-- A workflow's error workflow is its document's config.errorWorkflow (a name or id);
-- the run it starts has trigger_type 'error' and trigger_data {"error": {...},
-- "chain": [workflow ids]} (no column needed).
