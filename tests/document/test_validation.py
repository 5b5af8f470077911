"""Loading Glyphic documents: malformed JSON, validation errors with JSON paths, structure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glyphic_desktop.document.io import (
    load_document_file,
    load_document_text,
    parse_document_data,
)
from glyphic_desktop.document.validation import DocumentError, DocumentProblem, json_path


def _node(node_id, **extra):
    return {"id": node_id, "type": "log", "pos": [0, 0], **extra}


def _problems(excinfo: pytest.ExceptionInfo[DocumentError]) -> list[str]:
    return [str(problem) for problem in excinfo.value.problems]


def test_malformed_json_names_line_and_column() -> None:
    text = '{\n  "nodes": [\n    {"id": "1", "type": "log"}\n    {"id": "2"}\n  ]\n}'
    with pytest.raises(DocumentError) as excinfo:
        load_document_text(text, source="workflow.json")
    assert str(excinfo.value) == (
        "workflow.json: invalid JSON at line 4, column 5: Expecting ',' delimiter"
    )
    assert excinfo.value.exit_code == 2


def test_empty_file_is_reported_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("  \n", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"empty\.json: the file is empty"):
        load_document_file(path)


def test_validation_reports_every_error_at_once_with_json_paths() -> None:
    data = {
        "last_node_id": "many",
        "nodes": [
            _node("1"),
            _node("2"),
            _node("3"),
            {"id": "4", "type": "gmail", "data": {"label": "Mail", "fields": ["to"]}},
            {"type": "log", "pos": [1]},
        ],
        "edges": [{"id": "first", "source": "1", "target": "2"}],
    }
    with pytest.raises(DocumentError) as excinfo:
        load_document_text(json.dumps(data), source="flow.json")
    problems = _problems(excinfo)
    assert (
        "last_node_id: Input should be a valid integer, unable to parse string as an "
        "integer, got 'many'"
    ) in problems
    assert any(
        p.startswith("nodes[3].data.fields: Input should be a valid dictionary")
        and p.endswith("(node 'Mail' (4))")
        for p in problems
    ), problems
    assert "nodes[4].id: Field required" in problems
    assert any(p.startswith("nodes[4].pos: List should have at least 2 items") for p in problems)
    assert any(p.startswith("edges[0].id: Input should be a valid integer") for p in problems)
    # One line per problem, each naming the file.
    lines = str(excinfo.value).splitlines()
    assert len(lines) == len(problems) >= 5
    assert all(line.startswith("flow.json: ") for line in lines)


def test_structural_problems_are_reported_together() -> None:
    data = {
        "last_node_id": 3,
        "last_link_id": 1,
        "nodes": [_node("1"), _node("node-12"), _node("1"), _node("abc")],
        "edges": [
            {"id": 1, "source": "1", "target": "node-12"},
            {"id": 1, "source": "1", "target": "ghost"},
            {"id": 5, "source": "nobody", "target": "abc"},
        ],
    }
    with pytest.raises(DocumentError) as excinfo:
        parse_document_data(data, source="s.json")
    assert _problems(excinfo) == [
        "nodes[2].id: duplicate node id '1' (also nodes[0])",
        "edges[1].id: duplicate edge id 1 (also edges[0])",
        "edges[1].target: no node has the id 'ghost'",
        "edges[2].source: no node has the id 'nobody'",
        "last_node_id: 3 is behind node id 'node-12' (nodes[1]); it must be at least 12",
        "last_link_id: 1 is behind edge id 5 (edges[2]); it must be at least 5",
    ]


def test_structural_and_type_problems_in_one_report() -> None:
    data = {
        "nodes": [_node("1"), {"id": "2", "type": "log", "size": "big"}],
        "edges": [{"id": 1, "source": "1", "target": "9"}],
    }
    with pytest.raises(DocumentError) as excinfo:
        load_document_text(json.dumps(data))
    problems = _problems(excinfo)
    assert any(p.startswith("nodes[1].size:") and "(node 2)" in p for p in problems)
    assert "edges[0].target: no node has the id '9'" in problems


def test_counters_left_out_are_computed_not_reported() -> None:
    data = {
        "nodes": [_node("node-4"), _node(9)],
        "edges": [{"id": 7, "source": "node-4", "target": "9"}],
    }
    document = load_document_text(json.dumps(data))
    assert document.last_node_id == 9
    assert document.last_link_id == 7
    assert [node.id for node in document.nodes] == ["node-4", "9"]


def test_integer_node_and_edge_ends_become_strings() -> None:
    data = {
        "last_node_id": 2,
        "last_link_id": 1,
        "nodes": [_node(1), _node(2)],
        "edges": [{"id": 1, "source": 1, "target": 2}],
    }
    document = parse_document_data(data)
    assert [node.id for node in document.nodes] == ["1", "2"]
    assert (document.edges[0].source, document.edges[0].target) == ("1", "2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "the file holds a JSON array, not an object with 'nodes'"),
        ('"hello"', "the file holds a JSON string, not an object with 'nodes'"),
        ("42", "the file holds a JSON number"),
        (
            '[{"nodes": [], "connections": {}}, {"nodes": [], "connections": {}}]',
            "a JSON array of 2 workflows (each an n8n workflow export); import reads one",
        ),
        ("null", "the file holds null"),
        ('{"name": "x", "steps": []}', "the object has no 'nodes' (its keys: 'name', 'steps')"),
        (
            '{"3": {"class_type": "KSampler", "inputs": {}}}',
            "it is a ComfyUI API (prompt) file, which 'glyphic import' converts",
        ),
    ],
)
def test_not_a_workflow(text: str, expected: str) -> None:
    with pytest.raises(DocumentError) as excinfo:
        load_document_text(text, source="x.json")
    message = str(excinfo.value)
    assert message.startswith("x.json: not a Glyphic workflow: ")
    assert expected in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("sample", "title"),
    [
        ("comfyui_txt2img.json", "a ComfyUI workflow"),
        ("reactflow_flow.json", "a React Flow file"),
        ("n8n_orders.json", "an n8n workflow export"),
    ],
)
def test_foreign_file_in_the_strict_loader_says_import_converts_it(
    samples: Path, sample: str, title: str
) -> None:
    with pytest.raises(DocumentError) as excinfo:
        load_document_file(samples / sample)
    message = str(excinfo.value)
    assert "not a Glyphic workflow" in message
    assert title in message
    assert "which 'glyphic import' converts to a Glyphic workflow" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"nope\.json: cannot read the file: No such file"):
        load_document_file(tmp_path / "nope.json")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read the file: it is a directory"):
        load_document_file(tmp_path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"nodes": [], "name": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(DocumentError, match=r"not UTF-8 text \(byte 0xe9 at offset 26\)"):
        load_document_file(path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"nodes": [_node("1")]}).encode())
    assert load_document_file(path).nodes[0].id == "1"


def test_json_path_rendering() -> None:
    assert json_path(("nodes", 3, "data", "fields")) == "nodes[3].data.fields"
    assert json_path(("config", "odd key", 0)) == "config['odd key'][0]"
    assert json_path(()) == ""
    assert str(DocumentProblem("", "whole file")) == "whole file"


def test_counters_behind_in_an_otherwise_sound_document() -> None:
    data = {
        "last_node_id": 2,
        "last_link_id": 0,
        "nodes": [_node("1"), _node("step_7"), _node("x9y")],
        "edges": [{"id": 4, "source": "1", "target": "step_7"}],
    }
    with pytest.raises(DocumentError) as excinfo:
        load_document_text(json.dumps(data))
    assert _problems(excinfo) == [
        "last_node_id: 2 is behind node id 'step_7' (nodes[1]); it must be at least 7",
        "last_link_id: 0 is behind edge id 4 (edges[0]); it must be at least 4",
    ]


def test_positions_in_a_file_with_broken_entries_are_the_file_positions() -> None:
    data = {
        "last_node_id": 1,
        "nodes": [{"type": "log"}, _node("1"), _node("node-30")],
        "edges": ["not an edge", {"id": 2, "source": "node-30", "target": "1"}],
    }
    with pytest.raises(DocumentError) as excinfo:
        parse_document_data(data)
    problems = _problems(excinfo)
    assert "nodes[0].id: Field required" in problems
    assert any(p.startswith("edges[0]: Input should be a valid dictionary") for p in problems)
    assert "last_node_id: 1 is behind node id 'node-30' (nodes[2]); it must be at least 30" in (
        problems
    )
