"""`glyphic run`: files and stored workflows, streaming, JSON lines, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.nodes.registry import catalog, default_registry

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from engine.helpers import ALL  # noqa: E402


@pytest.fixture
def test_nodes():
    """The engine's test node types, available to the CLI through the catalog."""
    default_registry()
    added = [cls for cls in ALL if catalog().get(cls.key) is None]
    for cls in added:
        catalog().register(cls)
    yield
    for cls in added:
        catalog().unregister(cls.key)


def _workflow(path: Path, nodes, edges=(), **extra) -> Path:
    data = {
        "nodes": [
            {
                "id": n[0],
                "type": n[1],
                "data": {"label": n[3] if len(n) > 3 else "", "fields": n[2] if len(n) > 2 else {}},
            }
            for n in nodes
        ],
        "edges": [
            {"id": i, "source": s, "target": t, "sourceHandle": "output", "targetHandle": "input"}
            for i, (s, t) in enumerate(edges, start=1)
        ],
        **extra,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


GOOD = [("s", "t.start"), ("l", "t.log", {}, "Say"), ("a", "t.set", {"values": {"x": 1}})]
GOOD_EDGES = [("s", "l"), ("l", "a")]


def test_a_file_runs_streams_and_exits_0(database_url, test_nodes, tmp_path, capsys):
    path = _workflow(tmp_path / "hello.json", GOOD, GOOD_EDGES)
    assert main(["run", str(path), "--input", '{"q": 1}']) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("workflow 'hello' (stored as ")
    assert any("INFO  [Say] got {'q': 1}" in line for line in lines)
    assert any("WARN  [Say] careful" in line for line in lines)
    assert lines[-1].startswith("completed in ") and "3 ran, 0 skipped, 0 failed" in lines[-1]
    # the same file again: nothing to store, same workflow; by name works too
    assert main(["run", str(path)]) == 0
    assert "(same as stored" in capsys.readouterr().out
    assert main(["run", "hello"]) == 0
    capsys.readouterr()
    _workflow(path, [*GOOD, ("b", "t.set")], [*GOOD_EDGES, ("a", "b")])
    assert main(["run", str(path)]) == 0
    assert "(updated stored" in capsys.readouterr().out


def test_json_lines(database_url, test_nodes, tmp_path, capsys):
    path = _workflow(tmp_path / "j.json", GOOD, GOOD_EDGES)
    assert main(["run", str(path), "--json", "--input", '{"items": [1, 2]}']) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "run_started"
    assert {"node_started", "node_output", "node_finished", "log"} <= {e["event"] for e in events}
    summary = events[-1]
    assert summary["event"] == "summary" and summary["status"] == "completed"
    assert summary["nodes_run"] == 3 and summary["result"] == {"items": [1, 2], "x": 1}


def test_a_failed_run_exits_1(database_url, test_nodes, tmp_path, capsys):
    path = _workflow(
        tmp_path / "fail.json",
        [("s", "t.start"), ("f", "t.fail", {"message": "nope"}, "Boom")],
        [("s", "f")],
    )
    assert main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    assert "✗ [Boom] failed: nope" in captured.out
    assert "failed: node 'Boom' (f): nope" in captured.err


def test_a_failed_preflight_exits_2_listing_every_problem(
    database_url, test_nodes, tmp_path, capsys
):
    path = _workflow(
        tmp_path / "bad.json",
        [
            ("u", "t.unknown", {}, "Mystery"),
            ("e", "t.echo", {"value": "{{ a + }}"}),
            ("w", "t.sleep", {"seconds": "x"}),
        ],
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cannot run: 3 problems" in err
    assert "node 'Mystery' (u): unknown node type 't.unknown'" in err
    assert "node e: field 'value': expression '{{ a + }}' does not parse" in err
    assert "node w: field 'seconds'" in err
    assert main(["run", str(path), "--json"]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["problem"] * 3 + ["summary"]
    assert lines[0]["node_id"] == "u" and lines[-1]["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.json"], "missing.json: no such file"),
        (["run", "no such workflow"], "no workflow named 'no such workflow'"),
        (["run", "x", "--input", "{bad"], "--input is not valid JSON"),
        (["run", "x", "--input", "@/nonexistent/in.json"], "--input: cannot read"),
        (["run", "x", "--input", "[1,2]"], "--input must be a JSON object"),
        (["run", "x", "--input", '"text"'], "--input must be a JSON object"),
    ],
)
def test_bad_usage_exits_2(database_url, test_nodes, args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_an_unloadable_file_exits_2(database_url, test_nodes, tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{ not json", encoding="utf-8")
    assert main(["run", str(path)]) == 2
    assert "broken.json" in capsys.readouterr().err


def test_run_help_and_missing_argument(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    assert "FILE|NAME|ID" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2


def test_ctrl_c_cancels_cleanly_and_exits_1(database_url, tmp_path):
    plugin_dir = tmp_path / "plugin"
    dist = plugin_dir / "glyphic_engine_test_nodes-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: glyphic-engine-test-nodes\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[glyphic.nodes]\ntest = engine.helpers:plugin\n")
    path = _workflow(
        tmp_path / "slow.json",
        [("s", "t.start"), ("p", "t.proc", {}, "Child"), ("w", "t.sleep", {"seconds": 60}, "Wait")],
        [("s", "p"), ("s", "w")],
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(TESTS)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "run", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        started = {e.get("node_id") for e in events if e["event"] == "node_started"}
        if {"p", "w"} <= started:
            break
    time.sleep(0.3)  # let the child process start
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children  # the Run-command-like node's child
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    events += [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 1, err
    assert took < 5
    summary = events[-1]
    assert summary["event"] == "summary" and summary["status"] == "cancelled"
    finished = [e for e in events if e["event"] == "run_finished"]
    assert finished[0]["status"] == "cancelled"
    _gone, alive = psutil.wait_procs(children, timeout=2)
    assert not alive
