"""A Code or Run command node that times out or is cancelled prints no asyncio traceback.

Before: every such timeout printed "_GatheringFuture exception was never retrieved" with a
CancelledError traceback on stderr (``wait_for(gather(...))`` cancelled from outside).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_runs import events_until_node_started, start_json_run

CHILD_SLEEPS = "import time\ntime.sleep(60)\nresult = 1"


def _workflow(path: Path, node: dict, node_data: dict | None = None) -> Path:
    doc = {
        "nodes": [
            {"id": "s", "type": "manual", "data": {"label": "Start", "fields": {}}},
            {
                "id": "c",
                "type": node["type"],
                "data": {"label": "Slow", **(node_data or {}), "fields": node["fields"]},
            },
        ],
        "edges": [
            {
                "id": 1,
                "source": "s",
                "target": "c",
                "sourceHandle": "output",
                "targetHandle": "input",
            }
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def _assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "never retrieved" not in stderr, stderr
    assert "CancelledError" not in stderr, stderr


@pytest.mark.parametrize(
    ("node", "node_data"),
    [
        # The engine's per-node timeout cancels the node's task.
        ({"type": "code", "fields": {"code": CHILD_SLEEPS}}, {"timeout": 1}),
        # The Code node's own timeout.
        ({"type": "code", "fields": {"code": CHILD_SLEEPS, "timeout": 1}}, None),
        # Run command under the engine's timeout.
        ({"type": "run_command", "fields": {"command": ["sleep", "60"]}}, {"timeout": 1}),
    ],
    ids=["code-node-timeout", "code-field-timeout", "run-command-node-timeout"],
)
def test_timeout_prints_no_traceback(database_url, tmp_path: Path, node, node_data) -> None:
    result = _run(_workflow(tmp_path / "slow.json", node, node_data))
    assert result.returncode == 1, result.stderr
    assert "timed out after 1 s" in result.stdout + result.stderr
    _assert_quiet(result.stderr)


def test_ctrl_c_during_code_prints_no_traceback(database_url, tmp_path: Path) -> None:
    path = _workflow(tmp_path / "slow.json", {"type": "code", "fields": {"code": CHILD_SLEEPS}})
    proc = start_json_run(path)
    events_until_node_started(proc, "c")
    proc.send_signal(signal.SIGINT)
    _rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    _assert_quiet(err)
