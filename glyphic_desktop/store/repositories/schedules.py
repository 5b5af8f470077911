"""Schedules of one user's workflows: create, list, pause, resume, remove, next runs.

A schedule fires its workflow at the times of a cron expression read in an IANA
timezone (``glyphic_desktop.agent.cron`` has the maths and the DST rules). Creating or
resuming one stores ``next_run_at``, the first fire time after now; the agent
(``glyphic_desktop.agent.scheduler``) fires due schedules and moves it on. A paused
schedule (``is_active`` false) has no ``next_run_at``.

Policies (DESIGN.md §7, columns added in 0002_product_additions.sql):

- ``misfire_policy`` after downtime: ``once`` (one run for everything missed), ``skip``
  (none of the missed times), ``all`` (each missed time, at most ``max_catchup``; only
  meaningful with ``all``, NULL = the agent's safety cap of 1000);
- ``overlap_policy`` while a run of the schedule is pending or running: ``allow``
  another, ``skip`` this one, ``queue`` it behind the running one.

``retry_lost_runs`` (0007): how many times a run of the schedule lost to a process that
died or stopped is queued again (0 to 10, default 1; ``agent/queue.py`` applies it).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from glyphic_desktop.agent.cron import (
    iter_fire_times,
    load_timezone,
    next_fire_after,
    validate_cron,
)
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import NotFoundError, UsageError
from glyphic_desktop.store.models import MISFIRE_POLICIES, OVERLAP_POLICIES
from glyphic_desktop.store.policies import DEFAULT_RETRY_LOST_RUNS, check_retry_lost_runs
from glyphic_desktop.store.repositories.ids import parse_id

log = logging.getLogger(__name__)

MAX_CATCHUP_LIMIT = 1000
MAX_NEXT_RUNS = 1000


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule with its workflow's name and state."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    workflow_active: bool
    name: str
    cron_expression: str
    timezone: str
    input_data: Any
    is_active: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    run_count: int
    misfire_policy: str
    max_catchup: int | None
    overlap_policy: str
    created_at: datetime | None
    updated_at: datetime | None
    node_id: str | None = None  # the Schedule trigger node it stands for (None: by hand)
    retry_lost_runs: int = DEFAULT_RETRY_LOST_RUNS  # retries of a run lost to a dead process

    def describe(self) -> str:
        """``schedule 'NAME' of workflow 'W'``, for messages."""
        return f"schedule {self.name!r} of workflow {self.workflow_name!r}"


_COLUMNS = (
    "s.id, s.workflow_id, w.name AS workflow_name, w.is_active AS workflow_active, s.name, "
    "s.cron_expression, s.timezone, s.input_data, s.is_active, s.next_run_at, s.last_run_at, "
    "s.run_count, s.misfire_policy, s.max_catchup, s.overlap_policy, s.created_at, s.updated_at, "
    "s.node_id, s.retry_lost_runs"
)
_FROM = "FROM schedules s JOIN workflows w ON w.id = s.workflow_id"


def _record(row: Row[Any]) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_name=row.workflow_name,
        workflow_active=row.workflow_active is not False,
        name=row.name,
        cron_expression=row.cron_expression,
        timezone=row.timezone or "UTC",
        input_data=row.input_data,
        is_active=bool(row.is_active),
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        run_count=int(row.run_count or 0),
        misfire_policy=row.misfire_policy,
        max_catchup=row.max_catchup,
        overlap_policy=row.overlap_policy,
        created_at=row.created_at,
        updated_at=row.updated_at,
        node_id=row.node_id,
        retry_lost_runs=int(row.retry_lost_runs),
    )


def validate_policies(misfire_policy: str, max_catchup: int | None, overlap_policy: str) -> None:
    """Check the misfire / catch-up / overlap settings; :class:`UsageError` naming the bad one."""
    if misfire_policy not in MISFIRE_POLICIES:
        raise UsageError(
            f"misfire policy must be one of {', '.join(MISFIRE_POLICIES)}, not {misfire_policy!r}"
        )
    if overlap_policy not in OVERLAP_POLICIES:
        raise UsageError(
            f"overlap policy must be one of {', '.join(OVERLAP_POLICIES)}, not {overlap_policy!r}"
        )
    if max_catchup is not None:
        if isinstance(max_catchup, bool) or not isinstance(max_catchup, int):
            raise UsageError(f"max catch-up must be a whole number, not {max_catchup!r}")
        if not 0 <= max_catchup <= MAX_CATCHUP_LIMIT:
            raise UsageError(
                f"max catch-up must be between 0 and {MAX_CATCHUP_LIMIT}, not {max_catchup}"
            )
        if misfire_policy != "all":
            raise UsageError(
                f"max catch-up only applies with misfire policy 'all' (not {misfire_policy!r})"
            )


def _clean_input(input_data: Any) -> str | None:
    """The input data as JSON text (None for no input); it must be a JSON object."""
    if input_data is None:
        return None
    if not isinstance(input_data, dict):
        raise UsageError(
            f"schedule input data must be a JSON object, not {type(input_data).__name__}"
        )
    try:
        return json.dumps(input_data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"schedule input data cannot be stored as JSON: {exc}") from None


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


class ScheduleRepository:
    """Schedules of one user's workflows, in the caller's session (transaction)."""

    def __init__(self, session: Session, user_id: uuid.UUID | str) -> None:
        self.session = session
        self.user_id = parse_id(user_id, "user")

    # -- read ----------------------------------------------------------------------

    def get(self, schedule_id: uuid.UUID | str) -> ScheduleRecord:
        """The user's schedule with this id; :class:`NotFoundError` when there is none."""
        row = self.session.execute(
            text(f"SELECT {_COLUMNS} {_FROM} WHERE s.id = :id AND s.user_id = :uid"),
            {"id": parse_id(schedule_id, "schedule"), "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no schedule with id {schedule_id}")
        return _record(row)

    def resolve(self, name_or_id: uuid.UUID | str) -> ScheduleRecord:
        """The schedule with this id, or the one schedule with this name.

        :class:`NotFoundError` when neither exists; :class:`UsageError` when several
        schedules share the name.
        """
        if isinstance(name_or_id, uuid.UUID):
            return self.get(name_or_id)
        try:
            return self.get(uuid.UUID(str(name_or_id).strip()))
        except (ValueError, NotFoundError):
            pass
        rows = self.session.execute(
            text(
                f"SELECT {_COLUMNS} {_FROM} WHERE s.name = :name AND s.user_id = :uid "
                "ORDER BY s.created_at LIMIT 2"
            ),
            {"name": str(name_or_id), "uid": self.user_id},
        ).all()
        if not rows:
            raise NotFoundError(
                f"no schedule with id or name {str(name_or_id)!r} ('glyphic schedule list' "
                "shows them)"
            )
        if len(rows) > 1:
            raise UsageError(
                f"several schedules are named {str(name_or_id)!r}; use the schedule id instead"
            )
        return _record(rows[0])

    def list(self, *, workflow_id: uuid.UUID | str | None = None) -> list[ScheduleRecord]:
        """The user's schedules (optionally of one workflow): soonest next run first,
        paused ones last, then by name."""
        where = "s.user_id = :uid"
        params: dict[str, Any] = {"uid": self.user_id}
        if workflow_id is not None:
            where += " AND s.workflow_id = :wid"
            params["wid"] = parse_id(workflow_id, "workflow")
        rows = self.session.execute(
            text(
                f"SELECT {_COLUMNS} {_FROM} WHERE {where} "
                "ORDER BY s.next_run_at ASC NULLS LAST, s.name, s.created_at"
            ),
            params,
        )
        return [_record(row) for row in rows]

    # -- create --------------------------------------------------------------------

    def create(
        self,
        workflow_id: uuid.UUID | str,
        name: str | None,
        cron_expression: str,
        *,
        timezone: str | None = "UTC",
        input_data: dict[str, Any] | None = None,
        misfire_policy: str = "once",
        max_catchup: int | None = None,
        overlap_policy: str = "skip",
        retry_lost_runs: int = DEFAULT_RETRY_LOST_RUNS,
        now: datetime | None = None,
    ) -> ScheduleRecord:
        """Store a new active schedule of one of the user's workflows.

        ``name`` defaults to the workflow's name; ``retry_lost_runs`` is how many times a
        run lost to a dead process is queued again (0 to 10). Every setting is checked first
        (:class:`UsageError` naming the bad one; :class:`NotFoundError` for a workflow
        the user does not own); ``next_run_at`` is the first fire time after ``now``.
        """
        workflow_id = parse_id(workflow_id, "workflow")
        workflow = self.session.execute(
            text("SELECT name FROM workflows WHERE id = :id AND user_id = :uid"),
            {"id": workflow_id, "uid": self.user_id},
        ).one_or_none()
        if workflow is None:
            raise NotFoundError(f"no workflow with id {workflow_id}")
        cleaned_name = workflow.name if name is None else str(name).strip()
        if not cleaned_name:
            raise UsageError("a schedule name must not be empty")
        cron = validate_cron(cron_expression)
        timezone = "UTC" if timezone is None else str(timezone).strip()
        load_timezone(timezone)
        validate_policies(misfire_policy, max_catchup, overlap_policy)
        retries = check_retry_lost_runs(retry_lost_runs)
        data = _clean_input(input_data)
        next_run = next_fire_after(cron, timezone, _now(now))
        new_id = self.session.execute(
            text(
                "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, timezone, "
                "input_data, is_active, next_run_at, run_count, misfire_policy, max_catchup, "
                "overlap_policy, retry_lost_runs) VALUES (:wid, :uid, :name, :cron, :tz, "
                "CAST(:data AS jsonb), true, :next, 0, :misfire, :catchup, :overlap, :retries) "
                "RETURNING id"
            ),
            {
                "wid": workflow_id,
                "uid": self.user_id,
                "name": cleaned_name,
                "cron": cron,
                "tz": timezone,
                "data": data,
                "next": next_run,
                "misfire": misfire_policy,
                "catchup": max_catchup,
                "overlap": overlap_policy,
                "retries": retries,
            },
        ).scalar_one()
        return self.get(new_id)

    # -- change --------------------------------------------------------------------

    def _set(self, schedule_id: uuid.UUID, assignments: str, params: dict[str, Any]) -> None:
        self.session.execute(
            text(f"UPDATE schedules SET {assignments} WHERE id = :id AND user_id = :uid"),
            {"id": schedule_id, "uid": self.user_id, **params},
        )

    def pause(self, schedule_id: uuid.UUID | str) -> ScheduleRecord:
        """Stop a schedule firing (``is_active`` false, no next run); pausing twice is fine."""
        record = self.get(schedule_id)
        if record.is_active or record.next_run_at is not None:
            self._set(record.id, "is_active = false, next_run_at = NULL", {})
        return self.get(record.id)

    def resume(
        self, schedule_id: uuid.UUID | str, *, now: datetime | None = None
    ) -> ScheduleRecord:
        """Fire a paused schedule again from ``now`` on: ``next_run_at`` is recomputed, so
        the times that passed while it was paused never fire. An active schedule is
        left as it is."""
        record = self.get(schedule_id)
        if record.is_active and record.next_run_at is not None:
            return record
        next_run = next_fire_after(record.cron_expression, record.timezone, _now(now))
        self._set(record.id, "is_active = true, next_run_at = :next", {"next": next_run})
        return self.get(record.id)

    def set_retry_lost_runs(self, schedule_id: uuid.UUID | str, count: int) -> ScheduleRecord:
        """Set how many times a run of the schedule lost to a dead process is queued again
        (0 to 10; :class:`UsageError` otherwise, nothing changed). Schedules of Schedule
        trigger nodes take it too: saving the workflow keeps it."""
        retries = check_retry_lost_runs(count)
        record = self.get(schedule_id)
        if record.retry_lost_runs != retries:
            self._set(record.id, "retry_lost_runs = :retries", {"retries": retries})
        return self.get(record.id)

    def remove(self, schedule_id: uuid.UUID | str) -> ScheduleRecord:
        """Delete a schedule; its past executions stay (their ``schedule_id`` becomes NULL).

        A schedule that stands for a Schedule trigger node is refused (:class:`UsageError`):
        the next save would bring it back; the node is what to remove or disable.
        """
        record = self.get(schedule_id)
        if record.node_id is not None:
            raise UsageError(
                f"{record.describe()} comes from its Schedule node; remove or disable the "
                "node in the editor (or pause the schedule)"
            )
        self.session.execute(
            text("DELETE FROM schedules WHERE id = :id AND user_id = :uid"),
            {"id": record.id, "uid": self.user_id},
        )
        return record

    # -- next runs -----------------------------------------------------------------

    def next_runs(
        self,
        schedule: ScheduleRecord | uuid.UUID | str,
        count: int = 5,
        *,
        now: datetime | None = None,
    ) -> list[datetime]:
        """The next ``count`` fire times after ``now`` (UTC), also for a paused schedule
        (when it would fire if resumed now)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_NEXT_RUNS:
            raise UsageError(f"the number of next runs must be between 1 and {MAX_NEXT_RUNS}")
        record = schedule if isinstance(schedule, ScheduleRecord) else self.get(schedule)
        times: list[datetime] = []
        for instant in iter_fire_times(record.cron_expression, record.timezone, _now(now)):
            times.append(instant)
            if len(times) >= count:
                break
        return times


# -- schedules from Schedule trigger nodes ----------------------------------------------

SCHEDULE_NODE_TYPE = "schedule"


def schedule_trigger_nodes(document: WorkflowDocument) -> dict[str, tuple[str, str, str]]:
    """The enabled Schedule trigger nodes of ``document``: ``{node id: (name, cron,
    timezone)}``. A node whose cron or timezone is not valid is left out (and logged):
    it cannot fire, and the editor's inspector already names the bad field."""
    from glyphic_desktop.nodes.builtin.triggers import ScheduleFields

    found: dict[str, tuple[str, str, str]] = {}
    for node in document.nodes:
        data = node.data
        if (data.nodeType or node.type) != SCHEDULE_NODE_TYPE or data.disabled:
            continue
        try:
            fields = ScheduleFields.model_validate(data.fields)
        except ValidationError as exc:
            log.warning("%s is not scheduled: %s", node.describe(), exc.errors()[0]["msg"])
            continue
        found[node.id] = (data.label or "Schedule", fields.cron, fields.timezone)
    return found


def sync_schedule_triggers(
    session: Session,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    wanted: dict[str, tuple[str, str, str]],
    *,
    now: datetime | None = None,
    arm_new: bool = True,
) -> None:
    """Make the workflow's node schedules match ``wanted``, its Schedule trigger nodes as
    :func:`schedule_trigger_nodes` reads them from the stored document (0004).

    With ``arm_new=False`` a schedule made for a new node is created paused (a workflow
    that came from a file: an import never arms a schedule by itself).

    Called in the transaction that stores a new version: a new node gets a schedule
    (next run: the first fire time after now), a node whose cron or timezone changed
    gets them and a new next run (a paused one stays paused), a renamed node renames
    its schedule, and the schedule of a removed or disabled node goes. Run counters and
    the next run of an unchanged node are kept; schedules added by hand are not touched.
    """
    rows = session.execute(
        text(
            "SELECT id, node_id, name, cron_expression, timezone, is_active FROM schedules "
            "WHERE workflow_id = :wid AND node_id IS NOT NULL"
        ),
        {"wid": workflow_id},
    ).all()
    if not wanted and not rows:
        return
    existing = {row.node_id: row for row in rows}
    gone = [row.id for node_id, row in existing.items() if node_id not in wanted]
    if gone:
        session.execute(text("DELETE FROM schedules WHERE id = ANY(:ids)"), {"ids": gone})
    moment = _now(now)
    for node_id, (name, cron, timezone) in wanted.items():
        row = existing.get(node_id)
        if row is None:
            session.execute(
                text(
                    "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, "
                    "timezone, is_active, next_run_at, run_count, node_id) VALUES (:wid, "
                    ":uid, :name, :cron, :tz, :active, :next, 0, :node)"
                ),
                {
                    "wid": workflow_id,
                    "uid": user_id,
                    "name": name,
                    "cron": cron,
                    "tz": timezone,
                    "active": arm_new,
                    "next": next_fire_after(cron, timezone, moment) if arm_new else None,
                    "node": node_id,
                },
            )
        elif (row.cron_expression, row.timezone) != (cron, timezone):
            session.execute(
                text(
                    "UPDATE schedules SET name = :name, cron_expression = :cron, "
                    "timezone = :tz, next_run_at = CASE WHEN is_active THEN :next END "
                    "WHERE id = :id"
                ),
                {
                    "id": row.id,
                    "name": name,
                    "cron": cron,
                    "tz": timezone,
                    "next": next_fire_after(cron, timezone, moment),
                },
            )
        elif row.name != name:
            session.execute(
                text("UPDATE schedules SET name = :name WHERE id = :id"),
                {"id": row.id, "name": name},
            )
