"""Runs that wait: store a suspended run as ``waiting``, resume it, cancel it.

A Wait node longer than ``GLYPHIC_WAIT_PERSIST_AFTER`` seconds (``nodes/suspend.py``)
stops the run; :func:`suspend_row` stores it (0012): ``status 'waiting'``, ``resume_at``,
the SHA-256 of its resume token, and ``resume_state`` (the outputs of the nodes that had
run, the Wait node's outputs among them). The row holds no agent: every agent's queue
runner calls :func:`promote_due` next to its recovery (every few seconds), which turns
due waiting rows back into ``pending`` ones (``FOR UPDATE SKIP LOCKED``, so one agent
takes each); the claim marks them ``resuming`` and :func:`load_resume` gives the
:class:`ResumePlan` (12E's ``start_outputs``) the run goes on from. A resume call
(``/resume/<id>?token=...`` on the agent's webhook listener, or ``glyphic runs resume``)
makes it due now; :func:`cancel_waiting` cancels it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import text

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database


def new_token() -> tuple[str, bytes]:
    """A resume token and its SHA-256 (only the hash is stored)."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    """SHA-256 of a resume token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def resume_path(execution_id: Any, token: str) -> str:
    """The path of a run's resume URL on the agent's webhook listener."""
    return f"/resume/{execution_id}?token={token}"


def suspend_row(
    db: Database,
    execution_id: uuid.UUID,
    *,
    node_id: str,
    resume_at: datetime | None,
    max_at: datetime | None,
    outputs: Mapping[str, Any],
    token_digest: bytes,
    output_data: Any,
) -> bool:
    """Store a running run as ``waiting`` (it releases its agent); False when not running."""
    import json

    state = {
        "node": node_id,
        "outputs": outputs,
        "max_at": max_at.isoformat() if max_at else None,
    }
    with db.session() as session:
        row = session.execute(
            text(
                "UPDATE executions SET status = 'waiting', resume_at = :at, "
                "resume_token_hash = :hash, resume_state = CAST(:state AS jsonb), "
                "output_data = CAST(:out AS jsonb), claimed_by = NULL, process_id = NULL, "
                "heartbeat_at = NULL WHERE id = :id AND status = 'running' RETURNING id"
            ),
            {
                "at": resume_at,
                "hash": token_digest,
                "state": json.dumps(state, default=str),
                "out": json.dumps(output_data, default=str),
                "id": execution_id,
            },
        ).first()
    return row is not None


_PROMOTE = text(
    """
    UPDATE executions SET status = 'pending', claimed_by = NULL, process_id = NULL,
        heartbeat_at = NULL
    WHERE id IN (
      SELECT id FROM executions
      WHERE status = 'waiting' AND resume_at <= now()
      ORDER BY resume_at LIMIT :limit
      FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)


def promote_due(db: Database, limit: int = 500) -> list[uuid.UUID]:
    """Turn due ``waiting`` runs into ``pending`` ones (one agent takes each)."""
    with db.session() as session:
        return [row.id for row in session.execute(_PROMOTE, {"limit": limit}).all()]


@dataclass
class ResumePlan:
    """A waiting run going on from its stored outputs (duck-typed like ``PartialPlan``).

    Every node without stored outputs runs; the stored ones (the Wait node's too) are
    given as ``start_outputs``.
    """

    node_id: str
    start_outputs: dict[str, dict[str, Any]]
    start_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_execution: str | None = None
    resumes: ClassVar[bool] = True  # a whole run going on (its error workflow applies)

    @property
    def run(self) -> _AllBut:
        """The nodes that run: every node without stored outputs."""
        return _AllBut(frozenset(self.start_outputs))

    def executor_options(self) -> dict[str, Any]:
        """``Executor`` / ``Plan`` options: the stored outputs, every other node runs."""
        return {"only": None, "start_outputs": self.start_outputs, "start_inputs": {}}

    def seeds(self) -> dict[str, tuple[dict[str, Any], dict[str, int]]]:
        """No recorded inputs for the given nodes."""
        return {}

    def trigger_data(self) -> dict[str, Any]:
        """Nothing added to the run's trigger data."""
        return {}


@dataclass(frozen=True)
class _AllBut:
    given: frozenset[str]

    def __contains__(self, node_id: object) -> bool:
        return node_id not in self.given


def load_resume(db: Database, execution_id: uuid.UUID) -> ResumePlan | None:
    """The resume plan of a claimed run that waited (its node rows are written anew)."""
    with db.session() as session:
        row = session.execute(
            text("SELECT resume_state FROM executions WHERE id = :id"), {"id": execution_id}
        ).first()
        if row is None or not isinstance(row.resume_state, Mapping):
            return None
        session.execute(
            text("DELETE FROM execution_node_data WHERE execution_id = :id"), {"id": execution_id}
        )
    state = row.resume_state
    outputs = {
        str(node): dict(ports)
        for node, ports in (state.get("outputs") or {}).items()
        if isinstance(ports, Mapping)
    }
    return ResumePlan(str(state.get("node") or ""), outputs)


def resume_now(db: Database, execution_id: Any, token: str) -> str:
    """Make a waiting run due now if ``token`` is its resume token.

    Returns ``resumed``, ``not_found`` (no such run), ``bad_token`` or ``not_waiting``.
    """
    try:
        key = uuid.UUID(str(execution_id))
    except ValueError:
        return "not_found"
    with db.session() as session:
        row = session.execute(
            text("SELECT status, resume_token_hash FROM executions WHERE id = :id FOR UPDATE"),
            {"id": key},
        ).first()
        if row is None:
            return "not_found"
        stored = bytes(row.resume_token_hash) if row.resume_token_hash is not None else b""
        if not stored or not hmac.compare_digest(stored, token_hash(token or "")):
            return "bad_token"
        if row.status != "waiting":
            return "not_waiting"
        session.execute(text("UPDATE executions SET resume_at = now() WHERE id = :id"), {"id": key})
    return "resumed"


RESUME_SQL = (
    "UPDATE executions SET resume_at = now() WHERE id = :id AND user_id = :u "
    "AND status = 'waiting' RETURNING id"
)
CANCEL_SQL = (
    "UPDATE executions SET status = 'cancelled', completed_at = now(), "
    "error_message = 'cancelled while waiting', resume_at = NULL, resume_state = NULL "
    "WHERE id = :id AND status = 'waiting' AND (CAST(:u AS uuid) IS NULL OR user_id = :u) "
    "RETURNING id"
)


def cancel_waiting(db: Database, execution_id: uuid.UUID, user_id: uuid.UUID | None = None) -> bool:
    """Cancel a ``waiting`` run; False when it is not waiting (any more)."""
    with db.session() as session:
        row = session.execute(text(CANCEL_SQL), {"id": execution_id, "u": user_id}).first()
    return row is not None


async def store_waiting(
    db: Database,
    executor: Any,
    execution_id: uuid.UUID,
    workflow_id: uuid.UUID,
    outcome: Any,
    sink: Any,
    stream: Any,
    nodes: Any,
    recorder: Any,
) -> Any:
    """End a suspended run's first part: log its resume URL, store it as ``waiting``.

    Returns the :class:`~glyphic_desktop.engine.runner.RunResult` (status ``waiting``,
    ``resume_token`` set); a row that stopped running meanwhile (cancelled) says so.
    """
    import asyncio
    import logging

    from glyphic_desktop.agent.resume_route import resume_url
    from glyphic_desktop.engine.events import LogLine
    from glyphic_desktop.engine.records import to_jsonable
    from glyphic_desktop.engine.runner import RunResult, _closed

    node_id, suspension = executor.suspension
    plan = executor.plan.by_id.get(node_id)
    key, label = (plan.key, plan.label) if plan is not None else ("wait", node_id)
    token, digest = new_token()
    when = suspension.resume_at.isoformat() if suspension.resume_at else "a resume call"
    if executor.bus:
        executor.bus.emit(
            LogLine(
                str(execution_id),
                node_id,
                key,
                label,
                level="info",
                message=f"the run waits until {when} (stored: any agent resumes it); resume "
                f"URL: {resume_url(resume_path(execution_id, token))}",
            )
        )
    if stream is not None:
        await asyncio.gather(
            _closed(sink.close), _closed(stream.close, nodes.remaining(), nodes.rewrite)
        )
    else:  # the agent's batch writer's sink, or the database sink: logs written first
        await _closed(sink.close)
    outputs = to_jsonable({**(executor.done_outputs or {}), node_id: suspension.outputs})
    stored = await asyncio.to_thread(
        suspend_row,
        db,
        execution_id,
        node_id=node_id,
        resume_at=suspension.resume_at,
        max_at=suspension.max_at,
        outputs=outputs,
        token_digest=digest,
        output_data=to_jsonable(recorder.outputs),
    )
    if not stored:
        logging.getLogger(__name__).warning(
            "execution %s stopped running before its wait was stored", execution_id
        )
    return RunResult(
        execution_id=execution_id,
        workflow_id=workflow_id,
        status="waiting" if stored else "cancelled",
        outputs=recorder.outputs,
        duration_ms=outcome.duration_ms,
        nodes_run=outcome.nodes_run,
        nodes_reused=outcome.nodes_reused,
        log_rows=getattr(sink, "rows_written", 0),
        log_errors=getattr(sink, "errors", 0),
        resume_token=token if stored else None,
    )
