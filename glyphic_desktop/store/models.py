"""SQLAlchemy 2 typed models mirroring ``schema/*.sql`` table by table.

The schema files are the truth (the database is created by the migrations, never by
``metadata.create_all``); these models describe it for typed queries. Server defaults
are written the way PostgreSQL reports them, and
``tests/store/test_models_match_schema.py`` checks every column, index, unique
constraint and foreign key against a migrated database.

Columns marked "addition" are additions to the seed (see 0002_product_additions.sql).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
    desc,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from glyphic_desktop.store.policies import (  # noqa: F401  (re-exported)
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
)

# PostgreSQL's own names for constraints it names itself, so model and database agree.
NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

TZ = TIMESTAMP(timezone=True)
NOW = text("now()")
NEW_UUID = text("gen_random_uuid()")
EMPTY_JSON = text("'{}'::jsonb")
TRUE = text("true")
FALSE = text("false")


class Base(DeclarativeBase):
    """Declarative base of every Glyphic table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=NEW_UUID)


def _created_at() -> Mapped[datetime | None]:
    return mapped_column(TZ, server_default=NOW)


class SchemaMigration(Base):
    """Addition to the seed: one applied ``schema/NNNN_name.sql`` file."""

    __tablename__ = "schema_migrations"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    checksum: Mapped[str] = mapped_column(Text, nullable=False)
    applied_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class User(Base):
    """A person: on a desktop the one at the keyboard, on a shared server one row each."""

    __tablename__ = "users"
    __table_args__ = (Index("idx_users_email", "email"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _created_at()
    last_login_at: Mapped[datetime | None] = mapped_column(TZ)
    preferences: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=EMPTY_JSON)


# The indexed expression of idx_workflows_node_types, as PostgreSQL prints it back.
NODE_TYPES_EXPRESSION = 'jsonb_path_query_array(workflow_data, \'$."nodes"[*]."type"\'::jsonpath)'


class Workflow(Base):
    """A workflow: its document in ``workflow_data`` plus name, tags and run counters."""

    __tablename__ = "workflows"
    __table_args__ = (
        Index("idx_workflows_user_id", "user_id"),
        Index("idx_workflows_created_at", desc("created_at")),
        Index("idx_workflows_tags", "tags", postgresql_using="gin"),
        # Change to the seed (0003_node_type_index.sql): the node types, not the whole
        # document, are indexed; they serve the node-type search.
        Index(
            "idx_workflows_node_types",
            text(NODE_TYPES_EXPRESSION),
            postgresql_using="gin",
            postgresql_ops={NODE_TYPES_EXPRESSION: "jsonb_path_ops"},
        ),
        # Addition: names are unique per owner.
        Index("idx_workflows_user_name", "user_id", "name", unique=True),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    workflow_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    version: Mapped[int | None] = mapped_column(Integer, server_default=text("1"))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    is_public: Mapped[bool | None] = mapped_column(Boolean, server_default=FALSE)
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _created_at()
    last_executed_at: Mapped[datetime | None] = mapped_column(TZ)
    execution_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    # Addition (0005_workflow_trust.sql): nodes that came in from outside and run code or
    # commands, not yet trusted (empty: trusted), and where they came from.
    untrusted_nodes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    untrusted_source: Mapped[str | None] = mapped_column(Text)


class WorkflowVersion(Base):
    """A snapshot of a workflow's document at one version."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version"),
        Index("idx_workflow_versions_workflow_id", "workflow_id", desc("version")),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    workflow_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    change_summary: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[datetime | None] = _created_at()


EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "waiting")


class Execution(Base):
    """One run of a workflow."""

    __tablename__ = "executions"
    __table_args__ = (
        Index("idx_executions_workflow_id", "workflow_id", desc("created_at")),
        Index("idx_executions_user_id", "user_id", desc("created_at")),
        Index("idx_executions_status", "status", desc("created_at")),
        # Additions.
        CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'waiting')",
            name="status",
        ),
        # Addition (0012): waiting runs by due time; the resume token hash is 32 bytes.
        Index(
            "idx_executions_waiting", "resume_at", postgresql_where=text("status = 'waiting'::text")
        ),
        CheckConstraint(
            "resume_token_hash IS NULL OR octet_length(resume_token_hash) = 32",
            name="resume_token_hash",
        ),
        Index("idx_executions_schedule_due", "schedule_id", "scheduled_for", unique=True),
        Index(
            "idx_executions_pending",
            "created_at",
            postgresql_where=text("status = 'pending'::text"),
        ),
        Index("idx_executions_created_at", "created_at"),
        Index(
            "idx_executions_process_id",
            "process_id",
            postgresql_where=text("status = ANY (ARRAY['pending'::text, 'running'::text])"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False)
    trigger_type: Mapped[str | None] = mapped_column(Text)
    trigger_data: Mapped[Any | None] = mapped_column(JSONB)
    input_data: Mapped[Any | None] = mapped_column(JSONB)
    output_data: Mapped[Any | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_stack: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    completed_at: Mapped[datetime | None] = mapped_column(TZ)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = _created_at()
    # Additions: the agent that claimed the run, its heartbeat, the schedule due time.
    claimed_by: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZ)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("schedules.id", ondelete="SET NULL")
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(TZ)
    # Addition (0007): the registered process that runs (or claimed) it.
    process_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("run_processes.id", ondelete="SET NULL")
    )
    # Additions (0012): a waiting run's due time, resume token hash and resume state.
    resume_at: Mapped[datetime | None] = mapped_column(TZ)
    resume_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    resume_state: Mapped[Any | None] = mapped_column(JSONB)


LOG_LEVELS = ("info", "warn", "error", "debug")


class ExecutionLog(Base):
    """One log line of a run (order by ``seq``)."""

    __tablename__ = "execution_logs"
    __table_args__ = (
        Index("idx_execution_logs_execution_id", "execution_id", "timestamp"),
        Index("idx_execution_logs_node_id", "execution_id", "node_id"),
        # Additions.
        CheckConstraint("level IN ('info', 'warn', 'error', 'debug')", name="level"),
        Index("idx_execution_logs_seq", "execution_id", "seq"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("executions.id", ondelete="CASCADE"), nullable=False
    )
    node_id: Mapped[str | None] = mapped_column(Text)
    node_type: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[Any | None] = mapped_column(JSONB)
    timestamp: Mapped[datetime | None] = _created_at()
    # Addition: insertion order.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), nullable=False)


class Integration(Base):
    """A stored credential (encrypted) for a third-party service."""

    __tablename__ = "integrations"
    __table_args__ = (
        Index("idx_integrations_user_id", "user_id", "type"),
        Index("idx_integrations_type", "type"),
        # Addition: one credential per (user, type, name).
        UniqueConstraint("user_id", "type", "name"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=EMPTY_JSON)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    expires_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _created_at()
    # Addition: the master key that encrypted ``credentials_encrypted``.
    key_id: Mapped[str | None] = mapped_column(Text)


class Webhook(Base):
    """An HTTP endpoint that triggers a workflow."""

    __tablename__ = "webhooks"
    __table_args__ = (
        Index("idx_webhooks_path", "path", unique=True),
        Index("idx_webhooks_workflow_id", "workflow_id"),
        # Addition (0007).
        CheckConstraint("retry_lost_runs >= 0 AND retry_lost_runs <= 10", name="retry_lost_runs"),
        # Addition (0006).
        CheckConstraint("signature_scheme IN ('full', 'legacy')", name="signature_scheme"),
        # Additions (0009): response mode and timeout, authentication.
        CheckConstraint("response_mode IN ('immediately', 'when_finished')", name="response_mode"),
        CheckConstraint(
            "response_timeout >= 1 AND response_timeout <= 3600", name="response_timeout"
        ),
        CheckConstraint(
            "auth_mode IN ('glyphic', 'github', 'stripe', 'header', 'basic', 'none')",
            name="auth_mode",
        ),
        CheckConstraint(
            "auth_mode <> 'header' OR (auth_header IS NOT NULL AND auth_header <> '')",
            name="auth_header",
        ),
        CheckConstraint(
            "auth_mode <> 'basic' OR (basic_user IS NOT NULL AND basic_user <> '')",
            name="basic_user",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    path: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str | None] = mapped_column(Text, server_default=text("'POST'::text"))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    last_triggered_at: Mapped[datetime | None] = mapped_column(TZ)
    trigger_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime | None] = _created_at()
    # Addition (0006): what the signature covers ('full' or 'legacy').
    signature_scheme: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'full'::text")
    )
    # Addition (0007): how often a run lost to a stopped or dead process is queued again.
    retry_lost_runs: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    # Addition (0009): answer at once (202) or when the run finishes / a Respond node runs.
    response_mode: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'immediately'::text")
    )
    # Addition (0009): seconds a 'when_finished' request waits before 504.
    response_timeout: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("30")
    )
    # Addition (0009): how requests are authenticated (glyphic, github, stripe, header,
    # basic, none), with the header name ('header') and the user name ('basic').
    auth_mode: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'glyphic'::text")
    )
    auth_header: Mapped[str | None] = mapped_column(Text)
    basic_user: Mapped[str | None] = mapped_column(Text)


class WebhookReplay(Base):
    """Addition (0006): a signed webhook request already accepted, until it expires."""

    __tablename__ = "webhook_replays"
    __table_args__ = (
        Index("idx_webhook_replays_expires_at", "expires_at"),
        CheckConstraint("octet_length(signature) = 32", name="signature"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    t: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    execution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(TZ, nullable=False)


class Schedule(Base):
    """A cron schedule that fires a workflow."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("idx_schedules_workflow_id", "workflow_id"),
        Index(
            "idx_schedules_next_run_at", "next_run_at", postgresql_where=text("is_active = true")
        ),
        Index("idx_schedules_user_id", "user_id"),
        # Additions.
        CheckConstraint("misfire_policy IN ('once', 'skip', 'all')", name="misfire_policy"),
        CheckConstraint("max_catchup IS NULL OR max_catchup >= 0", name="max_catchup"),
        CheckConstraint("overlap_policy IN ('allow', 'skip', 'queue')", name="overlap_policy"),
        # Addition (0004): one schedule per Schedule trigger node of a workflow.
        Index(
            "idx_schedules_workflow_node",
            "workflow_id",
            "node_id",
            unique=True,
            postgresql_where=text("node_id IS NOT NULL"),
        ),
        # Addition (0007).
        CheckConstraint("retry_lost_runs >= 0 AND retry_lost_runs <= 10", name="retry_lost_runs"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    cron_expression: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str | None] = mapped_column(Text, server_default=text("'UTC'::text"))
    input_data: Mapped[Any | None] = mapped_column(JSONB)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=TRUE)
    next_run_at: Mapped[datetime | None] = mapped_column(TZ)
    last_run_at: Mapped[datetime | None] = mapped_column(TZ)
    run_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _created_at()
    # Additions: misfire and overlap policies.
    misfire_policy: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'once'::text")
    )
    max_catchup: Mapped[int | None] = mapped_column(Integer)
    overlap_policy: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'skip'::text")
    )
    # Addition (0004): the Schedule trigger node this row stands for (NULL: added by hand).
    node_id: Mapped[str | None] = mapped_column(Text)
    # Addition (0007): how often a run lost to a stopped or dead process is queued again.
    retry_lost_runs: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))


RUN_PROCESS_KINDS = ("agent", "editor", "cli")


class RunProcess(Base):
    """Addition (0007): a live process that runs executions (agent, editor, ``glyphic run``)."""

    __tablename__ = "run_processes"
    __table_args__ = (
        CheckConstraint("kind IN ('agent', 'editor', 'cli')", name="kind"),
        Index("idx_run_processes_heartbeat_at", "heartbeat_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    host: Mapped[str] = mapped_column(Text, nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    heartbeat_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    stop_requested_at: Mapped[datetime | None] = mapped_column(TZ)


class File(Base):
    """A file a run produced (``storage_provider`` 'local': under the data dir's files/)."""

    __tablename__ = "files"
    __table_args__ = (
        Index("idx_files_user_id", "user_id", desc("created_at")),
        Index("idx_files_execution_id", "execution_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("executions.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    mime_type: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_path: Mapped[str] = mapped_column(Text, nullable=False)
    # Addition: default 'local' instead of the seed's 'supabase'.
    storage_provider: Mapped[str | None] = mapped_column(Text, server_default=text("'local'::text"))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, server_default=EMPTY_JSON
    )
    created_at: Mapped[datetime | None] = _created_at()


NODE_DATA_STATUSES = ("success", "error", "skipped", "cancelled")
NODE_DATA_ORIGINS = ("run", "pinned", "reused")


class ExecutionNodeData(Base):
    """Addition (0008): one node of a run: its inputs, item counts, status and timings."""

    __tablename__ = "execution_node_data"
    __table_args__ = (
        CheckConstraint("status IN ('success', 'error', 'skipped', 'cancelled')", name="status"),
        CheckConstraint("origin IN ('run', 'pinned', 'reused')", name="origin"),
    )

    # No foreign key (schema/0010): deleting executions deletes these rows by a trigger.
    execution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    node_type: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    origin: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'run'::text"))
    inputs: Mapped[Any | None] = mapped_column(JSONB)
    input_counts: Mapped[Any | None] = mapped_column(JSONB)
    output_counts: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)


class DedupeKey(Base):
    """Addition (0011): a key a Remove Duplicates node let through in an earlier run."""

    __tablename__ = "dedupe_keys"
    __table_args__ = (
        Index("idx_dedupe_keys_node_seen_at", "workflow_id", "node_id", "seen_at"),
        CheckConstraint("octet_length(key_hash) = 32", name="key_hash"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        primary_key=True,
    )
    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


ALL_MODELS: tuple[type[Base], ...] = (
    SchemaMigration,
    User,
    Workflow,
    WorkflowVersion,
    Execution,
    ExecutionLog,
    Integration,
    Webhook,
    WebhookReplay,
    Schedule,
    RunProcess,
    File,
    ExecutionNodeData,
    DedupeKey,
)
