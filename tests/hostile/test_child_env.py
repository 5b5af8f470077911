"""Code and Run command children get a scrubbed environment, never Glyphic's secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import execute_doc, run_node, workflow

from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.command import RunCommandNode

SECRETS = {
    "GLYPHIC_SECRET_KEY": "k" * 43 + "=",
    "GLYPHIC_DATABASE_URL": "postgresql://user:hunter2@127.0.0.1:5432/glyphic",
    "DATABASE_URL": "postgresql://user:hunter2@127.0.0.1/app",
    "PGPASSWORD": "hunter2",
    "PGHOST": "/run/postgresql",
    "GLYPHIC_HOME_EXTRA": "/somewhere",
}
CODE = "import os\nresult = dict(os.environ)"
PRINT_ENV = [sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"]


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent holds the key, database URLs and an unrelated FOO."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FOO", "bar")
    monkeypatch.setenv("LANG", "C.UTF-8")


def _assert_scrubbed(env: dict[str, str]) -> None:
    leaked = {name for name in env if name.startswith(("GLYPHIC_", "PG")) or "DATABASE" in name}
    assert not leaked
    for value in SECRETS.values():
        assert value not in env.values()
    assert "PATH" in env and env.get("LANG") == "C.UTF-8"


def _command_env(fields: dict) -> dict[str, str]:
    out = run_node(RunCommandNode, {"command": PRINT_ENV, **fields}).output
    assert out["exit_code"] == 0, out["stderr"]
    return json.loads(out["stdout"])


def test_code_child_sees_only_the_safe_list(hostile_env: None) -> None:
    env = run_node(CodeNode, {"code": CODE}).output
    _assert_scrubbed(env)
    assert "FOO" not in env
    assert env["TMPDIR"] and env["TMPDIR"] != "/tmp"  # its own scratch dir


def test_code_allowed_env_passes_exactly_the_named_variables(hostile_env: None) -> None:
    env = run_node(
        CodeNode,
        {"code": CODE, "allowedEnv": ["FOO", "GLYPHIC_SECRET_KEY", "PGPASSWORD", "DATABASE_URL"]},
    ).output
    assert env["FOO"] == "bar"
    _assert_scrubbed(env)  # naming a secret does not pass it


def test_run_command_child_sees_only_the_safe_list(hostile_env: None) -> None:
    env = _command_env({})
    _assert_scrubbed(env)
    assert "FOO" not in env
    env = _command_env({"allowed_env": ["FOO", "GLYPHIC_SECRET_KEY"], "env": {"EXTRA": "1"}})
    assert env["FOO"] == "bar" and env["EXTRA"] == "1"
    _assert_scrubbed(env)


def test_shell_command_does_not_see_the_key(hostile_env: None) -> None:
    out = run_node(
        RunCommandNode, {"command": "env; echo key=[$GLYPHIC_SECRET_KEY]", "shell": True}
    ).output
    assert "key=[]" in out["stdout"]
    assert SECRETS["GLYPHIC_SECRET_KEY"] not in out["stdout"]
    assert "hunter2" not in out["stdout"]


def test_code_child_does_not_import_glyphic(hostile_env: None) -> None:
    src = "import sys\nresult = sorted(m for m in sys.modules if m.startswith('glyphic'))"
    assert run_node(CodeNode, {"code": src}).output == []


def test_workflow_allowed_env_reaches_code_and_command_children(hostile_env: None) -> None:
    doc = workflow(
        [
            {"id": "s", "type": "manual"},
            {"id": "c", "type": "code", "fields": {"code": CODE}},
            {"id": "r", "type": "run_command", "fields": {"command": PRINT_ENV}},
        ],
        ["s -> c", "s -> r"],
        config={"allowedEnv": ["FOO", "GLYPHIC_SECRET_KEY"]},
    )
    run = execute_doc(doc)
    assert run.status == "completed", run.error
    code_env = run.output("c")
    command_env = json.loads(run.output("r")["stdout"])
    for env in (code_env, command_env):
        assert env["FOO"] == "bar"
        _assert_scrubbed(env)
