"""Executions (runs) of one user's workflows and their log lines.

Status moves ``pending`` → ``running`` → ``completed`` / ``failed`` / ``cancelled``
(a run may also go straight from ``pending`` to a final status, e.g. when preflight
fails). :meth:`ExecutionRepository.finish` writes the final status and bumps the
workflow's ``last_executed_at`` / ``execution_count`` in the caller's transaction, so
both change together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from glyphic_desktop.errors import GlyphicError, NotFoundError
from glyphic_desktop.store.models import Execution, ExecutionLog, Workflow
from glyphic_desktop.store.repositories.ids import parse_id

FINAL_STATUSES = ("completed", "failed", "cancelled")


class ExecutionStateError(GlyphicError):
    """A status change the execution's current status does not allow."""


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution row."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    status: str
    trigger_type: str | None
    trigger_data: Any
    input_data: Any
    output_data: Any
    error_message: str | None
    error_stack: str | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    created_at: datetime | None
    claimed_by: str | None = None
    schedule_id: uuid.UUID | None = None
    scheduled_for: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the run reached a final status."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class ExecutionSummary:
    """One row of a workflow's run history (no inputs or outputs)."""

    id: uuid.UUID
    status: str
    trigger_type: str | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    created_at: datetime | None


@dataclass(frozen=True)
class FailedRun:
    """A failed run for the tray's "Recent failures": which workflow, why, when."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    error_message: str | None
    at: datetime | None


@dataclass(frozen=True)
class LogRecord:
    """One ``execution_logs`` row."""

    seq: int
    node_id: str | None
    node_type: str | None
    level: str
    message: str
    data: Any
    timestamp: datetime | None


def _record(row: Execution) -> ExecutionRecord:
    return ExecutionRecord(
        id=row.id,
        workflow_id=row.workflow_id,
        user_id=row.user_id,
        status=row.status,
        trigger_type=row.trigger_type,
        trigger_data=row.trigger_data,
        input_data=row.input_data,
        output_data=row.output_data,
        error_message=row.error_message,
        error_stack=row.error_stack,
        started_at=row.started_at,
        completed_at=row.completed_at,
        duration_ms=row.duration_ms,
        created_at=row.created_at,
        claimed_by=row.claimed_by,
        schedule_id=row.schedule_id,
        scheduled_for=row.scheduled_for,
    )


class ExecutionRepository:
    """Runs of one user's workflows, in the caller's session (transaction)."""

    def __init__(self, session: Session, user_id: uuid.UUID | str) -> None:
        self.session = session
        self.user_id = parse_id(user_id, "execution")

    def create_pending(
        self,
        workflow_id: uuid.UUID | str,
        *,
        trigger_type: str = "manual",
        trigger_data: Any = None,
        input_data: Any = None,
        schedule_id: uuid.UUID | None = None,
        scheduled_for: datetime | None = None,
    ) -> uuid.UUID:
        """Insert a ``pending`` execution of one of the user's workflows; returns its id."""
        workflow_id = parse_id(workflow_id, "execution")
        owned = self.session.scalar(
            select(Workflow.id).where(Workflow.id == workflow_id, Workflow.user_id == self.user_id)
        )
        if owned is None:
            raise NotFoundError(f"no workflow with id {workflow_id}")
        row = Execution(
            workflow_id=workflow_id,
            user_id=self.user_id,
            status="pending",
            trigger_type=trigger_type,
            trigger_data=trigger_data,
            input_data=input_data,
            schedule_id=schedule_id,
            scheduled_for=scheduled_for,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def _scoped(self, execution_id: uuid.UUID | str):
        return update(Execution).where(
            Execution.id == parse_id(execution_id, "execution"), Execution.user_id == self.user_id
        )

    def mark_running(
        self, execution_id: uuid.UUID | str, *, claimed_by: str | None = None
    ) -> datetime:
        """``pending`` → ``running`` with ``started_at`` = now; returns ``started_at``."""
        started = self.session.execute(
            self._scoped(execution_id)
            .where(Execution.status == "pending")
            .values(
                status="running",
                started_at=func.now(),
                claimed_by=claimed_by,
                heartbeat_at=func.now(),
            )
            .returning(Execution.started_at)
        ).scalar_one_or_none()
        if started is None:
            current = self.get(execution_id)
            raise ExecutionStateError(
                f"execution {current.id} is {current.status}, not pending: it cannot start"
            )
        return started

    def heartbeat(self, execution_id: uuid.UUID | str) -> None:
        """Touch ``heartbeat_at`` of a running execution."""
        self.session.execute(
            self._scoped(execution_id)
            .where(Execution.status == "running")
            .values(heartbeat_at=func.now())
        )

    def finish(
        self,
        execution_id: uuid.UUID | str,
        status: str,
        *,
        output_data: Any = None,
        error_message: str | None = None,
        error_stack: str | None = None,
        return_record: bool = True,
    ) -> ExecutionRecord | None:
        """Write the final status, outputs, error and timings; bump the workflow's counters.

        ``duration_ms`` is ``completed_at - started_at`` (0 when the run never started).
        Raises :class:`ExecutionStateError` when the execution already finished. Returns
        the updated record (None with ``return_record=False``, which saves reading the
        outputs back).
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"{status!r} is not a final status ({', '.join(FINAL_STATUSES)})")
        now = func.clock_timestamp()
        duration = func.coalesce(
            func.floor(func.extract("epoch", now - Execution.started_at) * 1000), 0
        )
        row = self.session.execute(
            self._scoped(execution_id)
            .where(Execution.status.in_(("pending", "running")))
            .values(
                status=status,
                output_data=output_data,
                error_message=error_message,
                error_stack=error_stack,
                completed_at=now,
                duration_ms=duration,
            )
            .returning(Execution.workflow_id, Execution.completed_at)
        ).one_or_none()
        if row is None:
            current = self.get(execution_id)
            raise ExecutionStateError(f"execution {current.id} already finished ({current.status})")
        self.session.execute(
            update(Workflow)
            .where(Workflow.id == row.workflow_id)
            .values(
                last_executed_at=row.completed_at,
                execution_count=func.coalesce(Workflow.execution_count, 0) + 1,
            )
        )
        return self.get(execution_id) if return_record else None

    def get(self, execution_id: uuid.UUID | str) -> ExecutionRecord:
        """The user's execution with this id; :class:`NotFoundError` when there is none."""
        row = self.session.scalars(
            select(Execution)
            .where(
                Execution.id == parse_id(execution_id, "execution"),
                Execution.user_id == self.user_id,
            )
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no execution with id {execution_id}")
        return _record(row)

    def list_for_workflow(
        self, workflow_id: uuid.UUID | str, limit: int = 50
    ) -> list[ExecutionSummary]:
        """The workflow's most recent runs, newest first."""
        rows = self.session.execute(
            select(
                Execution.id,
                Execution.status,
                Execution.trigger_type,
                Execution.error_message,
                Execution.started_at,
                Execution.completed_at,
                Execution.duration_ms,
                Execution.created_at,
            )
            .where(
                Execution.workflow_id == parse_id(workflow_id, "execution"),
                Execution.user_id == self.user_id,
            )
            .order_by(Execution.created_at.desc(), Execution.id)
            .limit(limit)
        )
        return [ExecutionSummary(*row) for row in rows]

    def recent_failures(self, limit: int = 5) -> list[FailedRun]:
        """The user's most recent failed runs of any workflow, newest first."""
        rows = self.session.execute(
            select(
                Execution.id,
                Execution.workflow_id,
                Workflow.name,
                Execution.error_message,
                func.coalesce(Execution.completed_at, Execution.created_at),
            )
            .join(Workflow, Workflow.id == Execution.workflow_id)
            .where(Execution.user_id == self.user_id, Execution.status == "failed")
            .order_by(func.coalesce(Execution.completed_at, Execution.created_at).desc())
            .limit(limit)
        )
        return [FailedRun(*row) for row in rows]

    def logs(
        self,
        execution_id: uuid.UUID | str,
        *,
        node_id: str | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LogRecord]:
        """The execution's log lines in the order they were written."""
        execution_id = parse_id(execution_id, "execution")
        self.get(execution_id)  # scope check
        query = select(
            ExecutionLog.seq,
            ExecutionLog.node_id,
            ExecutionLog.node_type,
            ExecutionLog.level,
            ExecutionLog.message,
            ExecutionLog.data,
            ExecutionLog.timestamp,
        ).where(ExecutionLog.execution_id == execution_id)
        if node_id is not None:
            query = query.where(ExecutionLog.node_id == node_id)
        if after_seq is not None:
            query = query.where(ExecutionLog.seq > after_seq)
        query = query.order_by(ExecutionLog.seq)
        if limit is not None:
            query = query.limit(limit)
        return [LogRecord(*row) for row in self.session.execute(query)]
