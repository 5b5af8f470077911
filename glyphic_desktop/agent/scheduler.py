"""Fire due schedules: claim them, create their pending executions, move them on.

:func:`fire_due_schedules` is what the agent calls every few seconds. Each call works
in batches; each batch is ONE transaction that

1. claims up to ``batch`` active schedules whose ``next_run_at <= now``
   (``SELECT ... FOR UPDATE OF schedules SKIP LOCKED``), so another agent on the
   same database skips the rows this one holds and sees them moved on once it
   commits;
2. works out which due times to fire (:func:`due_times`, the misfire policy);
3. applies the overlap policy and inserts one ``pending`` execution per due time
   (``INSERT ... ON CONFLICT (schedule_id, scheduled_for) DO NOTHING``: the unique
   index ``idx_executions_schedule_due`` makes a due time fire at most once even if
   two agents ever got past step 1 with the same row);
4. sets ``next_run_at`` to the first fire time after ``now``, and, when something was
   created, ``last_run_at = now`` and ``run_count += created``.

Definitions (documented here because the agent, the CLI and the tests rely on them):

- the *due times* of a claimed schedule are its fire times ``t`` with
  ``next_run_at <= t <= now``;
- a due time is *missed* when it is more than :data:`MISFIRE_GRACE` (60 s) in the
  past (``t < now - 60 s``), otherwise it is *on time*;
- ``once``: one execution for all due times, ``scheduled_for`` = the latest due time;
- ``skip``: the on-time due times only; missed ones never fire;
- ``all``: the on-time due times plus the most recent ``max_catchup`` missed ones
  (NULL = no limit, capped at :data:`CATCHUP_CAP`; 0 behaves like ``skip``), oldest
  first;
- overlap ``skip``: nothing is created while an execution of this schedule is
  ``pending`` or ``running``; among the due times of one claim only the earliest
  fires (each later one would overlap it). ``allow`` and ``queue`` create them all
  (the queue runner does not start a ``queue`` schedule's execution while another of
  the same schedule runs);
- a schedule whose workflow is inactive (``workflows.is_active`` false) fires
  nothing: its due times are passed over (``next_run_at`` moves on), so enabling the
  workflow again does not set off a catch-up run;
- a stored schedule whose cron expression or timezone has become invalid is paused
  and logged, never retried forever.

``now`` defaults to the database server's clock, the one clock every agent sharing the
database agrees on.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from glyphic_desktop.agent.cron import latest_fire_times, next_fire_after
from glyphic_desktop.errors import UsageError
from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

MISFIRE_GRACE = timedelta(seconds=60)
CATCHUP_CAP = 1000

_CLAIM = text(
    "SELECT s.id, s.user_id, s.workflow_id, s.name, s.cron_expression, s.timezone, "
    "s.next_run_at, s.misfire_policy, s.max_catchup, s.overlap_policy, "
    "(w.is_active IS NOT FALSE) AS workflow_active "
    "FROM schedules s JOIN workflows w ON w.id = s.workflow_id "
    "WHERE s.is_active = true AND s.next_run_at <= :now "
    "ORDER BY s.next_run_at, s.id LIMIT :batch "
    "FOR UPDATE OF s SKIP LOCKED"
)

_BUSY = text(
    "SELECT EXISTS (SELECT 1 FROM executions WHERE schedule_id = :sid "
    "AND status IN ('pending', 'running'))"
)

_PAUSE = text("UPDATE schedules SET is_active = false, next_run_at = NULL WHERE id = :sid")


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    name: str
    cron_expression: str
    timezone: str
    next_run_at: datetime
    misfire_policy: str
    max_catchup: int | None
    overlap_policy: str
    workflow_active: bool


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def due_times(
    expression: str,
    timezone: str,
    next_run_at: datetime,
    now: datetime,
    misfire_policy: str,
    max_catchup: int | None = None,
) -> list[datetime]:
    """The due times to fire, oldest first, per the misfire policy (module docstring).

    Raises :class:`~glyphic_desktop.agent.cron.InvalidCronError` /
    :class:`~glyphic_desktop.agent.cron.UnknownTimezoneError` for a bad expression or
    timezone, :class:`ValueError` for an unknown policy.
    """
    start = _aware(next_run_at, "next_run_at")
    now = _aware(now, "now")
    cutoff = now - MISFIRE_GRACE
    if misfire_policy == "once":
        return latest_fire_times(expression, timezone, start, now, 1)
    on_time = latest_fire_times(expression, timezone, max(start, cutoff), now, CATCHUP_CAP)
    if misfire_policy == "skip":
        return on_time
    if misfire_policy == "all":
        limit = CATCHUP_CAP if max_catchup is None else min(max(max_catchup, 0), CATCHUP_CAP)
        before_cutoff = cutoff - timedelta(microseconds=1)
        missed = latest_fire_times(expression, timezone, start, before_cutoff, limit)
        return missed + on_time
    raise ValueError(f"unknown misfire policy {misfire_policy!r}")


def _claim(session: Session, now: datetime, batch: int) -> list[_Claimed]:
    rows = session.execute(_CLAIM, {"now": now, "batch": batch}).all()
    return [_claimed(row) for row in rows]


def _claimed(row: Row[Any]) -> _Claimed:
    return _Claimed(
        id=row.id,
        name=row.name,
        cron_expression=row.cron_expression,
        timezone=row.timezone or "UTC",
        next_run_at=row.next_run_at,
        misfire_policy=row.misfire_policy,
        max_catchup=row.max_catchup,
        overlap_policy=row.overlap_policy,
        workflow_active=bool(row.workflow_active),
    )


def _plan_one(
    session: Session, schedule: _Claimed, now: datetime, agent: str
) -> tuple[list[tuple[datetime, str]], datetime | None]:
    """The due times to fire for one claimed schedule (with their trigger data) and its next
    run; (``[]``, None) when it was paused for a bad expression or timezone."""
    try:
        times = due_times(
            schedule.cron_expression,
            schedule.timezone,
            schedule.next_run_at,
            now,
            schedule.misfire_policy,
            schedule.max_catchup,
        )
        next_run = next_fire_after(schedule.cron_expression, schedule.timezone, now)
    except UsageError as exc:
        log.error("schedule %r (%s) paused: %s", schedule.name, schedule.id, exc.message)
        session.execute(_PAUSE, {"sid": schedule.id})
        return [], None
    if not schedule.workflow_active:
        times = []
    elif schedule.overlap_policy == "skip" and times:
        if session.execute(_BUSY, {"sid": schedule.id}).scalar_one():
            log.info(
                "schedule %r (%s): previous run still going, skipping %d due time(s)",
                schedule.name,
                schedule.id,
                len(times),
            )
            times = []
        else:
            times = times[:1]
    planned = []
    for due in times:
        trigger = {
            "schedule_id": str(schedule.id),
            "schedule_name": schedule.name,
            "scheduled_for": due.isoformat(),
            "fired_by": agent,
        }
        planned.append((due, json.dumps(trigger)))
    return planned, next_run


# input_data is copied server-side from the (locked) schedule row. The batch's executions
# go in one pipelined statement per row, and the schedules moved on in
# one statement (psycopg placeholders: these go through the driver's executemany).
_INSERT_MANY = (
    "INSERT INTO executions (workflow_id, user_id, status, trigger_type, trigger_data, "
    "input_data, schedule_id, scheduled_for) "
    "SELECT s.workflow_id, s.user_id, 'pending', 'schedule', %s::jsonb, s.input_data, s.id, "
    "%s FROM schedules s WHERE s.id = %s "
    "ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id, schedule_id, scheduled_for"
)
_ADVANCE_MANY = text(
    "UPDATE schedules s SET next_run_at = v.next, "
    "last_run_at = CASE WHEN v.fired > 0 THEN CAST(:now AS timestamptz) ELSE s.last_run_at END, "
    "run_count = COALESCE(s.run_count, 0) + v.fired "
    "FROM (SELECT unnest(CAST(:ids AS uuid[])) AS id, "
    "unnest(CAST(:nexts AS timestamptz[])) AS next, unnest(CAST(:fired AS int[])) AS fired) v "
    "WHERE s.id = v.id"
)


def _fire_batch(
    session: Session, claimed: list[_Claimed], now: datetime, agent: str
) -> list[uuid.UUID]:
    """Fire the claimed schedules (in the caller's transaction); the executions created."""
    plans: list[tuple[_Claimed, list[tuple[datetime, str]], datetime]] = []
    for schedule in claimed:
        planned, next_run = _plan_one(session, schedule, now, agent)
        if next_run is not None:
            plans.append((schedule, planned, next_run))
    rows = [
        (trigger, due, schedule.id) for schedule, planned, _ in plans for due, trigger in planned
    ]
    fired: dict[uuid.UUID, int] = {}
    created: list[uuid.UUID] = []
    if rows:
        names = {schedule.id: schedule.name for schedule, _planned, _next in plans}
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor:
            cursor.executemany(_INSERT_MANY, rows, returning=True)
            while True:
                for execution_id, schedule_id, due in cursor.fetchall():
                    created.append(execution_id)
                    fired[schedule_id] = fired.get(schedule_id, 0) + 1
                    log.info(
                        "schedule %r (%s) fired for %s: execution %s",
                        names.get(schedule_id),
                        schedule_id,
                        due.isoformat(),
                        execution_id,
                    )
                if not cursor.nextset():
                    break
    if plans:
        session.execute(
            _ADVANCE_MANY,
            {
                "ids": [str(schedule.id) for schedule, _planned, _next in plans],
                "nexts": [next_run for _schedule, _planned, next_run in plans],
                "fired": [fired.get(schedule.id, 0) for schedule, _planned, _next in plans],
                "now": now,
            },
        )
    return created


def fire_due_schedules(
    db: Database, *, agent: str, now: datetime | None = None, batch: int = 100
) -> list[uuid.UUID]:
    """Fire every due schedule (module docstring); the ids of the pending executions created.

    Safe to call from several threads, processes and machines at once: each due time
    fires exactly once. ``now`` (aware) defaults to the database server's clock, read
    at the start of each batch. A batch's executions are inserted with one pipelined
    round trip and its schedules moved on with one statement.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    fixed_now = None if now is None else _aware(now, "now")
    created: list[uuid.UUID] = []
    while True:
        with db.session() as session:
            current = fixed_now
            if current is None:
                current = session.execute(text("SELECT clock_timestamp()")).scalar_one()
            claimed = _claim(session, current, batch)
            if claimed:
                created.extend(_fire_batch(session, claimed, current, agent))
        if len(claimed) < batch:
            return created


def seconds_until_next_due(db: Database) -> float | None:
    """Seconds from the database clock to the earliest active schedule's next run (0 when
    one is due now; None when nothing is scheduled). The agent sleeps that long."""
    with db.session() as session:
        value = session.execute(
            text(
                "SELECT extract(epoch FROM min(next_run_at) - clock_timestamp()) "
                "FROM schedules WHERE is_active = true"
            )
        ).scalar_one()
    return None if value is None else max(0.0, float(value))
