-- 0001_core.sql: the seed's core tables, exactly as data-model.md writes them.
--
-- Tables, columns, defaults, constraints and indexes below are copied from the seed
-- (users, workflows, workflow_versions, executions, execution_logs, integrations,
-- webhooks, schedules, files). The optional multi-tenancy tables (organizations,
-- organization_members) are not created yet.
--
-- Additions to the seed live in 0002_product_additions.sql, each commented there.
-- The `schema_migrations` record (an addition to the seed: version, filename,
-- checksum, applied_at) is created by the migration runner itself
-- (glyphic_desktop/store/migrations.py) before it applies this file, because the
-- runner needs it to know which files are applied.
--
-- gen_random_uuid() is built into PostgreSQL since version 13: no extension needed.

-- users ---------------------------------------------------------------------------

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email TEXT UNIQUE NOT NULL,
  name TEXT,
  avatar_url TEXT,
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW(),
  last_login_at TIMESTAMPTZ,
  preferences JSONB DEFAULT '{}'::jsonb
);

CREATE INDEX idx_users_email ON users (email);

-- workflows -----------------------------------------------------------------------

CREATE TABLE workflows (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  workflow_data JSONB NOT NULL, -- ComfyUI-style JSON blob
  version INTEGER DEFAULT 1,
  is_active BOOLEAN DEFAULT true,
  is_public BOOLEAN DEFAULT false,
  tags TEXT[],
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW(),
  last_executed_at TIMESTAMPTZ,
  execution_count INTEGER DEFAULT 0
);

CREATE INDEX idx_workflows_user_id ON workflows (user_id);
CREATE INDEX idx_workflows_created_at ON workflows (created_at DESC);
CREATE INDEX idx_workflows_tags ON workflows USING GIN (tags);
-- The seed asks for GIN on workflow_data "for JSON queries" without naming an operator
-- class; jsonb_path_ops serves the containment (@>) queries the product runs (node-type
-- search) with a far smaller index, which keeps saving a 10,000-node document fast.
CREATE INDEX idx_workflows_workflow_data ON workflows USING GIN (workflow_data jsonb_path_ops);

-- workflow_versions ---------------------------------------------------------------

CREATE TABLE workflow_versions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_id UUID NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  workflow_data JSONB NOT NULL,
  change_summary TEXT,
  created_by UUID REFERENCES users(id),
  created_at TIMESTAMPTZ DEFAULT NOW(),
  UNIQUE(workflow_id, version)
);

CREATE INDEX idx_workflow_versions_workflow_id ON workflow_versions (workflow_id, version DESC);

-- executions ----------------------------------------------------------------------

CREATE TABLE executions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_id UUID NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  status TEXT NOT NULL, -- 'pending', 'running', 'completed', 'failed', 'cancelled'
  trigger_type TEXT, -- 'manual', 'webhook', 'schedule', 'event'
  trigger_data JSONB, -- Data that triggered the execution
  input_data JSONB, -- Input data for the workflow
  output_data JSONB, -- Output data from the workflow
  error_message TEXT,
  error_stack TEXT,
  started_at TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  duration_ms INTEGER,
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_executions_workflow_id ON executions (workflow_id, created_at DESC);
CREATE INDEX idx_executions_user_id ON executions (user_id, created_at DESC);
CREATE INDEX idx_executions_status ON executions (status, created_at DESC);

-- execution_logs ------------------------------------------------------------------

CREATE TABLE execution_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  execution_id UUID NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
  node_id TEXT, -- ID of the node that generated this log
  node_type TEXT,
  level TEXT NOT NULL, -- 'info', 'warn', 'error', 'debug'
  message TEXT NOT NULL,
  data JSONB, -- Additional structured data
  timestamp TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_execution_logs_execution_id ON execution_logs (execution_id, timestamp);
CREATE INDEX idx_execution_logs_node_id ON execution_logs (execution_id, node_id);

-- integrations --------------------------------------------------------------------

CREATE TABLE integrations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type TEXT NOT NULL, -- 'gmail', 'slack', 'github', etc.
  name TEXT NOT NULL, -- User-friendly name
  credentials_encrypted BYTEA NOT NULL, -- Encrypted OAuth tokens/API keys
  config JSONB DEFAULT '{}'::jsonb, -- Non-sensitive configuration
  is_active BOOLEAN DEFAULT true,
  expires_at TIMESTAMPTZ, -- For OAuth tokens
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_integrations_user_id ON integrations (user_id, type);
CREATE INDEX idx_integrations_type ON integrations (type);

-- webhooks ------------------------------------------------------------------------

CREATE TABLE webhooks (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_id UUID NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  path TEXT NOT NULL UNIQUE, -- URL path: /webhooks/{path}
  secret TEXT NOT NULL, -- For signature validation
  method TEXT DEFAULT 'POST', -- HTTP method
  is_active BOOLEAN DEFAULT true,
  last_triggered_at TIMESTAMPTZ,
  trigger_count INTEGER DEFAULT 0,
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE UNIQUE INDEX idx_webhooks_path ON webhooks (path);
CREATE INDEX idx_webhooks_workflow_id ON webhooks (workflow_id);

-- schedules -----------------------------------------------------------------------

CREATE TABLE schedules (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_id UUID NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  cron_expression TEXT NOT NULL, -- e.g., "0 0 * * *" for daily
  timezone TEXT DEFAULT 'UTC',
  input_data JSONB, -- Default input data for scheduled runs
  is_active BOOLEAN DEFAULT true,
  next_run_at TIMESTAMPTZ,
  last_run_at TIMESTAMPTZ,
  run_count INTEGER DEFAULT 0,
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_schedules_workflow_id ON schedules (workflow_id);
CREATE INDEX idx_schedules_next_run_at ON schedules (next_run_at) WHERE is_active = true;
CREATE INDEX idx_schedules_user_id ON schedules (user_id);

-- files ---------------------------------------------------------------------------

CREATE TABLE files (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  execution_id UUID REFERENCES executions(id) ON DELETE SET NULL,
  filename TEXT NOT NULL,
  mime_type TEXT,
  size_bytes BIGINT,
  storage_path TEXT NOT NULL, -- Path in Supabase Storage or S3
  storage_provider TEXT DEFAULT 'supabase', -- 'supabase', 's3', etc.
  metadata JSONB DEFAULT '{}'::jsonb,
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_files_user_id ON files (user_id, created_at DESC);
CREATE INDEX idx_files_execution_id ON files (execution_id);
