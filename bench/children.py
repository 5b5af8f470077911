"""Figures for Code and Run command children, printed as JSON lines (never a timed test).

- ``start``: milliseconds per run of a trivial Code node and Run command node, with the OS
  sandbox (``GLYPHIC_SANDBOX=auto``) and without it (``off``);
- ``huge_line``: how much the parent's RSS grows while a Code child writes one 100 MB line
  (read in chunks and cut at 64 KiB, so it should stay a few MB).

Runs under a temporary GLYPHIC_HOME; needs no database. Run: ``python bench/children.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glyphic_desktop.document.model import Node, NodeData
from glyphic_desktop.nodes.base import NodeContext, NodeType
from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.command import RunCommandNode
from glyphic_desktop.nodes.child_sandbox import unavailable_reason

HUGE_LINE = (
    "import os\n"
    "chunk = b'x' * (1024 * 1024)\n"
    "for _ in range(100):\n"
    "    os.write(1, chunk)\n"
    "os.write(1, b'\\n')\n"
    "result = 1\n"
)


def _run(cls: type[NodeType], fields: dict) -> None:
    model = cls.Fields.model_validate(fields)
    node = Node(id="b", type=cls.key, data=NodeData(label="bench", fields=fields))
    ctx = NodeContext(node=node, fields=model, inputs={}, log=lambda *a, **k: None)
    asyncio.run(cls().run(ctx))


def _emit(**values: object) -> None:
    print(json.dumps(values), flush=True)


def bench_start(runs: int) -> None:
    cases = ((CodeNode, {"code": "result = 1"}), (RunCommandNode, {"command": ["true"]}))
    for mode in ("auto", "off"):
        os.environ["GLYPHIC_SANDBOX"] = mode
        for cls, fields in cases:
            _run(cls, fields)  # warm up
            started = time.perf_counter()
            for _ in range(runs):
                _run(cls, fields)
            ms = (time.perf_counter() - started) / runs * 1000
            _emit(case="start", node=cls.key, sandbox=mode, ms_per_run=round(ms, 1))
    os.environ.pop("GLYPHIC_SANDBOX", None)


def bench_huge_line() -> None:
    me = psutil.Process()
    start = me.memory_info().rss
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _run(CodeNode, {"code": HUGE_LINE, "memory_mb": 1024, "timeout": 120})
    finally:
        stop.set()
        sampler.join()
    _emit(case="huge_line", line_mb=100, parent_rss_growth_mb=round((peak[0] - start) / 2**20, 1))


def main() -> int:
    """Run every case and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="glyphic-bench-home-")
    os.environ["GLYPHIC_HOME"] = home
    try:
        _emit(case="info", sandbox_unavailable=unavailable_reason())
        bench_start(args.runs)
        bench_huge_line()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
