"""Untrusted workflows from the command line: import, `glyphic run`, `glyphic trust`, export
and import again, `glyphic run FILE` as consent, sub-workflows, and the agent's refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.documents import write_chain_file

from glyphic_desktop.cli.main import main
from glyphic_desktop.paths import resources_dir
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

EXAMPLE = resources_dir() / "examples" / "loop-over-items.json"
GLYPHIC = [sys.executable, "-m", "glyphic_desktop.cli.main"]
PRINTS = "print('the code node ran')\nresult = {'ok': True}\n"


def _code_file(tmp_path: Path, name: str = "Shared flow") -> Path:
    return write_chain_file(
        tmp_path / f"{name.replace(' ', '-')}.json",
        ("start", "manual", {}, "Start"),
        ("py", "code", {"code": PRINTS}, "Transform"),
        ("sh", "run_command", {"command": ["echo", "the command ran"]}, "Shell"),
        name=name,
    )


def _record(db, user_id, name: str):
    with db.session() as session:
        return WorkflowRepository(session, user_id).resolve(name)


def _executions(db, workflow_id: uuid.UUID) -> list[Any]:
    with db.session() as session:
        return session.execute(
            text(
                "SELECT id, status, error_message, output_data, (SELECT count(*) FROM "
                "execution_logs l WHERE l.execution_id = e.id AND l.node_id IS NOT NULL) "
                "AS node_logs "
                "FROM executions e WHERE workflow_id = :id ORDER BY created_at"
            ),
            {"id": workflow_id},
        ).all()


def test_importing_a_copied_example_with_a_code_node_stores_it_untrusted(
    db, user_id, tmp_path, capsys
):
    copy = tmp_path / "loop.json"
    shutil.copy(EXAMPLE, copy)
    assert main(["import", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "untrusted: 'Sum the lines' (code) runs code or commands" in out
    assert "glyphic trust 'Loop over items'" in out
    record = _record(db, user_id, "Loop over items")
    assert record.untrusted_nodes == ("node-4",)
    assert record.untrusted_source == "imported from loop.json"
    assert not record.trusted


def test_the_bundled_examples_are_trusted_when_imported_from_where_they_ship(db, user_id, capsys):
    assert main(["import", str(EXAMPLE)]) == 0
    assert "untrusted" not in capsys.readouterr().out
    assert _record(db, user_id, "Loop over items").trusted
    assert main(["run", "Loop over items"]) == 0
    out = capsys.readouterr().out
    assert "3 lines, total" in out, out


def test_run_by_name_refuses_with_one_line_and_runs_nothing_until_trusted(
    db, user_id, tmp_path, capsys
):
    assert main(["import", str(_code_file(tmp_path))]) == 0
    capsys.readouterr()

    assert main(["run", "Shared flow"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line == (
        "glyphic: workflow 'Shared flow' is not trusted: 2 nodes that came from outside "
        "(imported from Shared-flow.json) run code or commands: 'Transform' (code), "
        "'Shell' (run_command); trust them with 'glyphic trust 'Shared flow'' or the "
        'editor\'s "Trust and enable"'
    )
    assert "ran" not in captured.out
    # Recorded as a failed run with that message; no node ran (no node log line, no output).
    record = _record(db, user_id, "Shared flow")
    (refused,) = _executions(db, record.id)
    assert refused.status == "failed"
    assert refused.error_message == line.removeprefix("glyphic: ")
    assert refused.node_logs == 0 and not refused.output_data

    assert main(["trust", "Shared flow"]) == 0
    assert capsys.readouterr().out.strip() == (
        "trusted workflow 'Shared flow' (imported from Shared-flow.json): 'Transform' (code), "
        "'Shell' (run_command) may now run code or commands"
    )
    assert _record(db, user_id, "Shared flow").trusted
    assert main(["trust", str(record.id)]) == 0
    assert capsys.readouterr().out.strip() == "workflow 'Shared flow' was already trusted"

    assert main(["run", "Shared flow"]) == 0
    out = capsys.readouterr().out
    assert "the code node ran" in out


def test_run_json_reports_the_refusal_as_problems(db, user_id, tmp_path, capsys):
    assert main(["import", str(_code_file(tmp_path))]) == 0
    capsys.readouterr()
    assert main(["run", "Shared flow", "--json"]) == 2
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    problems = [event for event in events if event["event"] == "problem"]
    assert [(p["kind"], p["node_id"]) for p in problems] == [
        ("untrusted", "py"),
        ("untrusted", "sh"),
    ]
    assert events[-1]["status"] == "failed" and "is not trusted" in events[-1]["error"]


def test_trust_of_an_unknown_workflow_exits_2(db, capsys):
    assert main(["trust", "No such flow"]) == 2
    assert capsys.readouterr().err.startswith("glyphic: no workflow named 'No such flow'")


def test_a_workflow_without_code_nodes_stays_trusted_on_import(db, user_id, tmp_path, capsys):
    path = write_chain_file(
        tmp_path / "plain.json",
        ("start", "manual", {}, "Start"),
        ("say", "log", {"message": "hello"}, "Say"),
        name="Plain",
    )
    assert main(["import", str(path)]) == 0
    assert "untrusted" not in capsys.readouterr().out
    assert _record(db, user_id, "Plain").trusted


def test_an_unknown_node_type_is_recorded_untrusted_but_does_not_refuse(
    db, user_id, tmp_path, capsys
):
    path = write_chain_file(
        tmp_path / "plugin.json",
        ("start", "manual", {}, "Start"),
        ("x", "acme.shell", {"script": "rm -rf ~"}, "Acme"),
        name="Plugin flow",
    )
    assert main(["import", str(path)]) == 0
    record = _record(db, user_id, "Plugin flow")
    # Recorded (a plugin installed later may make the type run code) ...
    assert record.untrusted_nodes == ("x",)
    capsys.readouterr()
    # ... but today the type is unknown: preflight, not the trust check, stops it.
    assert main(["run", "Plugin flow"]) == 2
    err = capsys.readouterr().err
    assert "unknown node type 'acme.shell'" in err and "not trusted" not in err


def test_export_then_import_again_is_untrusted_even_for_the_same_user(
    db, user_id, tmp_path, capsys
):
    path = _code_file(tmp_path, "Mine")
    assert main(["run", str(path)]) == 0  # running the file is consent: stored trusted
    assert _record(db, user_id, "Mine").trusted
    exported = tmp_path / "out" / "mine.json"
    exported.parent.mkdir()
    assert main(["export", "Mine", "-o", str(exported)]) == 0
    assert main(["import", str(exported), "--name", "Mine again"]) == 0
    again = _record(db, user_id, "Mine again")
    assert set(again.untrusted_nodes) == {"py", "sh"}
    assert again.untrusted_source == "imported from mine.json"
    # --replace onto the trusted original makes it untrusted too.
    assert main(["import", str(exported), "--replace"]) == 0
    assert set(_record(db, user_id, "Mine").untrusted_nodes) == {"py", "sh"}
    capsys.readouterr()
    assert main(["run", "Mine"]) == 2
    assert "is not trusted" in capsys.readouterr().err


def test_run_file_is_consent_and_trusts_the_stored_copy(db, user_id, tmp_path, capsys):
    path = _code_file(tmp_path)
    assert main(["import", str(path)]) == 0
    assert not _record(db, user_id, "Shared flow").trusted
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    assert "the code node ran" in capsys.readouterr().out
    assert _record(db, user_id, "Shared flow").trusted


def test_a_trusted_workflow_cannot_run_an_untrusted_sub_workflow(db, user_id, tmp_path, capsys):
    assert main(["import", str(_code_file(tmp_path, "Child"))]) == 0
    parent = write_chain_file(
        tmp_path / "parent.json",
        ("start", "manual", {}, "Start"),
        ("call", "subworkflow", {"workflow": "Child"}, "Call child"),
        name="Parent",
    )
    capsys.readouterr()
    assert main(["run", str(parent)]) == 1
    captured = capsys.readouterr()
    assert "sub-workflow 'Child' is not trusted" in captured.err + captured.out
    assert "the code node ran" not in captured.out


def test_the_agent_records_a_queued_untrusted_run_as_failed(db, user_id, tmp_path, capsys):
    assert main(["import", str(_code_file(tmp_path))]) == 0
    record = _record(db, user_id, "Shared flow")
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(
            record.id, trigger_type="manual", trigger_data={"queued_by": "editor"}
        )
    done = subprocess.run(
        [*GLYPHIC, "agent", "--headless", "--once", "--name", "box"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    with db.session() as session:
        execution = ExecutionRepository(session, user_id).get(execution_id)
    assert execution.status == "failed"
    assert execution.error_message.startswith("workflow 'Shared flow' is not trusted: 2 nodes")
    assert "'Transform' (code), 'Shell' (run_command)" in execution.error_message
    # No node ran: no node wrote a log line or an output.
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(execution_id)
    assert [line.message for line in logs if line.node_id] == []
    assert not execution.output_data
    assert "is not trusted" in done.stderr


@pytest.mark.parametrize("spelling", ["code,run_command", " code , run_command "])
def test_glyphic_disable_nodes_names_each_disabled_node(
    db, tmp_path, capsys, monkeypatch, spelling
):
    monkeypatch.setenv("GLYPHIC_DISABLE_NODES", spelling)
    path = _code_file(tmp_path)
    assert main(["run", str(path)]) == 2  # consent to the file does not lift the switch
    err = capsys.readouterr().err
    assert "node 'Transform' (py): node type 'code' is disabled by GLYPHIC_DISABLE_NODES" in err
    assert "node 'Shell' (sh): node type 'run_command' is disabled by GLYPHIC_DISABLE_NODES" in err
    assert main(["nodes", "list"]) == 0
    listing = capsys.readouterr().out
    assert "(runs code; disabled by GLYPHIC_DISABLE_NODES)" in listing


def test_the_disabled_node_types_setting(db, user_id, tmp_path, capsys):
    path = _code_file(tmp_path)
    assert main(["nodes", "disable", "run_command"]) == 0
    assert capsys.readouterr().out.strip() == "disabled node types (your setting): run_command"
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        "node 'Shell' (sh): node type 'run_command' is disabled by the disabled_node_types" in err
    )
    assert "'code'" not in err
    assert main(["nodes", "disable", "nonsense"]) == 2
    assert "no node type 'nonsense'" in capsys.readouterr().err
    assert main(["nodes", "enable", "run_command"]) == 0
    assert capsys.readouterr().out.strip() == "disabled node types (your setting): none"
    assert main(["run", str(path)]) == 0
