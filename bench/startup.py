"""How long `glyphic` takes to print its help, as JSON lines (never a timed test).

Cases, each a fresh interpreter, interleaved round by round so that load on the machine
hits them alike: ``python -c pass`` (the floor), ``glyphic --help``, ``glyphic --version``,
``glyphic run --help`` and ``glyphic doctor --help``. Each line gives the median and the
minimum wall time of ``--runs`` starts and the median over the floor. The target is under
150 ms for the help and version commands (tests/cli/test_startup_imports.py checks what
they import, not how long they take).

Run: ``python bench/startup.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "glyphic --help": [sys.executable, "-m", "glyphic_desktop.cli.main", "--help"],
    "glyphic --version": [sys.executable, "-m", "glyphic_desktop.cli.main", "--version"],
    "glyphic run --help": [sys.executable, "-m", "glyphic_desktop.cli.main", "run", "--help"],
    "glyphic doctor --help": [
        sys.executable,
        "-m",
        "glyphic_desktop.cli.main",
        "doctor",
        "--help",
    ],
}


def _once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    """Time every case ``--runs`` times and print one JSON line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="starts per case (default 21)")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "0")
    for argv in CASES.values():  # warm the file cache and the .pyc files
        _once(argv)
    samples: dict[str, list[float]] = {case: [] for case in CASES}
    for _ in range(args.runs):
        for case, argv in CASES.items():
            samples[case].append(_once(argv))
    floor = statistics.median(samples["python -c pass"])
    for case, values in samples.items():
        median = statistics.median(values)
        print(
            json.dumps(
                {
                    "case": case,
                    "median_ms": round(median * 1000, 1),
                    "min_ms": round(min(values) * 1000, 1),
                    "over_python_ms": round((median - floor) * 1000, 1),
                    "runs": len(values),
                    "cpus": os.cpu_count(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
