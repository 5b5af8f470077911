-- 0007_run_processes.sql: the processes that run executions, and lost-run retries.
-- Every statement is an ADDITION TO THE SEED (DESIGN.md §7: "an execution left
-- running by any process that died (agent, editor, glyphic run: each registers and
-- heartbeats) is marked failed within 30 s of its last heartbeat; scheduled and
-- webhook runs lost so are retried once").

-- Addition to the seed: one row per live process that runs executions (an agent, an
-- editor window, a `glyphic run`). It heartbeats every few seconds; a row whose
-- heartbeat is older than the stale limit belongs to a dead process, and a live agent
-- fails (and retries) the runs it left behind. stop_requested_at is how
-- `glyphic db stop --force` asks the processes holding the server to stop.
CREATE TABLE run_processes (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  kind TEXT NOT NULL CONSTRAINT ck_run_processes_kind CHECK (kind IN ('agent', 'editor', 'cli')),
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  stop_requested_at TIMESTAMPTZ
);

-- Addition to the seed: recovery looks for processes by heartbeat age.
CREATE INDEX idx_run_processes_heartbeat_at ON run_processes (heartbeat_at);

-- Addition to the seed: the process that runs (or claimed) an execution. claimed_by
-- keeps the agent's name for people; process_id is what recovery follows.
ALTER TABLE executions
  ADD COLUMN process_id UUID REFERENCES run_processes(id) ON DELETE SET NULL;

-- Addition to the seed: the unfinished executions of a process, found fast.
CREATE INDEX idx_executions_process_id ON executions (process_id)
  WHERE status IN ('pending', 'running');

-- Addition to the seed: how many times a run of this schedule / webhook lost to a
-- process that stopped or died is queued again (attempts are counted in
-- executions.trigger_data.attempt). Default: once.
ALTER TABLE schedules
  ADD COLUMN retry_lost_runs INTEGER NOT NULL DEFAULT 1
    CONSTRAINT ck_schedules_retry_lost_runs CHECK (retry_lost_runs BETWEEN 0 AND 10);
ALTER TABLE webhooks
  ADD COLUMN retry_lost_runs INTEGER NOT NULL DEFAULT 1
    CONSTRAINT ck_webhooks_retry_lost_runs CHECK (retry_lost_runs BETWEEN 0 AND 10);

-- Addition to the seed: a change to when schedules fire (a new, resumed, paused,
-- removed or fired schedule) sends NOTIFY glyphic_schedules, so an agent sleeping until
-- the earliest due time wakes and looks again instead of ticking every second.
CREATE FUNCTION glyphic_notify_schedules() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('glyphic_schedules', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER trg_schedules_notify
  AFTER INSERT OR DELETE OR UPDATE OF next_run_at, is_active ON schedules
  FOR EACH STATEMENT EXECUTE FUNCTION glyphic_notify_schedules();
