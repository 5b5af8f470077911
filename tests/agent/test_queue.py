"""The queue of pending executions: claiming, running, concurrency, overlap, stale runs, stop."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.agent import service
from glyphic_desktop.agent.queue import (
    QueueRunner,
    claim_pending,
    recover_stale_runs,
)
from glyphic_desktop.agent.service import Agent
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.store.models import Schedule
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

# -- helpers -----------------------------------------------------------------------------


def _document(*nodes: tuple[str, str, dict[str, Any]]) -> WorkflowDocument:
    """A chain of nodes (id, type, fields), each wired to the next."""
    edges = [
        {
            "id": str(number),
            "source": nodes[number - 1][0],
            "sourceHandle": "output",
            "target": nodes[number][0],
            "targetHandle": "input",
        }
        for number in range(1, len(nodes))
    ]
    return WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": node_id, "type": kind, "data": {"label": node_id, "fields": fields}}
                for node_id, kind, fields in nodes
            ],
            "edges": edges,
        }
    )


def store(db, user_id, name: str, *nodes: tuple[str, str, dict[str, Any]]) -> uuid.UUID:
    """Store a workflow; returns its id."""
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, _document(*nodes)).id


def hello(db, user_id, name: str = "hello") -> uuid.UUID:
    return store(
        db,
        user_id,
        name,
        ("start", "manual", {}),
        ("say", "log", {"message": "hello from the queue"}),
        ("set", "set", {"fields": [{"name": "done", "value": True}]}),
    )


def slow(db, user_id, seconds: float, name: str = "slow") -> uuid.UUID:
    return store(
        db, user_id, name, ("start", "manual", {}), ("wait", "delay", {"seconds": seconds})
    )


def queue(db, user_id, workflow_id, **kwargs: Any) -> uuid.UUID:
    """A pending execution, created the way the editor's run_in_background does."""
    kwargs.setdefault("trigger_type", "manual")
    kwargs.setdefault("trigger_data", {"queued_by": "editor"})
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(workflow_id, **kwargs)


def get(db, user_id, execution_id):
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(execution_id)


def column(db, execution_id, name: str) -> Any:
    with db.session() as session:
        return session.execute(
            text(f"SELECT {name} FROM executions WHERE id = :id"), {"id": execution_id}
        ).scalar_one()


def schedule(db, user_id, workflow_id, policy: str) -> uuid.UUID:
    with db.session() as session:
        row = Schedule(
            workflow_id=workflow_id,
            user_id=user_id,
            name=f"every minute ({policy})",
            cron_expression="* * * * *",
            overlap_policy=policy,
        )
        session.add(row)
        session.flush()
        return row.id


def queue_for_schedule(db, user_id, workflow_id, schedule_id, minute: int) -> uuid.UUID:
    with db.session() as session:
        due = session.execute(
            text("SELECT date_trunc('minute', now()) + make_interval(mins => :m)"), {"m": minute}
        ).scalar_one()
    return queue(
        db,
        user_id,
        workflow_id,
        trigger_type="schedule",
        trigger_data={"schedule_id": str(schedule_id)},
        schedule_id=schedule_id,
        scheduled_for=due,
    )


def runner(db, **kwargs: Any) -> QueueRunner:
    kwargs.setdefault("agent", "test-agent")
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("heartbeat_interval", 0.2)
    kwargs.setdefault("stop_grace", 0)  # a stop cancels at once (the grace has its own tests)
    return QueueRunner(db, **kwargs)


def peak_overlap(records, slack: timedelta = timedelta(milliseconds=100)) -> int:
    """How many runs overlapped at most. ``completed_at`` is the database's clock less the
    time a row waited to be written, so it may read a little late on a busy machine: ``slack``."""
    points = []
    for record in records:
        points.append((record.started_at, 1))
        points.append((record.completed_at - slack, -1))
    peak = current = 0
    for _moment, change in sorted(points, key=lambda p: (p[0], p[1])):
        current += change
        peak = max(peak, current)
    return peak


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


# -- running -----------------------------------------------------------------------------


def test_a_queued_execution_runs_to_completed_with_its_logs(db, user_id):
    workflow_id = hello(db, user_id)
    execution_id = queue(db, user_id, workflow_id)
    queue_runner = runner(db)
    assert asyncio.run(queue_runner.run_pending()) == 1
    record = get(db, user_id, execution_id)
    assert record.status == "completed", record.error_message
    assert record.claimed_by == "test-agent"
    assert record.trigger_type == "manual" and record.trigger_data == {"queued_by": "editor"}
    assert record.started_at is not None and record.completed_at is not None
    assert column(db, execution_id, "heartbeat_at") is not None
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(execution_id)
    assert any(line.message == "hello from the queue" for line in logs)
    assert queue_runner.outcomes == {"completed": 1}
    # nothing left: a second pass runs nothing
    assert asyncio.run(queue_runner.run_pending()) == 0


def test_the_input_of_the_row_reaches_the_workflow(db, user_id):
    workflow_id = store(db, user_id, "echo", ("start", "manual", {}))
    execution_id = queue(db, user_id, workflow_id, input_data={"n": 41})
    asyncio.run(runner(db).run_pending())
    record = get(db, user_id, execution_id)
    assert record.status == "completed"
    assert record.output_data["start"]["output"] == {"n": 41}


def test_failing_workflows_fail_and_the_runner_goes_on(db, user_id):
    failing = store(
        db, user_id, "fails", ("start", "manual", {}), ("stop", "stop_error", {"message": "nope"})
    )
    broken = store(db, user_id, "broken", ("start", "manual", {}), ("what", "no.such.type", {}))
    good = hello(db, user_id)
    first = queue(db, user_id, failing)
    second = queue(db, user_id, broken)
    third = queue(db, user_id, good)
    queue_runner = runner(db, concurrency=1)
    assert asyncio.run(queue_runner.run_pending()) == 3
    assert get(db, user_id, first).status == "failed"
    assert "nope" in get(db, user_id, first).error_message
    preflight = get(db, user_id, second)
    assert preflight.status == "failed" and "no.such.type" in preflight.error_message
    assert get(db, user_id, third).status == "completed"
    assert queue_runner.outcomes == {"failed": 2, "completed": 1}


def test_an_error_outside_the_run_fails_the_row_and_the_runner_goes_on(db, user_id, monkeypatch):
    # run_workflow_async raises before it records anything (an engine bug); the runner
    # records the failure on the row it claimed.
    from glyphic_desktop.engine import runner as engine_runner

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("registry exploded")

    monkeypatch.setattr(engine_runner, "run_workflow_async", explode)
    execution_id = queue(db, user_id, hello(db, user_id))
    queue_runner = runner(db)
    assert asyncio.run(queue_runner.run_pending()) == 1
    record = get(db, user_id, execution_id)
    assert record.status == "failed"
    assert record.error_message.startswith("the agent could not run it: ")
    assert "registry exploded" in record.error_message
    assert queue_runner.outcomes == {"error": 1}


def test_at_most_concurrency_runs_at_a_time(db, user_id):
    workflow_id = slow(db, user_id, 0.4)
    ids = [queue(db, user_id, workflow_id) for _ in range(5)]
    assert asyncio.run(runner(db, concurrency=2).run_pending()) == 5
    records = [get(db, user_id, each) for each in ids]
    assert all(record.status == "completed" for record in records)
    assert peak_overlap(records) == 2


def test_a_run_waiting_for_its_final_row_frees_its_slot_but_only_one_more_waits(db, user_id):
    """The slot is for running nodes: a run whose nodes are done while its final row waits
    for the database (the workflow's row locked here) lets the next run start; with
    concurrency 1 at most one more run may wait so, the third stays pending. Once the
    lock goes, all three complete, and each row's completed_at is when its nodes ended,
    not when the row could be written."""
    workflow_id = hello(db, user_id)
    ids = [queue(db, user_id, workflow_id) for _ in range(3)]
    statuses = lambda: [column(db, each, "status") for each in ids]  # noqa: E731
    lock = db.engine.connect()
    transaction = lock.begin()
    lock.execute(text("SELECT 1 FROM workflows WHERE id = :w FOR UPDATE"), {"w": workflow_id})

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner(db, concurrency=1).run(stop))
        try:
            await wait_for(lambda: statuses() == ["running", "running", "pending"], 10)
            await asyncio.sleep(0.5)  # and it stays so while the lock holds
            assert statuses() == ["running", "running", "pending"]
            held = time.monotonic()
            await asyncio.to_thread(transaction.rollback)
            await wait_for(lambda: statuses() == ["completed"] * 3, 10)
            assert time.monotonic() - held < 10
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        lock.close()
    records = [get(db, user_id, each) for each in ids]
    first, second = records[0], records[1]
    # the first run's nodes ended long before its row could be written (>= 0.5 s held)
    assert first.completed_at <= second.started_at + timedelta(seconds=0.3)
    assert first.duration_ms < 400
    assert peak_overlap(records) <= 1


def test_the_service_loop_picks_up_new_work_and_stop_cancels_a_long_run(db, user_id):
    quick = hello(db, user_id)
    long = slow(db, user_id, 30, name="long")

    async def scenario() -> tuple[uuid.UUID, uuid.UUID, float]:
        stop = asyncio.Event()
        queue_runner = runner(db, heartbeat_interval=0.2)
        task = asyncio.create_task(queue_runner.run(stop))
        await asyncio.sleep(0.3)  # the runner is idle, polling
        first = await asyncio.to_thread(queue, db, user_id, quick)
        await wait_for(lambda: get(db, user_id, first).status == "completed", 5)
        second = await asyncio.to_thread(queue, db, user_id, long)
        await wait_for(lambda: get(db, user_id, second).status == "running", 5)
        started = column(db, second, "started_at")
        # the heartbeat goes on while it runs
        await wait_for(
            lambda: column(db, second, "heartbeat_at") > started + timedelta(seconds=0.3), 5
        )
        sent = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, 10)
        return first, second, time.monotonic() - sent

    first, second, took = asyncio.run(scenario())
    assert took < 5
    assert get(db, user_id, first).status == "completed"
    cancelled = get(db, user_id, second)
    assert cancelled.status == "cancelled" and cancelled.claimed_by == "test-agent"


# -- claiming ----------------------------------------------------------------------------


def test_claim_marks_rows_claimed_but_pending_oldest_first(db, user_id):
    workflow_id = hello(db, user_id)
    ids = [queue(db, user_id, workflow_id) for _ in range(3)]
    claimed = claim_pending(db, agent="a", limit=2)
    assert [each.id for each in claimed] == ids[:2]
    assert claimed[0].workflow_name == "hello" and claimed[0].user_id == user_id
    assert claimed[0].trigger_data == {"queued_by": "editor"}
    for each in ids[:2]:
        assert column(db, each, "status") == "pending"
        assert column(db, each, "claimed_by") == "a"
        assert column(db, each, "heartbeat_at") is not None
    # claimed rows are not claimable by another agent; the third one is
    assert [each.id for each in claim_pending(db, agent="b", limit=5)] == ids[2:]
    assert claim_pending(db, agent="c", limit=5) == []
    assert claim_pending(db, agent="c", limit=0) == []


def test_claim_pending_rejects_a_nameless_agent(db):
    with pytest.raises(ValueError, match="agent's name"):
        claim_pending(db, agent="", limit=1)


def test_a_stale_claim_is_taken_over_a_fresh_one_is_not(db, user_id):
    workflow_id = hello(db, user_id)
    stale = queue(db, user_id, workflow_id)
    fresh = queue(db, user_id, workflow_id)
    with db.session() as session:
        session.execute(
            text(
                "UPDATE executions SET claimed_by = 'dead:1', "
                "heartbeat_at = now() - interval '5 minutes' WHERE id = :id"
            ),
            {"id": stale},
        )
        session.execute(
            text(
                "UPDATE executions SET claimed_by = 'alive:2', heartbeat_at = now() WHERE id = :id"
            ),
            {"id": fresh},
        )
    claimed = claim_pending(db, agent="new", limit=5, reclaim_after=60)
    assert [each.id for each in claimed] == [stale]
    assert column(db, stale, "claimed_by") == "new"


def test_threads_claiming_at_once_never_claim_one_row_twice(db, user_id):
    workflow_id = hello(db, user_id)
    ids = {queue(db, user_id, workflow_id) for _ in range(40)}
    barrier = threading.Barrier(4)
    got: dict[str, list[uuid.UUID]] = {}

    def claim(name: str) -> None:
        barrier.wait()
        mine = got.setdefault(name, [])
        while batch := claim_pending(db, agent=name, limit=3):
            mine.extend(each.id for each in batch)

    threads = [threading.Thread(target=claim, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [each for mine in got.values() for each in mine]
    assert len(everything) == len(set(everything)) == 40
    assert set(everything) == ids
    with db.session() as session:
        owners = dict(session.execute(text("SELECT id, claimed_by FROM executions")).all())
    for name, mine in got.items():
        assert all(owners[each] == name for each in mine)


def _assert_each_ran_once(db, user_id, workflow_id, ids, started_total: int) -> None:
    assert started_total == len(ids)
    assert all(get(db, user_id, each).status == "completed" for each in ids)
    with db.session() as session:
        count = session.execute(
            text("SELECT execution_count FROM workflows WHERE id = :id"), {"id": workflow_id}
        ).scalar_one()
    assert count == len(ids)


def test_two_runners_in_threads_never_run_one_execution_twice(db, user_id):
    workflow_id = slow(db, user_id, 0.02)
    ids = [queue(db, user_id, workflow_id) for _ in range(16)]
    barrier = threading.Barrier(2)
    counts: dict[str, int] = {}

    def work(name: str) -> None:
        barrier.wait()
        counts[name] = asyncio.run(runner(db, agent=name, concurrency=3).run_pending())

    threads = [threading.Thread(target=work, args=(name,)) for name in ("r1", "r2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    _assert_each_ran_once(db, user_id, workflow_id, ids, sum(counts.values()))
    with db.session() as session:
        owners = set(session.execute(text("SELECT claimed_by FROM executions")).scalars())
    assert owners <= {"r1", "r2"}


def test_two_processes_never_run_one_execution_twice(db, user_id, database_url):
    workflow_id = slow(db, user_id, 0.02)
    ids = [queue(db, user_id, workflow_id) for _ in range(24)]
    env = {**os.environ, "GLYPHIC_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless", "--once"]
    procs = [
        subprocess.Popen(
            [*command, "--name", name, "--concurrency", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("p1", "p2")
    ]
    total = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        found = re.search(r"ran (\d+) execution", out)
        assert found, out
        total += int(found.group(1))
    _assert_each_ran_once(db, user_id, workflow_id, ids, total)


# -- overlap policy 'queue' ----------------------------------------------------------------


def test_a_queue_schedule_runs_its_executions_one_after_the_other(db, user_id):
    workflow_id = slow(db, user_id, 0.3)
    queued = schedule(db, user_id, workflow_id, "queue")
    first = queue_for_schedule(db, user_id, workflow_id, queued, 0)
    second = queue_for_schedule(db, user_id, workflow_id, queued, 1)
    # while the first is claimed (or running) the second is not claimable
    claimed = claim_pending(db, agent="a", limit=5)
    assert [each.id for each in claimed] == [first]
    assert claim_pending(db, agent="b", limit=5) == []
    with db.session() as session:
        session.execute(
            text("UPDATE executions SET claimed_by = NULL, heartbeat_at = NULL WHERE id = :id"),
            {"id": first},
        )
    assert asyncio.run(runner(db, concurrency=4).run_pending()) == 2
    one, two = get(db, user_id, first), get(db, user_id, second)
    assert one.status == two.status == "completed"
    assert two.started_at >= one.completed_at


class _SlowClaimRunner(QueueRunner):
    """A runner whose claim, once a run is under way, returns only after that run has
    ended: the race where a run ends while the claim that could not see its end is in
    flight (a CI run caught it once)."""

    def _claim(self, room, cutoff):
        had_jobs = bool(self._jobs)
        claimed = super()._claim(room, cutoff)
        deadline = time.monotonic() + 10
        while had_jobs and not claimed and self._jobs and time.monotonic() < deadline:
            time.sleep(0.01)
        return claimed


def test_run_pending_looks_again_when_a_run_ends_during_a_claim(db, user_id):
    workflow_id = slow(db, user_id, 0.05)
    queued = schedule(db, user_id, workflow_id, "queue")
    first = queue_for_schedule(db, user_id, workflow_id, queued, 0)
    second = queue_for_schedule(db, user_id, workflow_id, queued, 1)
    slow_claims = _SlowClaimRunner(
        db, agent="t", concurrency=4, poll_interval=0.05, heartbeat_interval=0.2, stop_grace=0
    )
    assert asyncio.run(slow_claims.run_pending()) == 2
    assert get(db, user_id, first).status == get(db, user_id, second).status == "completed"


def test_an_allow_schedule_runs_its_executions_side_by_side(db, user_id):
    workflow_id = slow(db, user_id, 0.3)
    allowed = schedule(db, user_id, workflow_id, "allow")
    ids = [queue_for_schedule(db, user_id, workflow_id, allowed, n) for n in range(2)]
    assert asyncio.run(runner(db, concurrency=4).run_pending()) == 2
    assert peak_overlap([get(db, user_id, each) for each in ids]) == 2


def test_a_queue_schedule_waits_for_a_run_of_another_agent(db, user_id):
    workflow_id = hello(db, user_id)
    queued = schedule(db, user_id, workflow_id, "queue")
    first = queue_for_schedule(db, user_id, workflow_id, queued, 0)
    second = queue_for_schedule(db, user_id, workflow_id, queued, 1)
    with db.session() as session:
        ExecutionRepository(session, user_id).mark_running(first, claimed_by="other")
    assert claim_pending(db, agent="a", limit=5) == []
    with db.session() as session:
        ExecutionRepository(session, user_id).finish(first, "completed")
    assert [each.id for each in claim_pending(db, agent="a", limit=5)] == [second]


# -- stale runs ----------------------------------------------------------------------------


def test_stale_running_rows_are_marked_failed(db, user_id):
    workflow_id = hello(db, user_id)
    stale, no_beat, fresh, unclaimed = (queue(db, user_id, workflow_id) for _ in range(4))
    with db.session() as session:
        repo = ExecutionRepository(session, user_id)
        for each in (stale, no_beat, fresh):
            repo.mark_running(each, claimed_by="host:99")
        repo.mark_running(unclaimed)  # `glyphic run`: no agent, no heartbeat
        session.execute(
            text(
                "UPDATE executions SET heartbeat_at = now() - interval '10 minutes' WHERE id = :id"
            ),
            {"id": stale},
        )
        session.execute(
            text(
                "UPDATE executions SET heartbeat_at = NULL, "
                "started_at = now() - interval '10 minutes' WHERE id = ANY(:ids)"
            ),
            {"ids": [no_beat, unclaimed]},
        )
    assert recover_stale_runs(db, stale_after=60) == 2
    for each in (stale, no_beat):
        record = get(db, user_id, each)
        assert record.status == "failed"
        assert record.error_message.startswith("the agent running it stopped (no heartbeat since ")
        assert "host:99" in record.error_message
        assert record.completed_at is not None
    assert get(db, user_id, fresh).status == "running"
    assert get(db, user_id, unclaimed).status == "running"
    assert recover_stale_runs(db, stale_after=60) == 0
    with pytest.raises(ValueError, match="stale_after"):
        recover_stale_runs(db, stale_after=0)


def test_the_agent_recovers_stale_runs_at_start(db, user_id):
    execution_id = queue(db, user_id, hello(db, user_id))
    with db.session() as session:
        ExecutionRepository(session, user_id).mark_running(execution_id, claimed_by="gone:1")
        session.execute(
            text("UPDATE executions SET heartbeat_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": execution_id},
        )
    agent = Agent(db, name="fresh", heartbeat_interval=0.2, stale_after=30)
    assert asyncio.run(agent.run_once()) == 0
    assert get(db, user_id, execution_id).status == "failed"


def test_runner_arguments_are_checked(db):
    with pytest.raises(ValueError, match="concurrency"):
        QueueRunner(db, agent="a", concurrency=0)
    with pytest.raises(ValueError, match="agent's name"):
        QueueRunner(db, agent="")
    with pytest.raises(ValueError, match="positive"):
        QueueRunner(db, agent="a", poll_interval=0)


# -- the agent service ---------------------------------------------------------------------


def test_the_agent_name_defaults_to_host_and_pid(db):
    assert Agent(db).name.endswith(f":{os.getpid()}")
    assert Agent(db, name="mine").runner.agent == "mine"


def test_the_scheduler_tick_runs_in_a_thread_and_wakes_the_runner(db, user_id, monkeypatch):
    workflow_id = hello(db, user_id)
    fired: list[uuid.UUID] = []
    threads: set[str] = set()

    def fire_due_schedules(database, *, agent):
        threads.add(threading.current_thread().name)
        assert agent == "ticker"
        if fired:
            return []
        fired.append(queue(database, user_id, workflow_id, trigger_type="schedule"))
        return list(fired)

    monkeypatch.setattr(service, "fire_due_schedules", fire_due_schedules)
    # a poll interval far beyond the test: only the wake-up can make it run
    agent = Agent(db, name="ticker", poll_interval=60, heartbeat_interval=0.2)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await wait_for(lambda: bool(fired) and get(db, user_id, fired[0]).finished, 5)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert get(db, user_id, fired[0]).status == "completed"
    assert threading.main_thread().name not in threads


def test_paused_schedules_do_not_fire_until_resumed(db, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(service, "fire_due_schedules", lambda database, *, agent: calls.append(1))
    agent = Agent(db, name="a")
    agent.schedules_paused = True
    asyncio.run(agent.tick())
    assert calls == []
    agent.schedules_paused = False
    asyncio.run(agent.tick())
    assert calls == [1]


def test_a_failing_scheduler_tick_is_logged_once_and_the_agent_goes_on(db, monkeypatch, caplog):
    calls = []

    def fire_due_schedules(database, *, agent):
        calls.append(1)
        raise RuntimeError("cron broke")

    monkeypatch.setattr(service, "fire_due_schedules", fire_due_schedules)
    agent = Agent(db, name="a", tick_interval=0.05, poll_interval=0.1)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.ERROR, logger="glyphic_desktop.agent.service"):
        asyncio.run(scenario())
    assert len(calls) > 2
    errors = [r for r in caplog.records if "scheduler tick failed" in r.getMessage()]
    assert len(errors) == 1 and "cron broke" in errors[0].getMessage()


def test_a_webhook_port_in_use_stops_the_agent_with_one_message(db):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        agent = Agent(db, name="hooks", webhook_port=port, poll_interval=0.1)

        async def scenario() -> None:
            await asyncio.wait_for(agent.run(asyncio.Event()), 10)

        with pytest.raises(GlyphicError, match=rf"webhook listener on 127\.0\.0\.1:{port} failed"):
            asyncio.run(scenario())


def test_every_finished_run_is_reported_to_the_listener(db, user_id):
    good = hello(db, user_id)
    queued = [queue(db, user_id, good), queue(db, user_id, good)]
    seen: list[tuple[uuid.UUID, str]] = []
    agent = Agent(
        db,
        name="notify",
        heartbeat_interval=0.2,
        on_finished=lambda claimed, status, error: seen.append((claimed.id, status)),
    )
    assert asyncio.run(agent.run_once()) == 2
    assert sorted(seen) == sorted((execution, "completed") for execution in queued)


# -- with the real scheduler and webhook listener --------------------------------------------


def test_once_fires_a_due_schedule_and_runs_it(db, user_id):
    workflow_id = hello(db, user_id)
    schedule_id = schedule(db, user_id, workflow_id, "allow")
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET next_run_at = date_trunc('minute', now()) WHERE id = :id"),
            {"id": schedule_id},
        )
    agent = Agent(db, name="cron", heartbeat_interval=0.2)
    assert asyncio.run(agent.run_once()) == 1
    with db.session() as session:
        rows = session.execute(
            text("SELECT status, trigger_type, claimed_by FROM executions WHERE schedule_id = :id"),
            {"id": schedule_id},
        ).all()
    assert [tuple(row) for row in rows] == [("completed", "schedule", "cron")]


def test_the_real_webhook_listener_answers_and_closes_on_stop(db):
    import json
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    agent = Agent(db, name="hooks", webhook_port=port, poll_interval=0.1)
    url = f"http://127.0.0.1:{port}/webhooks/nothing-here"

    def fetch() -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(url, data=b"{}", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def listening() -> bool:
        with socket.socket() as client:
            return client.connect_ex(("127.0.0.1", port)) == 0

    async def scenario() -> tuple[int, Any]:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await wait_for(listening, 10)
        answer = await asyncio.to_thread(fetch)
        stop.set()
        await asyncio.wait_for(task, 10)
        return answer

    status, body = asyncio.run(scenario())
    assert status == 404 and "error" in body
    assert not listening()


def test_a_signed_webhook_request_runs_at_once_through_the_agent(db, user_id):
    """The listener wakes the runner: with a 60 s poll, only that can start the run."""
    import json
    import socket
    import time
    import urllib.request

    from glyphic_desktop.agent.webhooks import SIGNATURE_HEADER, sign
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    workflow_id = hello(db, user_id)
    with db.session() as session:
        _record, secret = WebhookRepository(session, user_id).add(workflow_id, path="deploy")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    agent = Agent(db, name="hooks", webhook_port=port, poll_interval=60, heartbeat_interval=0.2)
    body = json.dumps({"ref": "main"}).encode()

    def post() -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/deploy",
            data=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, int(time.time()), "POST", "/webhooks/deploy"),
            },
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
            return json.loads(response.read())

    def listening() -> bool:
        with socket.socket() as client:
            return client.connect_ex(("127.0.0.1", port)) == 0

    async def scenario() -> uuid.UUID:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await wait_for(listening, 10)
        # Let the runner go idle on its 60 s poll before the request arrives.
        await asyncio.sleep(0.3)
        execution = uuid.UUID((await asyncio.to_thread(post))["execution_id"])
        await wait_for(lambda: get(db, user_id, execution).finished, 10)
        stop.set()
        await asyncio.wait_for(task, 10)
        return execution

    execution = asyncio.run(scenario())
    record = get(db, user_id, execution)
    assert record.status == "completed" and record.input_data == {"ref": "main"}
