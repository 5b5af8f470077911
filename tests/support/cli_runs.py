"""``glyphic run FILE --json`` as a real child process, read event by event (for tests that
interrupt a run while a node is under way)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GLYPHIC = [sys.executable, "-m", "glyphic_desktop.cli.main"]


def start_json_run(path: Path) -> subprocess.Popen[str]:
    """Start ``glyphic run PATH --json`` with stdout and stderr piped (text)."""
    return subprocess.Popen(
        [*GLYPHIC, "run", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def events_until_node_started(proc: subprocess.Popen[str], node_id: str) -> list[dict[str, Any]]:
    """Read the run's JSON events up to and including ``node_id``'s ``node_started``."""
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "node_started" and events[-1].get("node_id") == node_id:
            break
    return events
