"""Lost runs: every process that runs executions registers; a live agent fails (and, for
schedule and webhook runs, retries) the runs of a dead one; SIGTERM hands off cleanly.

The process tests start real ``glyphic agent --headless`` / ``glyphic run`` processes and
use real signals (SIGTERM, SIGKILL). Heartbeats are shortened through the environment
(``GLYPHIC_HEARTBEAT_INTERVAL`` / ``GLYPHIC_STALE_AFTER``) so a dead process is noticed in
seconds; the product defaults are 5 s and 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.processes import ProcessHeartbeat, list_processes, register_process
from glyphic_desktop.agent.queue import (
    QueueRunner,
    claim_pending,
    hand_back,
    recover_lost_runs,
)
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

FAST = {"GLYPHIC_HEARTBEAT_INTERVAL": "0.3", "GLYPHIC_STALE_AFTER": "4"}

# -- helpers -----------------------------------------------------------------------------


def store(db, user_id, name: str, seconds: float = 0.0) -> uuid.UUID:
    """A workflow: Start, then a Delay of ``seconds`` (none for 0), then a Log line."""
    nodes = [{"id": "start", "type": "manual", "data": {"label": "start"}}]
    if seconds:
        nodes.append({"id": "wait", "type": "delay", "data": {"fields": {"seconds": seconds}}})
    nodes.append({"id": "say", "type": "log", "data": {"fields": {"message": "done"}}})
    edges = [
        {"id": str(n), "source": nodes[n - 1]["id"], "target": nodes[n]["id"]}
        for n in range(1, len(nodes))
    ]
    document = WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document).id


def schedule_row(db, user_id, workflow_id, retries: int = 1) -> uuid.UUID:
    with db.session() as session:
        return session.execute(
            text(
                "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, "
                "is_active, next_run_at, retry_lost_runs) VALUES (:w, :u, 'nightly', "
                "'0 3 * * *', true, now() + interval '1 day', :r) RETURNING id"
            ),
            {"w": workflow_id, "u": user_id, "r": retries},
        ).scalar_one()


def webhook_row(db, user_id, workflow_id, retries: int = 1) -> uuid.UUID:
    with db.session() as session:
        return session.execute(
            text(
                "INSERT INTO webhooks (workflow_id, user_id, path, secret, retry_lost_runs) "
                "VALUES (:w, :u, :p, 'unused', :r) RETURNING id"
            ),
            {"w": workflow_id, "u": user_id, "p": f"hook-{uuid.uuid4().hex[:8]}", "r": retries},
        ).scalar_one()


def queue(db, user_id, workflow_id, trigger: str = "manual", **extra: Any) -> uuid.UUID:
    data: dict[str, Any] = {"queued_by": "test"}
    kwargs: dict[str, Any] = {}
    if trigger == "schedule":
        data["schedule_id"] = str(extra["schedule_id"])
        kwargs["schedule_id"] = extra["schedule_id"]
    if trigger == "webhook":
        data["webhook_id"] = str(extra["webhook_id"])
    data.update(extra.get("data", {}))
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(
            workflow_id, trigger_type=trigger, trigger_data=data, input_data={"n": 1}, **kwargs
        )


def row(db, execution_id) -> Any:
    with db.session() as session:
        return session.execute(
            text(
                "SELECT id, status, error_message, claimed_by, process_id, trigger_type, "
                "trigger_data, input_data, schedule_id FROM executions WHERE id = :id"
            ),
            {"id": execution_id},
        ).one()


def retries_of(db, execution_id) -> list[Any]:
    with db.session() as session:
        return session.execute(
            text(
                "SELECT id, status, claimed_by, trigger_data FROM executions "
                "WHERE trigger_data->>'retry_of' = :id ORDER BY created_at"
            ),
            {"id": str(execution_id)},
        ).all()


_STARTED: list[subprocess.Popen] = []  # this test's processes (their stderr on a timeout)


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {p.args[3:]}:\n{err_of(p)[-3000:]}" for p in _STARTED)
            raise AssertionError(f"timed out waiting for {what}{tails}")
        time.sleep(0.1)


def mark_running(db, ids: list, claimed_by: str, process_id) -> None:
    """Make executions ``ids`` look run by a process: running, claimed by ``claimed_by``,
    their ``process_id`` set."""
    with db.session() as session:
        session.execute(
            text(
                "UPDATE executions SET status = 'running', started_at = now(), "
                "claimed_by = :c, process_id = :p WHERE id = ANY(:ids)"
            ),
            {"c": claimed_by, "p": process_id, "ids": ids},
        )


def age_process(db, process_id, seconds: int = 600) -> None:
    """Make a process look dead: its last heartbeat ``seconds`` ago."""
    with db.session() as session:
        session.execute(
            text(
                "UPDATE run_processes SET heartbeat_at = now() - make_interval(secs => :s) "
                "WHERE id = :id"
            ),
            {"s": seconds, "id": process_id},
        )


def glyphic(*args: str, database_url: str, env: dict[str, str] | None = None, **popen: Any):
    """A glyphic process; its stderr goes to a file (``proc.err_path``; a pipe nobody reads
    would fill up and stall it), read back with :func:`err_of`."""
    import tempfile

    environment = {**os.environ, "GLYPHIC_DATABASE_URL": database_url, **FAST, **(env or {})}
    handle, path = tempfile.mkstemp(prefix="glyphic-proc-", suffix=".err")
    proc = subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=handle,
        text=True,
        env=environment,
        **popen,
    )
    os.close(handle)
    proc.err_path = path  # type: ignore[attr-defined]
    _STARTED.append(proc)
    return proc


def err_of(proc: subprocess.Popen) -> str:
    """What ``proc`` wrote to stderr so far."""
    return Path(proc.err_path).read_text(errors="replace")  # type: ignore[attr-defined]


@pytest.fixture
def procs():
    """Processes started by a test; killed (and reaped) afterwards."""
    started: list[subprocess.Popen] = []
    _STARTED.clear()
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        with contextlib.suppress(OSError):
            os.unlink(proc.err_path)  # type: ignore[attr-defined]


# -- recovery, in process ------------------------------------------------------------------


def test_a_dead_cli_process_has_its_run_failed_and_its_claims_released(db, user_id):
    workflow_id = store(db, user_id, "w")
    running = queue(db, user_id, workflow_id)
    claimed = queue(db, user_id, workflow_id)
    cli = register_process(db, "cli", name="cli box:4242")
    with db.session() as session:
        ExecutionRepository(session, user_id).mark_running(running, claimed_by="cli box:4242")
        session.execute(
            text("UPDATE executions SET process_id = :p WHERE id = ANY(:ids)"),
            {"p": cli, "ids": [running, claimed]},
        )
        session.execute(
            text("UPDATE executions SET claimed_by = 'cli box:4242' WHERE id = :id"),
            {"id": claimed},
        )
    # a fresh heartbeat: nothing happens
    assert recover_lost_runs(db, stale_after=30).failed == []
    age_process(db, cli, 31)
    outcome = recover_lost_runs(db, stale_after=30)
    assert outcome.failed == [running] and outcome.released == [claimed]
    assert outcome.retried == []  # a manual run is not retried
    failed = row(db, running)
    assert failed.status == "failed"
    assert failed.error_message.startswith("the cli running it stopped (no heartbeat since ")
    assert "cli box:4242" in failed.error_message
    back = row(db, claimed)
    assert back.status == "pending" and back.claimed_by is None and back.process_id is None
    assert [p.id for p in list_processes(db)] == []  # the dead process's row is gone


def test_lost_schedule_and_webhook_runs_are_retried_within_their_attempts(db, user_id):
    workflow_id = store(db, user_id, "w")
    sid = schedule_row(db, user_id, workflow_id, retries=1)
    hid = webhook_row(db, user_id, workflow_id, retries=1)
    never = webhook_row(db, user_id, workflow_id, retries=0)
    lost_schedule = queue(db, user_id, workflow_id, "schedule", schedule_id=sid)
    lost_webhook = queue(db, user_id, workflow_id, "webhook", webhook_id=hid)
    second_try = queue(db, user_id, workflow_id, "webhook", webhook_id=hid, data={"attempt": 2})
    no_retry = queue(db, user_id, workflow_id, "webhook", webhook_id=never)
    ids = [lost_schedule, lost_webhook, second_try, no_retry]
    agent = register_process(db, "agent", name="gone:1")
    mark_running(db, ids, "gone:1", agent)
    age_process(db, agent)
    outcome = recover_lost_runs(db, stale_after=30)
    assert sorted(outcome.failed) == sorted(ids)
    assert len(outcome.retried) == 2
    for original in (lost_schedule, lost_webhook):
        (retry,) = retries_of(db, original)
        assert retry.status == "pending" and retry.claimed_by is None
        assert retry.trigger_data["attempt"] == 2
        assert "stopped" in retry.trigger_data["retry_reason"]
        again = row(db, retry.id)
        assert again.input_data == {"n": 1} and again.trigger_type == row(db, original).trigger_type
    assert row(db, retries_of(db, lost_schedule)[0].id).schedule_id == sid
    assert retries_of(db, second_try) == [] and retries_of(db, no_retry) == []


def test_a_run_lost_after_its_wait_is_retried_from_the_wait_not_from_the_start(
    db, user_id, monkeypatch
):
    """The nodes before a Wait ran once (their side effects happened): a retry of the
    resumed part must not run them again."""
    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "1")
    nodes = [
        {"id": "start", "type": "manual", "data": {"label": "start"}},
        {"id": "before", "type": "log", "data": {"fields": {"message": "before the wait"}}},
        {"id": "wait", "type": "wait", "data": {"fields": {"mode": "resume"}}},
        {"id": "after", "type": "log", "data": {"fields": {"message": "after the wait"}}},
    ]
    edges = [
        {"id": str(n), "source": nodes[n - 1]["id"], "target": nodes[n]["id"]}
        for n in range(1, len(nodes))
    ]
    with db.session() as session:
        workflow_id = (
            WorkflowRepository(session, user_id)
            .create("waits", WorkflowDocument.model_validate({"nodes": nodes, "edges": edges}))
            .id
        )
    sid = schedule_row(db, user_id, workflow_id, retries=1)
    first = queue(db, user_id, workflow_id, "schedule", schedule_id=sid)
    asyncio.run(QueueRunner(db, agent="first", stop_grace=0).run_pending())
    assert row(db, first).status == "waiting"
    # an agent resumed it, then died mid-run
    agent = register_process(db, "agent", name="gone:1")
    mark_running(db, [first], "gone:1", agent)
    age_process(db, agent)
    outcome = recover_lost_runs(db, stale_after=30)
    assert outcome.failed == [first]
    (retry,) = retries_of(db, first)
    asyncio.run(QueueRunner(db, agent="second", stop_grace=0).run_pending())
    done = row(db, retry.id)
    assert done.status == "completed", done.error_message
    with db.session() as session:
        messages = ExecutionRepository(session, user_id).logs(retry.id)
    said = [line.message for line in messages]
    assert "after the wait" in said
    assert "before the wait" not in said


def test_claimed_but_unstarted_rows_are_handed_back(db, user_id):
    workflow_id = store(db, user_id, "w")
    ids = [queue(db, user_id, workflow_id) for _ in range(3)]
    me = register_process(db, "agent", name="me:1")
    claimed = claim_pending(db, agent="me:1", limit=2, process_id=me)
    assert [each.id for each in claimed] == ids[:2]
    assert {row(db, each).process_id for each in ids[:2]} == {me}
    assert hand_back(db, process_id=me) == 2
    for each in ids:
        back = row(db, each)
        assert back.status == "pending" and back.claimed_by is None and back.process_id is None


def test_a_stopping_runner_hands_back_its_claims_and_lets_runs_finish(db, user_id):
    """The grace: a run that ends within it completes instead of being cancelled."""
    quick = store(db, user_id, "quick", 1.0)
    execution = queue(db, user_id, quick)
    heartbeat = ProcessHeartbeat(db, "agent", name="graceful:1", interval=0.2)
    process_id = heartbeat.start()
    runner = QueueRunner(
        db, agent="graceful:1", process_id=process_id, stop_grace=20, poll_interval=0.1
    )
    unstarted = queue(db, user_id, quick)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await asyncio.to_thread(
            wait_until, lambda: row(db, execution).status == "running", 10, "the run to start"
        )
        # a row claimed the two-step way (not started): it must go back to the queue
        with db.session() as session:
            session.execute(
                text(
                    "UPDATE executions SET claimed_by = 'graceful:1', process_id = :p "
                    "WHERE id = :id"
                ),
                {"p": process_id, "id": unstarted},
            )
        stop.set()
        await asyncio.wait_for(task, 30)

    try:
        runner.concurrency = 1
        asyncio.run(scenario())
    finally:
        heartbeat.stop()
    assert row(db, execution).status == "completed"
    back = row(db, unstarted)
    assert back.status == "pending" and back.claimed_by is None


# -- real processes ------------------------------------------------------------------------


def _running(db, execution_id) -> bool:
    return row(db, execution_id).status == "running"


def test_a_glyphic_run_killed_with_kill_9_is_failed_by_a_live_agent(
    db, user_id, database_url, procs, tmp_path: Path
):
    workflow_id = store(db, user_id, "long run", 120)
    run = glyphic("run", str(workflow_id), database_url=database_url)
    procs.append(run)
    wait_until(
        lambda: any(p.kind == "cli" for p in list_processes(db)), 60, "glyphic run to register"
    )

    def execution() -> Any:
        with db.session() as session:
            return session.execute(
                text("SELECT id FROM executions WHERE workflow_id = :w"), {"w": workflow_id}
            ).scalar_one_or_none()

    wait_until(lambda: execution() is not None, 60, "the execution row")
    execution_id = execution()
    wait_until(lambda: _running(db, execution_id), 60, "the run to start")
    assert row(db, execution_id).process_id is not None
    run.send_signal(signal.SIGKILL)
    run.wait(10)
    agent = glyphic("agent", "--headless", "--name", "rescuer", database_url=database_url)
    procs.append(agent)
    wait_until(lambda: row(db, execution_id).status == "failed", 60, "the lost run to fail")
    failed = row(db, execution_id)
    assert failed.error_message.startswith("the cli running it stopped (no heartbeat since ")
    assert retries_of(db, execution_id) == []  # a manual run is not queued again
    assert all(p.kind == "agent" for p in list_processes(db))


def test_three_agents_one_killed_its_schedule_and_webhook_runs_are_retried_once(
    db, user_id, database_url, procs
):
    slow = store(db, user_id, "slow", 4)
    sid = schedule_row(db, user_id, slow)
    hid = webhook_row(db, user_id, slow)
    lost = [
        queue(db, user_id, slow, "schedule", schedule_id=sid),
        queue(db, user_id, slow, "webhook", webhook_id=hid),
        queue(db, user_id, slow, "manual"),
    ]
    doomed = glyphic(
        "agent", "--headless", "--name", "doomed", "--concurrency", "3", database_url=database_url
    )
    procs.append(doomed)
    wait_until(lambda: all(_running(db, each) for each in lost), 60, "the runs to start")
    assert {row(db, each).claimed_by for each in lost} == {"doomed"}
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    for name in ("second", "third"):
        procs.append(glyphic("agent", "--headless", "--name", name, database_url=database_url))
    wait_until(
        lambda: all(row(db, each).status == "failed" for each in lost), 60, "lost runs to fail"
    )
    for each in lost:
        assert row(db, each).error_message.startswith("the agent running it stopped")
    for each in lost[:2]:
        wait_until(
            lambda each=each: [r.status for r in retries_of(db, each)] == ["completed"],
            60,
            "the retry to complete",
        )
        (retry,) = retries_of(db, each)
        assert retry.trigger_data["attempt"] == 2 and retry.claimed_by in ("second", "third")
    assert retries_of(db, lost[2]) == []
    with db.session() as session:
        total = session.execute(text("SELECT count(*) FROM executions")).scalar_one()
    assert total == 5  # three lost runs and exactly one retry each of two


def test_sigterm_hands_off_runs_finish_in_the_grace_the_rest_is_cancelled_and_retried(
    db, user_id, database_url, procs
):
    quick = store(db, user_id, "quick", 1.5)
    endless = store(db, user_id, "endless", 300)
    sid = schedule_row(db, user_id, endless)
    finishes = queue(db, user_id, quick, "webhook", webhook_id=webhook_row(db, user_id, quick))
    cut_off = queue(db, user_id, endless, "schedule", schedule_id=sid)
    agent = glyphic(
        "agent",
        "--headless",
        "--name",
        "stopping",
        "--concurrency",
        "2",
        "--stop-grace",
        "4",
        database_url=database_url,
    )
    procs.append(agent)
    wait_until(lambda: _running(db, finishes) and _running(db, cut_off), 60, "both runs to start")
    waiting = queue(db, user_id, quick)  # no room: it stays in the queue
    agent.send_signal(signal.SIGTERM)
    agent.wait(60)
    err = err_of(agent)
    assert agent.returncode == 0, err
    assert row(db, finishes).status == "completed"  # finished within the grace
    assert row(db, cut_off).status == "cancelled"
    (retry,) = retries_of(db, cut_off)
    assert retry.status == "pending" and retry.trigger_data["attempt"] == 2
    assert row(db, waiting).status == "pending" and row(db, waiting).claimed_by is None
    assert list_processes(db) == []  # it unregistered


def test_a_second_signal_exits_130_at_once(db, user_id, database_url, procs):
    endless = store(db, user_id, "endless", 300)
    execution = queue(db, user_id, endless)
    agent = glyphic("agent", "--headless", "--stop-grace", "60", database_url=database_url)
    procs.append(agent)
    wait_until(lambda: _running(db, execution), 60, "the run to start")
    agent.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    sent = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    agent.wait(20)
    err = err_of(agent)
    assert agent.returncode == 130, err
    assert time.monotonic() - sent < 10
    assert "interrupted" in err
    # The run is left to recovery: a live agent fails it once the heartbeat is stale.
    rescuer = glyphic("agent", "--headless", "--name", "rescuer", database_url=database_url)
    procs.append(rescuer)
    wait_until(lambda: row(db, execution).status == "failed", 60, "the run to be recovered")


def test_the_heartbeat_settings_are_read_from_the_environment(monkeypatch):
    from glyphic_desktop.agent import processes

    monkeypatch.setenv("GLYPHIC_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("GLYPHIC_STALE_AFTER", "nonsense")
    assert processes.heartbeat_interval() == 0.5
    assert processes.stale_after() == processes.DEFAULT_STALE_AFTER
    monkeypatch.delenv("GLYPHIC_HEARTBEAT_INTERVAL")
    assert processes.heartbeat_interval() == 5.0


def test_json_trigger_data_keeps_its_keys_on_retry(db, user_id):
    workflow_id = store(db, user_id, "w")
    hid = webhook_row(db, user_id, workflow_id)
    lost = queue(db, user_id, workflow_id, "webhook", webhook_id=hid, data={"path": "x/y"})
    agent = register_process(db, "agent", name="gone:2")
    mark_running(db, [lost], "gone:2", agent)
    age_process(db, agent)
    recover_lost_runs(db, stale_after=30)
    (retry,) = retries_of(db, lost)
    assert retry.trigger_data["path"] == "x/y"
    assert retry.trigger_data["webhook_id"] == str(hid)
    assert json.loads(json.dumps(retry.trigger_data))["retry_of"] == str(lost)


def test_an_editor_run_registers_its_process_for_the_length_of_the_run(db, user_id):
    """The editor's runs (ui/session.py passes process_kind="editor") hold their row."""
    import threading

    from glyphic_desktop.engine.runner import run_workflow

    workflow_id = store(db, user_id, "edited", 1.5)
    seen: list[Any] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with db.session() as session:
                rows = session.execute(
                    text(
                        "SELECT p.kind, p.pid, e.status FROM run_processes p "
                        "JOIN executions e ON e.process_id = p.id"
                    )
                ).all()
            seen.extend(tuple(each) for each in rows)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_workflow(db, user_id, workflow_id, process_kind="editor")
    finally:
        done.set()
        watcher.join(10)
    assert result.status == "completed"
    assert ("editor", os.getpid(), "running") in seen
    assert list_processes(db) == []  # unregistered when the run ended
    assert row(db, result.execution_id).claimed_by.startswith("editor ")


def test_an_agent_never_takes_itself_for_dead(db, user_id):
    """A heartbeat held up on a loaded machine must not make an agent fail its own runs."""
    workflow_id = store(db, user_id, "w")
    mine = queue(db, user_id, workflow_id)
    me = register_process(db, "agent", name="me:2")
    mark_running(db, [mine], "me:2", me)
    age_process(db, me)
    assert recover_lost_runs(db, stale_after=30, exclude=me).failed == []
    assert row(db, mine).status == "running" and [p.id for p in list_processes(db)] == [me]
    assert recover_lost_runs(db, stale_after=30).failed == [mine]  # anyone else would
