"""Issue 10 §9: every line of ``glyphic run --json`` is strict JSON, and the summary's
``result`` is capped like ``node_output``.

NaN and the infinities become the strings "nan", "inf" and "-inf" (as in the stored
``output_data``); a strict reader (``parse_constant`` that raises) reads every line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.engine.sinks import JSON_OUTPUT_CAP

DOCUMENT = {
    "nodes": [
        {
            "id": "n1",
            "type": "manual",
            "pos": [0, 0],
            "data": {"label": "Start", "nodeType": "manual", "fields": {}},
            "inputs": [],
            "outputs": [{"name": "output", "type": "any", "links": []}],
        }
    ],
    "edges": [],
    "last_node_id": 1,
    "last_link_id": 0,
    "metadata": {"name": "Strict JSON"},
}


def _refuse(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON")


def strict_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_constant=_refuse) for line in text.splitlines() if line]


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    return path


def test_nan_and_infinity_are_strings_in_every_line(db, workflow_file: Path, capsys) -> None:
    capsys.readouterr()
    code = main(
        [
            "run",
            str(workflow_file),
            "--json",
            "--input",
            '{"x": NaN, "y": [Infinity, -Infinity], "z": {"deep": [1.5, NaN]}}',
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = strict_lines(out)  # raises on NaN / Infinity
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["status"] == "completed"
    expected = {"x": "nan", "y": ["inf", "-inf"], "z": {"deep": [1.5, "nan"]}}
    assert summary["result"] == expected
    (output,) = [line for line in lines if line["event"] == "node_output"]
    assert output["outputs"]["output"] == expected


def test_the_summary_result_is_capped_like_node_output(db, workflow_file: Path, capsys) -> None:
    big = "word " * 50_000  # 250 KB
    capsys.readouterr()
    code = main(["run", str(workflow_file), "--json", "--input", json.dumps({"text": big})])
    out = capsys.readouterr().out
    assert code == 0
    lines = strict_lines(out)
    summary = lines[-1]
    (output,) = [line for line in lines if line["event"] == "node_output"]
    for capped in (summary["result"], output["outputs"]["output"]):
        assert capped["__truncated__"] is True
        assert capped["bytes"] > JSON_OUTPUT_CAP
        assert len(json.dumps(capped)) < 2 * JSON_OUTPUT_CAP
    assert all(len(line) < 4 * JSON_OUTPUT_CAP for line in out.splitlines())
