"""Retention: delete old runs in small batches so the editor and agent are never locked out."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select

from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import Execution

# Runs still going (or waiting) are never pruned; the agent's heartbeat takeover
# finishes stale ones, and the next prune removes them.
FINISHED_STATUSES = ("completed", "failed", "cancelled")
DEFAULT_BATCH_SIZE = 1000


def prune_executions(
    db: Database,
    before: datetime,
    *,
    user_id: uuid.UUID | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Delete finished executions created before ``before`` (their logs cascade).

    Each batch of at most ``batch_size`` rows is its own short transaction and skips
    rows another transaction holds, so pruning never blocks the editor or the agent.
    ``user_id`` limits the prune to one user's runs. Returns how many were deleted.
    Files recorded for a deleted run keep their row (``execution_id`` becomes NULL).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batch = (
        select(Execution.id)
        .where(Execution.created_at < before, Execution.status.in_(FINISHED_STATUSES))
        .order_by(Execution.created_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    if user_id is not None:
        batch = batch.where(Execution.user_id == user_id)
    statement = delete(Execution).where(Execution.id.in_(batch.scalar_subquery()))
    total = 0
    while True:
        with db.session() as session:
            deleted = session.execute(statement).rowcount or 0
        total += deleted
        if deleted < batch_size:
            return total
