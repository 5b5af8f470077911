"""The Run command node: real processes, no shell unless asked."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from node_helpers import run_node
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.command import RunCommandNode


def test_argument_list_output_exit_code_and_cwd(tmp_path: Path) -> None:
    script = "import os,sys; print(os.getcwd()); print('err', file=sys.stderr); sys.exit(4)"
    work = tmp_path / "work"  # not tmp_path itself: it holds this test's GLYPHIC_HOME
    work.mkdir()
    out = run_node(
        RunCommandNode, {"command": [sys.executable, "-c", script], "cwd": str(work)}
    ).output
    assert out["exit_code"] == 4
    assert out["stdout"].strip() == str(work)
    assert out["stderr"].strip() == "err"


def test_no_shell_by_default_and_shell_when_asked() -> None:
    literal = run_node(RunCommandNode, {"command": ["echo", "$HOME", "&&", "x"]}).output
    assert literal["stdout"] == "$HOME && x\n"
    shell = run_node(
        RunCommandNode,
        {"command": "echo $GLYPHIC_X | tr a-z A-Z", "shell": True, "env": {"GLYPHIC_X": "hi"}},
    ).output
    assert shell["stdout"] == "HI\n"
    split = run_node(RunCommandNode, {"command": "printf '%s|' 'a b' c"}).output
    assert split["stdout"] == "a b|c|"


def test_stdin_is_fed() -> None:
    out = run_node(
        RunCommandNode,
        {
            "command": [sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"],
            "stdin": "abc",
        },
    ).output
    assert out["stdout"] == "cba\n"


def test_missing_command_names_it() -> None:
    with pytest.raises(NodeError) as caught:
        run_node(RunCommandNode, {"command": ["glyphic-no-such-tool", "--version"]})
    assert (
        str(caught.value)
        == "command not found: 'glyphic-no-such-tool' (is it installed and on PATH?)"
    )
    assert caught.value.field == "command"


def test_timeout_kills_the_process_group() -> None:
    started = time.perf_counter()
    with pytest.raises(NodeError, match=r"timed out after 0.5 s and was killed") as caught:
        run_node(
            RunCommandNode,
            {"command": "sleep 30 & sleep 30; echo done", "shell": True, "timeout": 0.5},
        )
    assert time.perf_counter() - started < 5
    assert caught.value.field == "timeout"


def test_fail_on_nonzero_and_bad_fields(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="exited with code 2: nope"):
        run_node(
            RunCommandNode,
            {
                "command": [
                    sys.executable,
                    "-c",
                    "import sys; sys.stderr.write('nope'); sys.exit(2)",
                ],
                "fail_on_nonzero": True,
            },
        )
    with pytest.raises(NodeError, match="does not exist") as caught:
        run_node(RunCommandNode, {"command": ["true"], "cwd": str(tmp_path / "missing")})
    assert caught.value.field == "cwd"
    with pytest.raises(ValidationError, match="command is empty"):
        RunCommandNode.Fields.model_validate({"command": []})
    with pytest.raises(ValidationError) as wrong:
        RunCommandNode.Fields.model_validate({"command": ["ls"], "timeout": "soon"})
    assert wrong.value.errors()[0]["loc"] == ("timeout",)
