"""fire_due_schedules against a real database: policies, gating, DST, and several agents at once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.cron import fire_times_between
from glyphic_desktop.agent.scheduler import due_times, fire_due_schedules
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.schedules import ScheduleRecord, ScheduleRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)  # schedules are created at this time
BERLIN = "Europe/Berlin"


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 5, day, hour, minute, second, tzinfo=UTC)


def _doc() -> WorkflowDocument:
    return WorkflowDocument.model_validate(
        {"nodes": [{"id": "1", "type": "manual_trigger", "data": {"label": "Start"}}]}
    )


@pytest.fixture
def workflow(db: Database, user_id: uuid.UUID) -> uuid.UUID:
    with db.session() as session:
        return WorkflowRepository(session, user_id).create("Report", _doc()).id


def make(
    db: Database,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    cron: str = "0 * * * *",
    *,
    now: datetime = T0,
    name: str = "hourly",
    **kwargs,
) -> ScheduleRecord:
    with db.session() as session:
        return ScheduleRepository(session, user_id).create(
            workflow_id, name, cron, now=now, **kwargs
        )


def schedule(db: Database, user_id: uuid.UUID, schedule_id: uuid.UUID) -> ScheduleRecord:
    with db.session() as session:
        return ScheduleRepository(session, user_id).get(schedule_id)


def executions(db: Database, schedule_id: uuid.UUID | None = None) -> list:
    with db.session() as session:
        query = (
            "SELECT id, workflow_id, user_id, status, trigger_type, trigger_data, input_data, "
            "schedule_id, scheduled_for, claimed_by FROM executions"
        )
        params = {}
        if schedule_id is not None:
            query += " WHERE schedule_id = :sid"
            params["sid"] = schedule_id
        return session.execute(text(query + " ORDER BY scheduled_for, id"), params).all()


def fired_for(db: Database, schedule_id: uuid.UUID) -> list[datetime]:
    return [row.scheduled_for for row in executions(db, schedule_id)]


def set_status(db: Database, schedule_id: uuid.UUID, status: str) -> None:
    with db.session() as session:
        session.execute(
            text("UPDATE executions SET status = :st WHERE schedule_id = :sid"),
            {"st": status, "sid": schedule_id},
        )


# -- due_times (no database) ---------------------------------------------------------------


def test_due_times_per_policy() -> None:
    start, now = at(11), at(15, 30)  # 11:00 .. 15:00 are due; all missed
    assert due_times("0 * * * *", "UTC", start, now, "once") == [at(15)]
    assert due_times("0 * * * *", "UTC", start, now, "skip") == []
    assert due_times("0 * * * *", "UTC", start, now, "all") == [at(h) for h in range(11, 16)]
    assert due_times("0 * * * *", "UTC", start, now, "all", 2) == [at(14), at(15)]
    # 60 s after 15:00 it is still on time (missed means MORE than 60 s in the past)
    on_time = at(15, 1, 0)
    assert due_times("0 * * * *", "UTC", start, on_time, "skip") == [at(15)]
    assert due_times("0 * * * *", "UTC", start, on_time, "all", 2) == [at(13), at(14), at(15)]
    assert due_times("0 * * * *", "UTC", start, on_time, "all", 0) == [at(15)]
    assert due_times("0 * * * *", "UTC", start, at(15, 1, 1), "skip") == []
    # nothing due yet
    assert due_times("0 * * * *", "UTC", start, at(10, 59), "once") == []
    with pytest.raises(ValueError, match="unknown misfire policy"):
        due_times("0 * * * *", "UTC", start, now, "sometimes")


def test_due_times_all_is_capped_at_1000() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(days=30)
    times = due_times("* * * * *", "UTC", start, now, "all")
    # the 1000 latest missed ones, then the two on time (now - 60 s and now)
    assert len(times) == 1002
    assert times[0] == now - timedelta(minutes=1001)
    assert times[-3:] == [now - timedelta(minutes=2), now - timedelta(minutes=1), now]


# -- firing ----------------------------------------------------------------------------------


def test_an_on_time_fire_creates_one_pending_execution(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow, input_data={"region": "eu"})
    assert record.next_run_at == at(11)
    assert fire_due_schedules(db, agent="a1", now=at(10, 59, 59)) == []
    now = at(11, 0, 5)
    created = fire_due_schedules(db, agent="a1", now=now)
    assert len(created) == 1
    (row,) = executions(db)
    assert row.id == created[0]
    assert (row.status, row.trigger_type, row.claimed_by) == ("pending", "schedule", None)
    assert (row.workflow_id, row.user_id, row.schedule_id) == (workflow, user_id, record.id)
    assert row.scheduled_for == at(11)
    assert row.input_data == {"region": "eu"}
    assert row.trigger_data == {
        "schedule_id": str(record.id),
        "schedule_name": "hourly",
        "scheduled_for": "2026-05-01T11:00:00+00:00",
        "fired_by": "a1",
    }
    after = schedule(db, user_id, record.id)
    assert after.next_run_at == at(12)
    assert after.last_run_at == now
    assert after.run_count == 1
    assert after.updated_at == record.updated_at  # firing is not an edit
    # the same moment again: nothing more
    assert fire_due_schedules(db, agent="a2", now=now) == []
    assert len(executions(db)) == 1


def test_misfire_once_runs_once_for_all_that_was_missed(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow, misfire_policy="once", overlap_policy="allow")
    created = fire_due_schedules(db, agent="a", now=at(15, 30))  # down 11:00 .. 15:00
    assert len(created) == 1
    assert fired_for(db, record.id) == [at(15)]
    after = schedule(db, user_id, record.id)
    assert (after.next_run_at, after.run_count) == (at(16), 1)
    # then it resumes normally
    assert len(fire_due_schedules(db, agent="a", now=at(16, 0, 2))) == 1
    assert fired_for(db, record.id) == [at(15), at(16)]


def test_misfire_skip_drops_missed_times_but_fires_an_on_time_one(db, user_id, workflow) -> None:
    late = make(db, user_id, workflow, misfire_policy="skip", name="late")
    assert fire_due_schedules(db, agent="a", now=at(15, 30)) == []
    after = schedule(db, user_id, late.id)
    assert (after.next_run_at, after.run_count, after.last_run_at) == (at(16), 0, None)
    # just within the minute after 16:00: fires; the earlier misses never do
    assert len(fire_due_schedules(db, agent="a", now=at(16, 1, 0))) == 1
    assert fired_for(db, late.id) == [at(16)]


def test_misfire_all_catches_up_bounded(db, user_id, workflow) -> None:
    unbounded = make(db, user_id, workflow, misfire_policy="all", overlap_policy="allow", name="u")
    bounded = make(
        db, user_id, workflow, misfire_policy="all", max_catchup=2, overlap_policy="allow", name="b"
    )
    none = make(
        db, user_id, workflow, misfire_policy="all", max_catchup=0, overlap_policy="allow", name="n"
    )
    created = fire_due_schedules(db, agent="a", now=at(15, 0, 30))  # 15:00 is on time
    assert fired_for(db, unbounded.id) == [at(h) for h in range(11, 16)]
    assert fired_for(db, bounded.id) == [at(13), at(14), at(15)]  # the 2 latest missed + on time
    assert fired_for(db, none.id) == [at(15)]
    assert len(created) == 5 + 3 + 1
    assert [schedule(db, user_id, s.id).run_count for s in (unbounded, bounded, none)] == [5, 3, 1]


def test_overlap_skip_creates_nothing_while_a_run_is_pending_or_running(
    db, user_id, workflow
) -> None:
    record = make(db, user_id, workflow, overlap_policy="skip")
    assert len(fire_due_schedules(db, agent="a", now=at(11, 0, 1))) == 1
    assert fire_due_schedules(db, agent="a", now=at(12, 0, 1)) == []  # 11:00 still pending
    set_status(db, record.id, "running")
    assert fire_due_schedules(db, agent="a", now=at(13, 0, 1)) == []
    after = schedule(db, user_id, record.id)
    assert (after.next_run_at, after.run_count) == (at(14), 1)  # skipped times are not retried
    set_status(db, record.id, "completed")
    assert len(fire_due_schedules(db, agent="a", now=at(14, 0, 1))) == 1
    assert fired_for(db, record.id) == [at(11), at(14)]


def test_overlap_skip_with_catch_up_fires_only_the_earliest(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow, misfire_policy="all", overlap_policy="skip")
    assert len(fire_due_schedules(db, agent="a", now=at(15, 30))) == 1
    assert fired_for(db, record.id) == [at(11)]


@pytest.mark.parametrize("policy", ["allow", "queue"])
def test_overlap_allow_and_queue_create_while_one_runs(db, user_id, workflow, policy) -> None:
    record = make(db, user_id, workflow, overlap_policy=policy)
    fire_due_schedules(db, agent="a", now=at(11, 0, 1))
    set_status(db, record.id, "running")
    assert len(fire_due_schedules(db, agent="a", now=at(12, 0, 1))) == 1
    assert [row.status for row in executions(db, record.id)] == ["running", "pending"]


def test_inactive_workflow_does_not_fire_nor_catch_up_later(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow, misfire_policy="all")
    with db.session() as session:
        WorkflowRepository(session, user_id).set_active(workflow, False)
    assert fire_due_schedules(db, agent="a", now=at(13, 30)) == []
    after = schedule(db, user_id, record.id)
    assert (after.next_run_at, after.run_count, after.is_active) == (at(14), 0, True)
    with db.session() as session:
        WorkflowRepository(session, user_id).set_active(workflow, True)
    assert len(fire_due_schedules(db, agent="a", now=at(14, 0, 3))) == 1
    assert fired_for(db, record.id) == [at(14)]  # no catch-up of 11:00 .. 13:00


def test_paused_schedule_does_not_fire(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow)
    with db.session() as session:
        ScheduleRepository(session, user_id).pause(record.id)
    # even with a due next_run_at left behind
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET next_run_at = :t WHERE id = :id"),
            {"t": at(11), "id": record.id},
        )
    assert fire_due_schedules(db, agent="a", now=at(15)) == []
    assert executions(db) == []
    with db.session() as session:
        resumed = ScheduleRepository(session, user_id).resume(record.id, now=at(15, 10))
    assert resumed.next_run_at == at(16)
    assert fire_due_schedules(db, agent="a", now=at(15, 30)) == []
    assert len(fire_due_schedules(db, agent="a", now=at(16))) == 1


def test_a_schedule_with_a_bad_stored_cron_is_paused_and_the_rest_fire(
    db, user_id, workflow, caplog
) -> None:
    broken = make(db, user_id, workflow, name="broken")
    good = make(db, user_id, workflow, name="good")
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET timezone = 'Mars/Base' WHERE id = :id"), {"id": broken.id}
        )
    with caplog.at_level(logging.ERROR, logger="glyphic_desktop.agent.scheduler"):
        created = fire_due_schedules(db, agent="a", now=at(11, 0, 1))
    assert len(created) == 1 and fired_for(db, good.id) == [at(11)]
    after = schedule(db, user_id, broken.id)
    assert (after.is_active, after.next_run_at) == (False, None)
    assert "schedule 'broken'" in caplog.text and "unknown timezone 'Mars/Base'" in caplog.text


def test_batches_loop_until_every_due_schedule_fired(db, user_id, workflow) -> None:
    ids = [make(db, user_id, workflow, name=f"s{i}").id for i in range(7)]
    created = fire_due_schedules(db, agent="a", now=at(11, 0, 1), batch=2)
    assert len(created) == 7
    assert all(fired_for(db, sid) == [at(11)] for sid in ids)
    with pytest.raises(ValueError, match="batch"):
        fire_due_schedules(db, agent="a", batch=0)


def test_now_defaults_to_the_database_clock(db, user_id, workflow) -> None:
    record = make(db, user_id, workflow, "* * * * *", misfire_policy="all", now=datetime.now(UTC))
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET next_run_at = now() + interval '1 hour' WHERE id = :id"),
            {"id": record.id},
        )
    assert fire_due_schedules(db, agent="a") == []
    with db.session() as session:
        due = session.execute(
            text(
                "UPDATE schedules SET next_run_at = date_trunc('minute', now()) "
                "WHERE id = :id RETURNING next_run_at"
            ),
            {"id": record.id},
        ).scalar_one()
    assert _next_due(db) == due
    assert len(fire_due_schedules(db, agent="a")) >= 1  # two if the minute just turned
    assert fired_for(db, record.id)[0] == due
    assert _next_due(db) > due


def _next_due(db) -> datetime | None:
    """The earliest next run of any active schedule."""
    with db.session() as session:
        return session.execute(
            text(
                "SELECT min(next_run_at) FROM schedules WHERE is_active AND next_run_at IS NOT NULL"
            )
        ).scalar_one_or_none()


def test_naive_now_is_refused(db) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fire_due_schedules(db, agent="a", now=datetime(2026, 5, 1, 11))


# -- DST days ------------------------------------------------------------------------------


def _tick_through(db: Database, start: datetime, end: datetime, step: timedelta) -> None:
    now = start
    while now <= end:
        fire_due_schedules(db, agent="ticker", now=now)
        now += step


@pytest.mark.parametrize(
    ("day", "expected_hourly"),
    [(datetime(2026, 3, 29), 23), (datetime(2026, 10, 25), 24)],
    ids=["spring", "autumn"],
)
def test_dst_days_fire_once_per_due_time(db, user_id, workflow, day, expected_hourly) -> None:
    tz = ZoneInfo(BERLIN)
    day_start = day.replace(tzinfo=tz)
    created_at = day_start - timedelta(hours=3)
    common = {"timezone": BERLIN, "overlap_policy": "allow", "now": created_at}
    hourly = make(db, user_id, workflow, "0 * * * *", name="hourly", **common)
    nightly = make(db, user_id, workflow, "30 2 * * *", name="nightly", **common)
    every20 = make(db, user_id, workflow, "*/20 * * * *", name="every20", **common)
    # an agent polling every 7 minutes through the day (and an hour either side)
    _tick_through(
        db, day_start - timedelta(hours=1), day_start + timedelta(hours=25), timedelta(minutes=7)
    )
    day_end = (day + timedelta(days=1)).replace(tzinfo=tz) - timedelta(minutes=1)
    for record in (hourly, nightly, every20):
        fired = [t for t in fired_for(db, record.id) if day_start <= t <= day_end]
        assert len(fired) == len(set(fired))
        assert fired == fire_times_between(record.cron_expression, BERLIN, day_start, day_end, 500)
    hourly_fired = [t for t in fired_for(db, hourly.id) if day_start <= t <= day_end]
    assert len(hourly_fired) == expected_hourly
    nightly_fired = [t for t in fired_for(db, nightly.id) if day_start <= t <= day_end]
    labels = [t.astimezone(tz).strftime("%H:%M %Z") for t in nightly_fired]
    assert labels == (["03:00 CEST"] if day.month == 3 else ["02:30 CEST"])


def test_dst_day_after_downtime_with_catch_up(db, user_id, workflow) -> None:
    # down from before the spring change until after it: 'all' fires each hour once
    record = make(
        db,
        user_id,
        workflow,
        "0 * * * *",
        timezone=BERLIN,
        misfire_policy="all",
        overlap_policy="allow",
        now=datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 00:30 CET
    )
    fire_due_schedules(db, agent="a", now=datetime(2026, 3, 29, 3, 30, tzinfo=UTC))
    labels = [t.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M %Z") for t in fired_for(db, record.id)]
    assert labels == ["01:00 CET", "03:00 CEST", "04:00 CEST", "05:00 CEST"]


# -- several agents ------------------------------------------------------------------------


def test_a_schedule_claimed_by_another_agent_is_skipped_not_waited_for(
    db, user_id, workflow, database_url
) -> None:
    held = make(db, user_id, workflow, name="held")
    free = make(db, user_id, workflow, name="free")
    other_agent = Database(database_url)
    try:
        with other_agent.session() as session:
            # another agent is in the middle of firing "held"
            session.execute(
                text("SELECT id FROM schedules WHERE id = :id FOR UPDATE"), {"id": held.id}
            )
            result: list[list[uuid.UUID]] = []
            worker = threading.Thread(
                target=lambda: result.append(fire_due_schedules(db, agent="a", now=at(11, 0, 1))),
                daemon=True,
            )
            worker.start()
            worker.join(timeout=10)
            assert not worker.is_alive(), "blocked on the other agent's lock instead of skipping"
            assert len(result[0]) == 1
            assert fired_for(db, free.id) == [at(11)] and fired_for(db, held.id) == []
    finally:
        other_agent.dispose()
    # released (that agent "died" without firing it): the next call fires it
    assert len(fire_due_schedules(db, agent="a", now=at(11, 0, 2))) == 1
    assert fired_for(db, held.id) == [at(11)]


def _make_many(db, user_id, workflow, count: int) -> list[ScheduleRecord]:
    records = []
    for i in range(count):
        policy = ("all", "once", "skip")[i % 3]
        records.append(
            make(
                db,
                user_id,
                workflow,
                ("0 * * * *", "*/30 * * * *", "*/20 * * * *")[(i // 3) % 3],
                name=f"s{i}",
                misfire_policy=policy,
                overlap_policy="allow",
            )
        )
    return records


def _expected(records: list[ScheduleRecord], now: datetime) -> dict[uuid.UUID, list[datetime]]:
    return {
        r.id: due_times(r.cron_expression, r.timezone, r.next_run_at, now, r.misfire_policy)
        for r in records
    }


def _check_exactly_once(db, user_id, records, now, returned: list[list[uuid.UUID]]) -> None:
    expected = _expected(records, now)
    all_returned = [eid for ids in returned for eid in ids]
    assert len(all_returned) == len(set(all_returned)), "an execution id was returned twice"
    rows = executions(db)
    assert sorted(all_returned) == sorted(row.id for row in rows)
    per_due = Counter((row.schedule_id, row.scheduled_for) for row in rows)
    assert all(n == 1 for n in per_due.values())
    for record in records:
        assert fired_for(db, record.id) == expected[record.id]
        after = schedule(db, user_id, record.id)
        assert after.run_count == len(expected[record.id])
        assert after.next_run_at > now
    assert sum(len(v) for v in expected.values()) > len(records)  # real catch-up happened


def test_threads_fire_each_due_time_exactly_once(db, user_id, workflow, database_url) -> None:
    records = _make_many(db, user_id, workflow, 30)
    now = at(15, 0, 30)
    agents = 8
    barrier = threading.Barrier(agents)
    returned: list[list[uuid.UUID]] = [[] for _ in range(agents)]
    errors: list[BaseException] = []

    def agent(index: int) -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            for _ in range(3):  # each agent polls a few times
                returned[index].extend(
                    fire_due_schedules(own, agent=f"thread-{index}", now=now, batch=3)
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    _check_exactly_once(db, user_id, records, now, returned)
    assert sum(1 for ids in returned if ids) >= 2, "the work was not shared between agents"


_AGENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime
    from glyphic_desktop.agent.scheduler import fire_due_schedules
    from glyphic_desktop.store.database import Database

    url, agent, now, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    db = Database(url)
    db.check()
    time.sleep(max(0.0, start_at - time.time()))
    ids = []
    for _ in range(3):
        ids += fire_due_schedules(db, agent=agent, now=datetime.fromisoformat(now), batch=2)
    db.dispose()
    print(json.dumps([str(i) for i in ids]))
    """
)


def test_two_processes_fire_each_due_time_exactly_once(db, user_id, workflow, database_url) -> None:
    records = _make_many(db, user_id, workflow, 40)
    now = at(15, 0, 30)
    start_at = time.time() + 6.0  # both interpreters are up and connected by then
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _AGENT_SCRIPT,
                database_url,
                f"process-{i}",
                now.isoformat(),
                str(start_at),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    returned = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        returned.append([uuid.UUID(i) for i in json.loads(out)])
    _check_exactly_once(db, user_id, records, now, returned)
    fired_by = Counter(row.trigger_data["fired_by"] for row in executions(db))
    assert set(fired_by) <= {"process-0", "process-1"}
