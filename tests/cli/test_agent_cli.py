"""`glyphic agent`: --once, the headless service with SIGTERM, logging, bad arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

AGENT = [sys.executable, "-m", "glyphic_desktop.cli.main", "agent"]


def _store(db, user_id, name: str, *nodes: tuple[str, str, dict[str, Any]]) -> uuid.UUID:
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": node_id, "type": kind, "data": {"label": node_id, "fields": fields}}
                for node_id, kind, fields in nodes
            ],
            "edges": [
                {
                    "id": str(n),
                    "source": nodes[n - 1][0],
                    "sourceHandle": "output",
                    "target": nodes[n][0],
                    "targetHandle": "input",
                }
                for n in range(1, len(nodes))
            ],
        }
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document).id


def _hello(db, user_id) -> uuid.UUID:
    return _store(
        db, user_id, "hello", ("start", "manual", {}), ("say", "log", {"message": "hi there"})
    )


def _queue(db, user_id, workflow_id) -> uuid.UUID:
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(
            workflow_id, trigger_type="manual", trigger_data={"queued_by": "editor"}
        )


def _status(db, user_id, execution_id) -> str:
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(execution_id).status


def _wait(predicate, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the agent exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def test_once_runs_a_queued_execution_and_exits_0(db, user_id, glyphic_home):
    execution_id = _queue(db, user_id, _hello(db, user_id))
    done = subprocess.run(
        [*AGENT, "--headless", "--once", "--name", "cron-box"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "agent cron-box: ran 1 execution(s) (1 completed)"
    assert _status(db, user_id, execution_id) == "completed"
    with db.session() as session:
        record = ExecutionRepository(session, user_id).get(execution_id)
        logs = ExecutionRepository(session, user_id).logs(execution_id)
    assert record.claimed_by == "cron-box"
    assert any(line.message == "hi there" for line in logs)
    assert "completed in" in done.stderr  # the agent's own log on stderr...
    log_file = glyphic_home / "logs" / "agent.log"  # ...and in the log directory
    assert f"execution {execution_id} of hello: completed" in log_file.read_text()


def test_headless_runs_queued_work_and_sigterm_stops_it_cleanly(db, user_id):
    quick = _hello(db, user_id)
    slow = _store(db, user_id, "slow", ("start", "manual", {}), ("wait", "delay", {"seconds": 60}))
    proc = subprocess.Popen(
        [*AGENT, "--headless", "--name", "svc", "--stop-grace", "0"],  # cancel at once
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        first = _queue(db, user_id, quick)
        _wait(lambda: _status(db, user_id, first) == "completed", 30, proc)
        second = _queue(db, user_id, slow)
        _wait(lambda: _status(db, user_id, second) == "running", 10, proc)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert took < 10
    assert _status(db, user_id, second) == "cancelled"
    assert "agent svc started" in err and "agent svc stopped" in err
    assert "SIGTERM: stopping" in err


def test_without_a_tray_it_runs_headless_and_says_so(db, user_id, glyphic_home):
    """No display Qt can use (the offscreen platform here): no tray, one line, headless."""
    quick = _hello(db, user_id)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [*AGENT, "--name", "plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        queued = _queue(db, user_id, quick)
        _wait(lambda: _status(db, user_id, queued) == "completed", 30, proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "no system tray on this display; running headless" in err


def test_once_never_tries_a_tray(db, capsys):
    assert main(["agent", "--once", "--name", "here"]) == 0
    captured = capsys.readouterr()
    assert "tray" not in captured.err
    assert captured.out.strip() == "agent here: ran 0 execution(s)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "--concurrency must be at least 1, not 0"),
        (["--concurrency", "many"], "--concurrency must be a whole number, not 'many'"),
        (["--webhook-port", "70000"], "--webhook-port must be between 1 and 65535, not 70000"),
        (["--name", "  "], "the agent name must not be empty"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["agent", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_agent_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["agent", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--headless", "--name", "--concurrency", "--webhook-port", "--once"):
        assert option in out


def test_a_taken_webhook_port_ends_the_agent_with_one_clear_line(db, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["agent", "--headless", "--name", "hooks", "--webhook-port", str(port)])
    assert code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"glyphic: the webhook listener on 127.0.0.1:{port} failed: ")
    assert "address already in use" in last


def test_a_second_signal_stops_at_once_with_130(db, user_id):
    """The first SIGTERM starts a graceful stop (a minute of grace here); the second exits
    130 at once, without waiting for the grace."""
    slow = _store(db, user_id, "slow", ("start", "manual", {}), ("wait", "delay", {"seconds": 90}))
    proc = subprocess.Popen(
        [*AGENT, "--headless", "--name", "twice", "--stop-grace", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        queued = _queue(db, user_id, slow)
        _wait(lambda: _status(db, user_id, queued) == "running", 30, proc)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert took < 10
    assert "SIGTERM: stopping" in err and "second SIGTERM: exiting at once" in err
    assert err.strip().splitlines()[-1] == "glyphic: interrupted"
