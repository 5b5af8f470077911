"""Database outages: a run's log lines survive a restart of the server, the agent logs an
outage once when it starts and once when it ends, and ``glyphic db stop`` refuses to
pull the server from under attached processes unless ``--force`` (which stops them).

Each test restarts a server, so none uses the shared test server: they start their own
embedded PostgreSQL (the way tests/store/test_embedded.py does), in a directory outside
pytest's tmp_path (a new pytest session resets that to 0700, which would lock out the
server's OS user when run as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.embedded import EmbeddedPostgres
from glyphic_desktop.store.migrations import upgrade
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

FAST = {"GLYPHIC_HEARTBEAT_INTERVAL": "0.3", "GLYPHIC_STALE_AFTER": "3"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    """An embedded server of this module's own, restarted by its tests."""
    root = Path(tempfile.mkdtemp(prefix="glyphic-outage-"))
    pg = EmbeddedPostgres(root / "pg")
    pg.ensure_running()
    try:
        yield pg
    finally:
        pg.discard()  # as root, below a 0700 temp dir, the cluster lives in /var/lib/glyphic
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_db(server: EmbeddedPostgres) -> Iterator[Database]:
    server.ensure_running()
    db = Database(server.url())  # not embedded=True: nothing restarts it behind the test
    upgrade(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def _log_chain(lines: int, pause: float) -> WorkflowDocument:
    nodes = [{"id": "start", "type": "manual", "data": {"label": "start"}}]
    for n in range(lines):
        nodes.append({"id": f"log{n}", "type": "log", "data": {"fields": {"message": f"line {n}"}}})
        nodes.append({"id": f"wait{n}", "type": "delay", "data": {"fields": {"seconds": pause}}})
    edges = [
        {"id": str(n), "source": nodes[n - 1]["id"], "target": nodes[n]["id"]}
        for n in range(1, len(nodes))
    ]
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def _restart(server: EmbeddedPostgres, down_for: float) -> None:
    assert server.stop()
    time.sleep(down_for)
    server.ensure_running()


def test_a_run_spanning_a_restart_of_its_server_loses_no_log_lines(server, own_db):
    from glyphic_desktop.engine.runner import run_workflow

    user_id = current_user_id(own_db)
    with own_db.session() as session:
        record = WorkflowRepository(session, user_id).create(
            f"spans a restart {time.monotonic_ns()}", _log_chain(12, 0.4)
        )
    outcome: dict[str, object] = {}

    def run() -> None:
        outcome["result"] = run_workflow(own_db, user_id, record)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.2)  # a few lines are written, then the server goes away for 2 s
    _restart(server, 2.0)
    worker.join(120)
    result = outcome["result"]
    assert result.status == "completed", result.error
    with own_db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(result.execution_id)
    messages = [line.message for line in logs]
    assert [m for m in messages if m.startswith("line ")] == [f"line {n}" for n in range(12)]
    assert messages[-1].startswith("run completed")
    assert result.log_rows == len(messages)


def _agent(database_url: str, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "GLYPHIC_DATABASE_URL": database_url, **FAST}
    return subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless", *extra],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
        env=env,
    )


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_the_agent_logs_an_outage_once_when_it_starts_and_once_when_it_ends(
    server, own_db, tmp_path
):
    log = tmp_path / "agent.stderr"
    agent = _agent(server.url(), log)
    try:
        _wait_for(lambda: "started" in log.read_text(), 60, "the agent to start")
        time.sleep(0.5)
        _restart(server, 4.0)
        _wait_for(lambda: "reachable again" in log.read_text(), 60, "the outage to end")
        time.sleep(1.0)  # anything else it would say about it
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
    lines = log.read_text().splitlines()
    down = [line for line in lines if "the database is unreachable" in line]
    up = [line for line in lines if "reachable again after an outage of" in line]
    assert len(down) == 1 and len(up) == 1, "\n".join(lines)
    seconds = float(re.search(r"outage of ([\d.]+) s", up[0]).group(1))
    assert 2.0 <= seconds <= 60
    # nothing else complained once per failed attempt
    assert not [line for line in lines if "could not claim" in line or "tick failed" in line]
    assert agent.returncode == 0


@pytest.fixture
def embedded_home(monkeypatch) -> Iterator[Path]:
    """A GLYPHIC_HOME of its own (its default embedded server is stopped afterwards)."""
    home = Path(tempfile.mkdtemp(prefix="glyphic-dbstop-"))
    monkeypatch.setenv("GLYPHIC_HOME", str(home))
    monkeypatch.delenv("GLYPHIC_DATABASE_URL", raising=False)
    try:
        yield home
    finally:
        with contextlib.suppress(Exception):
            # discard: as root the cluster lives in /var/lib/glyphic (the data dir is 0700)
            EmbeddedPostgres(home / "data" / "postgres").discard()
        shutil.rmtree(home, ignore_errors=True)


def _glyphic(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **FAST},
    )


def test_db_stop_names_the_attached_agent_and_stops_only_with_force(embedded_home, tmp_path):
    log = tmp_path / "agent.stderr"
    env = {**os.environ, **FAST}
    agent = subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=env,
    )
    server = EmbeddedPostgres(embedded_home / "data" / "postgres")
    try:
        _wait_for(lambda: "started (concurrency" in log.read_text(), 120, "the agent")
        refused = _glyphic("db", "stop")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "in use by 1 process" in refused.stdout
        assert "agent " in refused.stdout and f"(pid {agent.pid} on " in refused.stdout
        assert "--force" in refused.stdout
        assert server.is_running() and agent.poll() is None
        forced = _glyphic("db", "stop", "--force", "--wait", "60")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "asked 1 process to stop" in forced.stdout
        assert "they stopped" in forced.stdout
        assert "embedded PostgreSQL stopped" in forced.stdout
        assert agent.wait(30) == 0
        time.sleep(1.0)
        assert not server.is_running()  # nobody started it again
        assert "stopped by glyphic db stop --force" in log.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)


def test_db_stop_without_attached_processes_just_stops(embedded_home):
    server = EmbeddedPostgres(embedded_home / "data" / "postgres")
    server.ensure_running()
    result = _glyphic("db", "stop")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded PostgreSQL stopped" in result.stdout
    assert not server.is_running()
    again = _glyphic("db", "stop")
    assert again.returncode == 0 and "was not running" in again.stdout


def test_the_tray_shows_an_outage(qtbot, db):
    """The tray's database line follows the agent's outage monitor (set from any thread)."""
    from sqlalchemy.exc import OperationalError

    from glyphic_desktop.agent.service import Agent
    from glyphic_desktop.store.repositories.users import current_user_id as user_of
    from glyphic_desktop.ui.tray import TrayAgent

    agent = Agent(db, name="tray-test")
    tray = TrayAgent(agent, db, user_of(db), stop=asyncio.Event())
    assert tray.actions["database"].text() == "Database: connected"
    error = OperationalError("SELECT 1", {}, Exception("connection refused"))
    threading.Thread(target=agent.monitor.failed, args=(error,)).start()
    qtbot.waitUntil(lambda: "unreachable since" in tray.actions["database"].text(), timeout=5000)
    assert "unreachable" in tray.icon.toolTip()
    time.sleep(agent.monitor.settle)  # a success sooner could be a straggler (see below)
    threading.Thread(target=agent.monitor.succeeded).start()
    qtbot.waitUntil(lambda: "back after an outage of" in tray.actions["database"].text())
    assert "unreachable" not in tray.icon.toolTip()
    tray.icon.hide()


def test_a_success_right_after_the_failure_does_not_end_the_outage(caplog):
    """CI saw it: a round trip under way while the server shut down came back 1 ms after
    the first failure, and the outage was logged as over after 0.0 s and begun again."""
    from glyphic_desktop.agent.processes import OutageMonitor

    now = [100.0]
    monitor = OutageMonitor("agent t", clock=lambda: now[0])
    changes = []
    monitor.listeners.append(lambda down, _since, seconds: changes.append((down, seconds)))
    down = psycopg.OperationalError("connection failed: the database system is shutting down")
    with caplog.at_level(logging.WARNING, logger="glyphic_desktop.agent.processes"):
        assert monitor.failed(down)
        now[0] += 0.001
        monitor.succeeded()  # the straggler
        assert monitor.down
        now[0] += 0.1
        assert monitor.failed(down)  # the same outage, not a second one
        now[0] += 4.0
        monitor.succeeded()
    assert not monitor.down
    assert changes == [(True, 0.0), (False, pytest.approx(4.101))]
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if "unreachable" in m]) == 1
    assert len([m for m in said if "reachable again after an outage of 4.1 s" in m]) == 1
