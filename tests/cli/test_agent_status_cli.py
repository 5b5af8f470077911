"""The agent says what it is doing: its start line (schedules active, next due), the node
log lines of its background runs (--run-log-level), and `glyphic agent status`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from glyphic_desktop.agent.processes import register_process, unregister_process
from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

AGENT = [sys.executable, "-m", "glyphic_desktop.cli.main", "agent"]


def _talkative(db, user_id, name: str = "talk") -> uuid.UUID:
    nodes = [
        ("start", "manual", {}),
        ("say", "log", {"message": "hi there"}),
        ("warn", "log", {"message": "careful now", "level": "warn"}),
    ]
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": i, "type": t, "data": {"label": i.title(), "fields": f}} for i, t, f in nodes
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


def _queue(db, user_id, workflow_id) -> uuid.UUID:
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(workflow_id)


def _status(db, user_id, execution_id) -> str:
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(execution_id).status


def _wait(predicate, timeout: float, proc: subprocess.Popen, err: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the agent exited early: {err.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; agent stderr: {err.read_text()}")
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        ("info", ["[Say] hi there", "[Warn] careful now"], ["[Say] started"]),
        ("warn", ["[Warn] careful now"], ["hi there"]),
        ("debug", ["[Say] started", "[Say] hi there"], []),
    ],
)
def test_background_runs_log_their_node_lines_at_the_chosen_level(
    db, user_id, level, shown, hidden
) -> None:
    execution = _queue(db, user_id, _talkative(db, user_id))
    done = subprocess.run(
        [*AGENT, "--headless", "--once", "--name", "box", "--run-log-level", level],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert _status(db, user_id, execution) == "completed"
    prefix = f"execution {execution} of talk"
    for text in shown:
        assert f"{prefix} {text}" in done.stderr, done.stderr
    for text in hidden:
        assert text not in done.stderr


def test_the_start_line_and_agent_status(db, user_id, tmp_path, capsys) -> None:
    workflow = _talkative(db, user_id)
    assert main(["schedule", "add", "talk", "--cron", "0 0 1 1 *", "--name", "new-year"]) == 0
    assert main(["schedule", "add", "talk", "--cron", "@daily", "--name", "daily"]) == 0
    assert main(["schedule", "pause", "daily"]) == 0
    capsys.readouterr()
    err_path = tmp_path / "agent.err"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            [*AGENT, "--headless", "--name", "status-box"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=dict(os.environ),
        )
    try:
        _wait(lambda: "agent status-box started" in err_path.read_text(), 60, proc, err_path)
        start = next(
            line for line in err_path.read_text().splitlines() if "status-box started" in line
        )
        assert "1 schedule active, next due " in start and "UTC (new-year)" in start
        execution = _queue(db, user_id, workflow)
        _wait(lambda: _status(db, user_id, execution) == "completed", 60, proc, err_path)
        other = register_process(db, "editor", name="my-editor")
        try:
            assert main(["agent", "status", "--json"]) == 0
            rows = json.loads(capsys.readouterr().out)
            assert main(["agent", "status"]) == 0
            table = capsys.readouterr().out
        finally:
            unregister_process(db, other)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("agent", "status-box"),
        ("editor", "my-editor"),
    ]
    agent = rows[0]
    assert agent["pid"] == proc.pid and agent["host"] == socket.gethostname()
    assert agent["alive"] and agent["runs_in_flight"] == 0 and agent["since"]
    assert table.splitlines()[0].split() == [
        "KIND",
        "NAME",
        "HOST",
        "PID",
        "SINCE",
        "HEARTBEAT",
        "RUNS",
    ]
    assert "status-box" in table and str(proc.pid) in table
    assert f"execution {execution} of talk [Say] hi there" in err_path.read_text()


def test_agent_status_with_nothing_running(db, capsys) -> None:
    assert main(["agent", "status"]) == 0
    assert capsys.readouterr().out == "no agent is running ('glyphic agent' starts one)\n"
    assert main(["agent", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_agent_status_with_the_database_down(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://x:y@127.0.0.1:9/x")
    assert main(["agent", "status"]) == 3
    assert capsys.readouterr().err.startswith("glyphic: cannot reach PostgreSQL at 127.0.0.1:9")
