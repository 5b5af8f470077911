"""Figures for the embedded PostgreSQL lifecycle, printed as JSON lines (never a timed test).

Cases: the first start of a fresh cluster (initdb + start + CREATE DATABASE), the start of an
existing stopped cluster, and ``ensure_running()`` when the server already runs (the check
``Database`` makes before every new pooled connection). Every root is a temporary directory
removed afterwards, and every server started here is stopped.

Run: ``python bench/embedded_start.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from glyphic_desktop.store.embedded import EmbeddedPostgres


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _emit(case: str, samples: list[float], **extra: object) -> None:
    print(
        json.dumps(
            {"case": case, "median_ms": _ms(statistics.median(samples)), "runs": len(samples)}
            | extra
        ),
        flush=True,
    )


def main() -> None:
    """Measure and print one JSON line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh clusters to create")
    parser.add_argument("--calls", type=int, default=2000, help="ensure_running() calls")
    args = parser.parse_args()

    first: list[float] = []
    restart: list[float] = []
    fast: list[float] = []
    for repeat in range(args.repeats):
        base = Path(tempfile.mkdtemp(prefix="glyphic-bench-"))
        server = EmbeddedPostgres(base / "pg")
        try:
            started = time.perf_counter()
            server.ensure_running()
            first.append(time.perf_counter() - started)
            if repeat == 0:
                for _ in range(args.calls):
                    started = time.perf_counter()
                    server.ensure_running()
                    fast.append(time.perf_counter() - started)
            server.stop()
            started = time.perf_counter()
            EmbeddedPostgres(base / "pg").ensure_running()
            restart.append(time.perf_counter() - started)
        finally:
            server.discard()
            shutil.rmtree(base, ignore_errors=True)

    _emit("first_start_fresh_cluster", first)
    _emit("start_existing_cluster", restart)
    _emit("ensure_running_when_running", fast, p95_ms=_ms(sorted(fast)[int(len(fast) * 0.95)]))


if __name__ == "__main__":
    main()
