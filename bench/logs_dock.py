"""Logs dock throughput: appending 10,000 lines in 50 ms batches, with and without filters.

``python bench/logs_dock.py [--lines N] [--batch B]`` prints one JSON line per filter setting
with ``lines``, ``batch``, ``filter``, ``append_ms`` (all batches), ``per_batch_ms_max``
and ``lines_per_s``. A 10,000-line second must cost well under a second of GUI time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication

from glyphic_desktop.ui.docks.logs import LogLine, LogsDock


def _lines(count: int) -> list[LogLine]:
    now = datetime.now()
    levels = ("debug", "info", "info", "warn", "error")
    return [
        LogLine(now, levels[i % 5], str(i % 7), f"Node {i % 7}", f"item {i} processed ok")
        for i in range(count)
    ]


def measure(lines: int, batch: int, setting: str) -> dict[str, object]:
    """Append ``lines`` in batches to a fresh dock under one filter setting."""
    dock = LogsDock()
    dock.resize(900, 300)
    dock.show()
    dock.set_nodes((str(i), f"Node {i}") for i in range(7))
    if setting == "level":
        dock.view.set_min_level("warn")
    elif setting == "node":
        dock.view.set_node_filter("3")
    elif setting == "search":
        dock.view.search.setText("item 99")
    data = _lines(lines)
    app = QApplication.instance()
    worst = 0.0
    started = time.perf_counter()
    for start in range(0, lines, batch):
        t0 = time.perf_counter()
        dock.append_lines(data[start : start + batch])
        app.processEvents()
        worst = max(worst, time.perf_counter() - t0)
    total = time.perf_counter() - started
    dock.close()
    dock.deleteLater()
    return {
        "lines": lines,
        "batch": batch,
        "filter": setting,
        "append_ms": round(total * 1000, 1),
        "per_batch_ms_max": round(worst * 1000, 2),
        "lines_per_s": round(lines / total),
    }


def main() -> int:
    """Print one JSON line per filter setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    for setting in ("none", "level", "node", "search"):
        print(json.dumps(measure(args.lines, args.batch, setting)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
