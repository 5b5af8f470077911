"""Child output limits: a huge line or a flood of prints cannot blow up the parent or the log.

Before: one 100 MB line from a Code child pushed the parent to 700 MB and stored a
100-million-character log row; 200,000 prints made 200,000 rows. Now a line is cut at
64 KiB (with a marker), a node keeps 10,000 lines per run (then one "N more lines
dropped" line), and pipes are read in chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import run_node

from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.command import RunCommandNode

MB = 1024 * 1024
LINE_CAP = 64 * 1024
#: Peak growth of the parent's RSS allowed while a child writes 100 MB lines (generous:
#: a behaviour bound, the old code held several copies of the line).
RSS_BOUND = 80 * MB

HUGE_RAW_LINE = (
    "import os\n"
    "chunk = b'x' * (1024 * 1024)\n"
    "for _ in range(100):\n"
    "    os.write(1, chunk)\n"  # past sys.stdout: straight into the pipe
    "os.write(1, b'\\n')\n"
    "result = 'done'\n"
)
HUGE_PRINT = "print('y' * (100 * 1024 * 1024))\nresult = 'done'\n"


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """Sample this process's RSS every few ms; ``["growth"]`` is the peak above the start."""
    me = psutil.Process()
    start = me.memory_info().rss
    seen = {"peak": start, "growth": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen["peak"] = max(seen["peak"], me.memory_info().rss)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()
        seen["growth"] = seen["peak"] - start


def test_a_100_mb_line_keeps_the_parent_small_and_is_cut() -> None:
    for src in (HUGE_RAW_LINE, HUGE_PRINT):
        with peak_rss() as rss:
            result = run_node(CodeNode, {"code": src, "memory_mb": 1024, "timeout": 120})
        assert result.output == "done"
        assert rss["growth"] < RSS_BOUND, f"parent grew {rss['growth'] / MB:.0f} MB"
        [line] = result.messages("info")
        assert len(line) < LINE_CAP + 100
        assert "line cut:" in line


def test_a_100_mb_command_line_keeps_the_parent_small() -> None:
    script = "import sys\nfor _ in range(100): sys.stdout.write('z' * 1048576)\nprint()\n"
    with peak_rss() as rss:
        out = run_node(
            RunCommandNode, {"command": [sys.executable, "-c", script], "timeout": 120}
        ).output
    assert out["exit_code"] == 0
    assert rss["growth"] < RSS_BOUND, f"parent grew {rss['growth'] / MB:.0f} MB"
    assert len(out["stdout"]) < LINE_CAP + 100 and "line cut:" in out["stdout"]


def test_a_flood_of_lines_is_capped_per_node(monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LOG_LINES", "500")
    monkeypatch.setenv("GLYPHIC_CHILD_LINE_BYTES", "1000")
    src = "for i in range(3000):\n    print(i, 'a' * 2000)\nresult = 1\n"
    result = run_node(CodeNode, {"code": src})
    info = result.messages("info")
    assert len(info) == 500 and info[0].startswith("0 aaa") and info[-1].startswith("499 ")
    assert all(len(m) < 1100 for m in info)
    assert [m for m in result.messages("warn") if "more lines dropped" in m] == [
        "2500 more lines dropped (a node keeps 500 lines per run; "
        "GLYPHIC_CHILD_LOG_LINES changes it)"
    ]
    out = (
        run_node(RunCommandNode, {"command": "seq 1 3000", "shell": True})
        .output["stdout"]
        .splitlines()
    )
    assert out[:2] == ["1", "2"] and out[499] == "500"
    assert out[500:] == ["… [2500 more lines dropped]"]


def _glyphic_run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "run", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def test_stored_log_rows_are_capped(database_url, db, tmp_path: Path) -> None:
    src = (
        "import os\n"
        "os.write(1, b'h' * (20 * 1024 * 1024) + b'\\n')\n"
        "for i in range(20000):\n"
        "    print('line', i)\n"
        "result = 1\n"
    )
    doc = {
        "nodes": [
            {"id": "s", "type": "manual", "data": {"label": "Start", "fields": {}}},
            {
                "id": "c",
                "type": "code",
                "data": {"label": "Loud", "fields": {"code": src, "timeout": 120}},
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
    path = tmp_path / "loud.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = _glyphic_run(path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT level, length(message), message FROM execution_logs "
                "WHERE execution_id = :id AND node_id = 'c' ORDER BY timestamp, id"
            ),
            {"id": summary["execution_id"]},
        ).all()
    child = [r for r in rows if r[0] == "info" and r[2].startswith(("line ", "hhh"))]
    assert len(child) == 10_000  # the cut huge line and 9,999 prints
    assert len(rows) < 10_010  # plus the engine's own few lines about the node
    assert max(r[1] for r in rows) < LINE_CAP + 100
    assert "line cut:" in child[0][2]
    dropped = [r[2] for r in rows if "more lines dropped" in r[2]]
    assert dropped and dropped[0].startswith("10001 more lines dropped")


def test_read_lines_caps_across_chunk_boundaries() -> None:
    import asyncio

    from glyphic_desktop.nodes.child_output import read_lines

    async def collect(pieces: list[bytes], **kwargs) -> tuple[list[tuple[bytes, int]], bool]:
        reader = asyncio.StreamReader()
        for piece in pieces:
            reader.feed_data(piece)
        reader.feed_eof()
        got: list[tuple[bytes, int]] = []
        ended = await read_lines(reader, lambda line, cut: got.append((line, cut)), **kwargs)
        return got, ended

    long_prefix = b'{"type": "result", "value": "'
    pieces = [b"short\n", long_prefix[:7], long_prefix[7:] + b"v" * 2000 + b'"}\n', b"x" * 900]
    got, ended = asyncio.run(
        collect(
            pieces,
            max_line=300,
            long_line=lambda head: head.startswith(b'{"type": "result"'),
            long_cap=10_000,
        )
    )
    assert got[0] == (b"short", 0)
    assert got[1] == (long_prefix + b"v" * 2000 + b'"}', 0)  # the result line is not cut
    assert got[2] == (b"x" * 300, 600)  # a last line without a newline is cut and kept
    assert ended is False
    got, ended = asyncio.run(collect([b"a\n\nb\n"], max_line=300))
    assert got == [(b"a", 0), (b"", 0), (b"b", 0)] and ended is True


def test_kept_output_bytes_are_capped_per_node(monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LOG_BYTES", "2000")
    src = "for i in range(100):\n    print('b' * 99)\nresult = 1\n"
    result = run_node(CodeNode, {"code": src})
    assert len(result.messages("info")) == 20  # 20 lines of 99 characters fit in 2000
    assert [m for m in result.messages("warn") if "more lines dropped" in m] == [
        "80 more lines dropped (a node keeps 2000 bytes of output per run; "
        "GLYPHIC_CHILD_LOG_BYTES changes it)"
    ]


# -- a cut never splits a secret -----------------------------------------------------------
# Masking runs on whole lines after they were cut; a secret the cut split in two left its
# head in the log (a child that pads its output so the cut lands mid-token). Now the
# reader keeps the longest secret's length past the cap and masks before it cuts.

SECRET = "sk-live-7f3a9c1e5b2d4f6a8c0e2b4d6f8a1c3e"
CUT = 300


def _straddling(prefix: str) -> str:
    """Python that writes a line whose secret starts 12 characters before the cut."""
    pad = CUT - 12 - len(prefix)
    return f"'{'p' * pad}' + {SECRET!r} + '{'q' * 50}'"


def _leaks(text: str) -> bool:
    return any(SECRET[i : i + 8] in text for i in range(len(SECRET) - 7))


def _masked_services() -> dict[str, Any]:
    from glyphic_desktop.secrets.masking import SecretMasker

    return {"masker": SecretMasker([SECRET])}


def test_a_command_line_cut_inside_a_secret_shows_none_of_it(monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LINE_BYTES", str(CUT))
    script = f"import sys\nprint({_straddling('')})\nprint({_straddling('')}, file=sys.stderr)\n"
    out = run_node(
        RunCommandNode,
        {"command": [sys.executable, "-c", script]},
        services=_masked_services(),
    ).output
    for stream in ("stdout", "stderr"):
        assert "line cut:" in out[stream], out[stream]
        assert not _leaks(out[stream]), out[stream]
        assert "••••" in out[stream]  # the masked secret is marked


def test_a_code_print_raw_write_or_stderr_cut_inside_a_secret_shows_none_of_it(
    monkeypatch,
) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LINE_BYTES", str(CUT))
    src = (
        "import os, sys\n"
        f"print({_straddling('')})\n"
        f"os.write(1, ({_straddling('')} + '\\n').encode())\n"
        f"print({_straddling('')}, file=sys.stderr)\n"
        "result = 'done'\n"
    )
    result = run_node(CodeNode, {"code": src}, services=_masked_services())
    assert result.output == "done"
    lines = result.messages("info") + result.messages("warn")
    assert len(lines) == 3 and all("line cut:" in line for line in lines), lines
    assert not any(_leaks(line) for line in lines), lines
    assert all(len(line) < CUT + 80 for line in lines)


def test_without_secrets_a_cut_line_keeps_exactly_the_cap(monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LINE_BYTES", str(CUT))
    out = run_node(
        RunCommandNode, {"command": [sys.executable, "-c", f"print('r' * {CUT + 500})"]}
    ).output["stdout"]
    assert out.startswith("r" * CUT + " … [line cut: 500 more bytes]")


def test_a_cut_code_line_is_marked_once_with_what_was_cut(monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_CHILD_LINE_BYTES", str(CUT))
    src = (
        "import os, sys\n"
        f"print('a' * {CUT + 500})\n"
        f"os.write(1, b'b' * {CUT + 500} + b'\\n')\n"
        f"print('c' * {CUT + 500}, file=sys.stderr)\n"
        "result = 1\n"
    )
    result = run_node(CodeNode, {"code": src})
    assert result.messages("info") == [
        "a" * CUT + " … [line cut: 500 more characters]",
        "b" * CUT + " … [line cut: 500 more bytes]",
    ]
    assert result.messages("warn") == ["c" * CUT + " … [line cut: 500 more bytes]"]
