"""`glyphic list`, `show`, `runs`, `logs` and the one workflow-reference rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.paths import resources_dir
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

GLYPHIC = [sys.executable, "-m", "glyphic_desktop.cli.main"]
EXAMPLE = resources_dir() / "examples" / "branching-if-switch.json"


def _store(db, user_id, name: str, *nodes: tuple[str, str, dict[str, Any]], **kw) -> uuid.UUID:
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": node_id, "type": kind, "data": {"label": node_id.title(), "fields": f}}
                for node_id, kind, f in nodes
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
        return WorkflowRepository(session, user_id).create(name, document, **kw).id


def _hello(db, user_id, name: str = "Hello") -> uuid.UUID:
    return _store(
        db,
        user_id,
        name,
        ("start", "manual", {}),
        ("say", "log", {"message": "hi there"}),
        ("warn", "log", {"message": "careful", "level": "warn"}),
    )


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- list / show / runs -------------------------------------------------------------------


def test_list_shows_tags_active_schedules_and_last_run(db, user_id, capsys) -> None:
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "no workflows yet" in out
    _hello(db, user_id)
    _store(db, user_id, "Other", ("start", "manual", {}), tags=["ops", "daily"])
    assert _run(capsys, "schedule", "add", "Other", "--cron", "@daily")[0] == 0
    assert _run(capsys, "run", "Hello")[0] == 0
    code, out, _ = _run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TAGS", "ACTIVE", "SCHEDULES", "LAST", "RUN", "STATUS"]
    hello = next(line for line in lines if line.startswith("Hello"))
    other = next(line for line in lines if line.startswith("Other"))
    assert hello.split()[-1] == "completed" and other.split()[-1] == "-"
    assert "ops, daily" in other and "1/1" in other
    code, out, _ = _run(capsys, "list", "--json")
    data = {item["name"]: item for item in json.loads(out)}
    assert data["Hello"]["last_status"] == "completed" and data["Hello"]["schedules"] == 0
    assert data["Other"]["tags"] == ["ops", "daily"] and data["Other"]["schedules_active"] == 1


def test_runs_filters_by_workflow_status_and_limit(db, user_id, capsys) -> None:
    _hello(db, user_id)
    _store(db, user_id, "Broken", ("start", "manual", {}), ("boom", "stop_error", {"message": "x"}))
    for _ in range(3):
        assert _run(capsys, "run", "Hello")[0] == 0
    assert _run(capsys, "run", "Broken")[0] == 1
    code, out, _ = _run(capsys, "runs", "--json")
    runs = json.loads(out)
    assert code == 0 and len(runs) == 4 and runs[0]["workflow"] == "Broken"
    code, out, _ = _run(capsys, "runs", "hello", "--limit", "2", "--json")
    assert [r["workflow"] for r in json.loads(out)] == ["Hello", "Hello"]
    code, out, _ = _run(capsys, "runs", "--status", "failed")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["EXECUTION", "WORKFLOW", "STATUS"]
    assert len(lines) == 2 and "Broken" in lines[1] and "failed" in lines[1]
    code, _, err = _run_exit(capsys, "runs", "--status", "weird")
    assert code == 2 and "(see 'glyphic runs --help')" in err


def _run_exit(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code), out, err


def test_show_lists_nodes_schedules_webhooks_and_last_runs(db, user_id, capsys) -> None:
    _hello(db, user_id)
    assert _run(capsys, "schedule", "add", "Hello", "--cron", "0 9 * * *", "--name", "9am")[0] == 0
    assert _run(capsys, "webhook", "add", "Hello", "--path", "hi")[0] == 0
    assert _run(capsys, "run", "Hello")[0] == 0
    code, out, _ = _run(capsys, "show", "Hello")
    assert code == 0
    assert out.startswith("Hello  (")
    assert "nodes (3, 2 connections)" in out
    assert "say" in out and "log" in out and "Say" in out
    assert "schedules (1)" in out and "9am" in out and "0 9 * * *" in out
    assert "webhooks (1)" in out and "/webhooks/hi" in out
    assert "last runs (1)" in out and "completed" in out
    code, out, _ = _run(capsys, "show", "Hello", "--json")
    data = json.loads(out)
    assert [n["id"] for n in data["nodes"]] == ["start", "say", "warn"]
    assert data["schedules"][0]["cron"] == "0 9 * * *"
    assert data["webhooks"][0]["path"] == "/webhooks/hi"
    assert data["runs"][0]["status"] == "completed"


# -- references -------------------------------------------------------------------------


def test_a_name_with_a_slash_is_a_name_when_no_such_file(db, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "import", str(EXAMPLE))[0] == 0
    code, out, err = _run(capsys, "run", "If / Switch branching")
    assert code == 0, err
    assert out.startswith("workflow 'If / Switch branching' (stored ")
    assert _run(capsys, "show", "If / Switch branching")[0] == 0


def test_case_insensitive_unique_name_and_did_you_mean(db, user_id, capsys) -> None:
    _hello(db, user_id, "Loop over items")
    code, out, _ = _run(capsys, "show", "loop OVER items")
    assert code == 0 and out.startswith("Loop over items  (")
    for command in (["run"], ["show"], ["runs"], ["export"], ["trust"]):
        code, _, err = _run(capsys, *command, "Loop over itmes")
        assert code == 2, command
        assert _one_line(err) == (
            "glyphic: no workflow named 'Loop over itmes'; did you mean 'Loop over items'?"
        )
    code, _, err = _run(capsys, "schedule", "add", "loop ovr items", "--cron", "@daily")
    assert code == 2 and "did you mean 'Loop over items'?" in _one_line(err)
    code, _, err = _run(capsys, "webhook", "add", "zzz")
    assert code == 2 and _one_line(err).endswith("'glyphic list' lists them")


def test_names_differing_only_in_case_need_the_exact_one(db, user_id, capsys) -> None:
    _hello(db, user_id, "Report")
    _hello(db, user_id, "REPORT")
    assert _run(capsys, "show", "REPORT")[1].startswith("REPORT  (")
    code, _, err = _run(capsys, "show", "report")
    assert code == 2 and "several differ only in case" in _one_line(err)


def test_an_existing_file_wins_over_a_name(db, user_id, capsys, tmp_path, monkeypatch):
    _hello(db, user_id, "hello.json")
    monkeypatch.chdir(tmp_path)
    Path("hello.json").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = _run(capsys, "run", "hello.json")
    assert code == 0 and out.startswith("workflow 'If / Switch branching' (stored as")
    Path("hello.json").unlink()
    code, out, _ = _run(capsys, "run", "hello.json")
    assert code == 0 and out.startswith("workflow 'hello.json' (stored ")


# -- logs -------------------------------------------------------------------------------


def _last_execution(db, user_id, workflow_id) -> uuid.UUID:
    with db.session() as session:
        return ExecutionRepository(session, user_id).list_for_workflow(workflow_id, 1)[0].id


def test_logs_print_a_past_run_as_run_showed_it(db, user_id, capsys) -> None:
    workflow = _hello(db, user_id)
    code, live, _ = _run(capsys, "run", "Hello", "--verbose")
    assert code == 0
    execution = _last_execution(db, user_id, workflow)
    code, out, err = _run(capsys, "logs", str(execution))
    assert (code, err) == (0, "")

    def body(text: str) -> list[str]:  # drop the times; keep the lines the run printed
        return [line.split(" ", 1)[1] for line in text.splitlines() if line[:2].isdigit()]

    printed = body(out)
    assert "INFO  [Say] hi there" in printed and "WARN  [Warn] careful" in printed
    assert any(line.startswith("✓ [Say] finished in ") for line in printed)

    def shown(lines: list[str]) -> list[str]:  # what both print (live adds node starts)
        return [line for line in lines if "started" not in line and "finished in" not in line]

    assert shown(body(live)) == shown(printed)
    code, out, _ = _run(capsys, "logs", str(execution), "--level", "warn")
    assert body(out) == ["WARN  [Warn] careful"]
    code, out, _ = _run(capsys, "logs", str(execution), "--node", "Say")
    assert "hi there" in out and "careful" not in out
    code, out, _ = _run(capsys, "logs", str(execution), "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert {"event": "log", "message": "hi there"}.items() <= events[
        next(i for i, e in enumerate(events) if e.get("message") == "hi there")
    ].items()


def test_logs_bad_references_exit_2(db, user_id, capsys) -> None:
    workflow = _hello(db, user_id)
    assert _run(capsys, "run", "Hello")[0] == 0
    execution = _last_execution(db, user_id, workflow)
    for args, message in (
        (["logs", "nope"], "'nope' is not an execution id"),
        (["logs", str(uuid.uuid4())], "no execution with id"),
        (["logs", str(execution), "--node", "Sya"], "no node 'Sya' in this workflow"),
    ):
        code, _, err = _run(capsys, *args)
        assert code == 2 and message in _one_line(err)
    code, _, err = _run_exit(capsys, "logs", str(execution), "--level", "loud")
    assert code == 2 and "see 'glyphic logs --help'" in err


def test_logs_follow_tails_a_running_execution_until_it_ends(db, user_id, tmp_path) -> None:
    workflow = _store(
        db,
        user_id,
        "Slow",
        ("start", "manual", {}),
        ("before", "log", {"message": "before the wait"}),
        ("wait", "delay", {"seconds": 3}),
        ("after", "log", {"message": "after the wait"}),
    )
    env = dict(os.environ)
    with open(tmp_path / "run.err", "w") as run_err:
        running = subprocess.Popen(
            [*GLYPHIC, "run", "Slow"], stdout=subprocess.DEVNULL, stderr=run_err, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with db.session() as session:
                    runs = ExecutionRepository(session, user_id).list_for_workflow(workflow, 1)
                if runs and runs[0].status == "running":
                    break
                assert running.poll() is None, (tmp_path / "run.err").read_text()
                assert time.monotonic() < deadline, "the run did not start"
                time.sleep(0.1)
            follow = subprocess.run(
                [*GLYPHIC, "logs", str(runs[0].id), "--follow"],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )
        finally:
            running.wait(timeout=120)
    assert follow.returncode == 0, follow.stderr
    assert "before the wait" in follow.stdout and "after the wait" in follow.stdout
    assert follow.stderr.strip().endswith(f"execution {runs[0].id}: completed")


def test_show_and_runs_take_a_workflow_file_too(db, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "show", str(EXAMPLE))
    assert code == 2 and _one_line(err).endswith("is not stored ('glyphic import' stores it)")
    assert _run(capsys, "import", str(EXAMPLE))[0] == 0
    assert _run(capsys, "run", "If / Switch branching")[0] == 0
    code, out, _ = _run(capsys, "show", str(EXAMPLE))
    assert code == 0 and out.startswith("If / Switch branching  (")
    code, out, _ = _run(capsys, "runs", str(EXAMPLE), "--json")
    assert code == 0 and [r["workflow"] for r in json.loads(out)] == ["If / Switch branching"]
