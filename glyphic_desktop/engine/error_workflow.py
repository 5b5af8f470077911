"""Error workflows: when a run fails, queue the workflow its ``config.errorWorkflow`` names.

The error workflow (a name or id of the same user's workflows) is queued as a
``pending`` execution with ``trigger_type 'error'`` for an agent to run, whoever ran the
failed one (``glyphic run``, the editor, an agent). Its ``trigger_data`` is
``{"error": {...}, "chain": [workflow ids]}``; the Error trigger node outputs ``error``:
``execution`` (id), ``workflow`` (id, name), ``node`` (id, label), ``message``, ``time``.

Loops are stopped: ``chain`` holds the ids of the workflows started as error workflows
in this chain of failures; one already in it is not started again (the failed run's log
says why). So a workflow that is its own error workflow runs once more as its error
handler, and A -> B -> A runs B, then A, then stops.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)


def _resolve(session: Any, user_id: uuid.UUID, ref: str) -> Any:
    try:
        key = uuid.UUID(ref)
    except ValueError:
        key = None
    if key is not None:
        row = session.execute(
            text("SELECT id, name FROM workflows WHERE id = :id AND user_id = :u"),
            {"id": key, "u": user_id},
        ).first()
        if row is not None:
            return row
    return session.execute(
        text(
            "SELECT id, name FROM workflows WHERE user_id = :u AND lower(name) = lower(:n) "
            "ORDER BY (name = :n) DESC, updated_at DESC LIMIT 1"
        ),
        {"u": user_id, "n": ref},
    ).first()


def _note(session: Any, execution_id: uuid.UUID, level: str, message: str) -> None:
    session.execute(
        text("INSERT INTO execution_logs (execution_id, level, message) VALUES (:id, :lvl, :msg)"),
        {"id": execution_id, "lvl": level, "msg": message},
    )


def queue_error_workflow(
    db: Database,
    user_id: uuid.UUID,
    document: WorkflowDocument,
    *,
    workflow_id: uuid.UUID,
    workflow_name: str,
    execution_id: uuid.UUID,
    trigger: str,
    trigger_data: Any,
    error: str | None,
    error_node: str | None,
) -> uuid.UUID | None:
    """Queue the error workflow of a failed run; its execution id, or None (not started:
    none named, not found, or already in the chain — logged on the failed run)."""
    ref = str(document.config.get("errorWorkflow") or "").strip()
    if not ref:
        return None
    chain: list[str] = []  # the workflows already started as error workflows
    if trigger == "error" and isinstance(trigger_data, Mapping):
        chain = [str(each) for each in trigger_data.get("chain") or () if each]
    label = None
    if error_node:
        node = next((n for n in document.nodes if n.id == error_node), None)
        label = getattr(node, "label", None) or getattr(node, "title", None) if node else None
    try:
        with db.session() as session:
            target = _resolve(session, user_id, ref)
            if target is None:
                message = f"error workflow {ref!r} not started: no such workflow"
                _note(session, execution_id, "warn", message)
                log.warning("execution %s: %s", execution_id, message)
                return None
            if str(target.id) in chain:
                message = (
                    f"error workflow {target.name!r} not started: it is already in this "
                    f"chain of failures ({len(chain)} workflow(s)), which would loop"
                )
                _note(session, execution_id, "warn", message)
                log.warning("execution %s: %s", execution_id, message)
                return None
            failure = {
                "execution": {"id": str(execution_id)},
                "workflow": {"id": str(workflow_id), "name": workflow_name},
                "node": {"id": error_node, "label": label},
                "message": error,
                "time": datetime.now(UTC).isoformat(),
            }
            data = {"error": failure, "chain": [*chain, str(target.id)]}
            row = session.execute(
                text(
                    "INSERT INTO executions (workflow_id, user_id, status, trigger_type, "
                    "trigger_data, input_data) VALUES (:w, :u, 'pending', 'error', "
                    "CAST(:d AS jsonb), CAST(:i AS jsonb)) RETURNING id"
                ),
                {"w": target.id, "u": user_id, "d": json.dumps(data), "i": json.dumps(failure)},
            ).one()
            _note(
                session,
                execution_id,
                "info",
                f"error workflow {target.name!r} queued (execution {row.id})",
            )
            return row.id
    except Exception as exc:  # the failed run stays failed; its error workflow is lost
        log.error("execution %s: could not queue its error workflow: %s", execution_id, exc)
        return None
