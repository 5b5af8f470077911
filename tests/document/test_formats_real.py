"""Real files written by other people (tests/data/formats/<format>/, see each SOURCES):
each converts with its nodes, wires and data, and round-trips through the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.formats import BUILTIN_NODE_TYPES, detect_format
from glyphic_desktop.document.formats.nodered import flow_items
from glyphic_desktop.document.io import read_workflow_file
from glyphic_desktop.store.database import Database

DATA = Path(__file__).parents[1] / "data" / "formats"
FORMATS = ("comfyui", "comfyui_api", "n8n", "reactflow", "nodered")
FILES = sorted(DATA.glob("*/*.json"))


def _raw(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _expected_nodes_edges(fmt: str, raw: Any) -> tuple[int, int]:
    """How many nodes and wires the file has, counted from the foreign JSON itself."""
    if fmt == "comfyui":
        return len(raw["nodes"]), len(raw["links"])
    if fmt == "comfyui_api":
        prompt = raw.get("prompt", raw)
        links = sum(
            1
            for node in prompt.values()
            for value in node["inputs"].values()
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in prompt
        )
        return len(prompt), links
    if fmt == "n8n":
        names = {n["name"] for n in raw["nodes"]}
        nodes = [n for n in raw["nodes"] if n["type"] != "n8n-nodes-base.stickyNote"]
        wires = sum(
            1
            for source, kinds in raw["connections"].items()
            if source in names
            for outputs in kinds.values()
            for targets in outputs
            for target in targets or []
            if target["node"] in names
        )
        return len(nodes), wires
    if fmt == "reactflow":
        state = raw
        for key in ("flow", "rfInstance"):
            state = raw.get(key, state)
        nodes = [n for n in state["nodes"] if n.get("type") != "group"]
        return len(nodes), len(state["edges"])
    items = flow_items(raw)
    flow = [i for i in items if i["type"] not in ("tab", "subflow", "group") and "x" in i]
    ids = {i["id"] for i in flow}
    wires = sum(1 for i in flow for out in i.get("wires", []) for t in out if t in ids)
    links = sum(
        1
        for i in flow
        if i["type"] in ("link out", "link call") and i.get("mode") != "return"
        for t in i.get("links", [])
        if t in ids
    )
    return len(flow), wires + links


def test_every_format_has_five_real_files_with_sources() -> None:
    for fmt in FORMATS:
        files = list((DATA / fmt).glob("*.json"))
        assert len(files) >= 5, fmt
        sources = (DATA / fmt / "SOURCES").read_text(encoding="utf-8")
        for path in files:
            assert path.name in sources
            assert path.stat().st_size < 200_000
    apps = (DATA / "reactflow" / "SOURCES").read_text(encoding="utf-8")
    assert all(app in apps for app in ("ChainForge", "flojoy-ai", "FlowiseAI"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_file_converts_with_its_nodes_wires_and_data(path: Path) -> None:
    fmt = path.parent.name
    raw = _raw(path)
    assert detect_format(raw) == fmt
    result = read_workflow_file(path)
    document = result.document
    nodes, edges = _expected_nodes_edges(fmt, raw)
    assert (len(document.nodes), len(document.edges)) == (nodes, edges)
    assert result.report is not None
    assert result.report.nodes == nodes
    # Grouped: never one line per placeholder node.
    placeholders = sum(p["count"] for p in result.report.placeholders)
    assert sum("placeholder" in note for note in result.notes) <= 1
    assert placeholders == sum(n.type not in BUILTIN_NODE_TYPES for n in document.nodes)
    _check_placeholder_data(fmt, raw, document)
    if fmt != "comfyui_api":  # positions come from the file
        assert len({tuple(node.pos) for node in document.nodes}) > 1 or len(document.nodes) < 2


def _check_placeholder_data(fmt: str, raw: Any, document: Any) -> None:
    """A placeholder keeps the foreign node's data exactly."""
    placeholders = [n for n in document.nodes if n.type not in BUILTIN_NODE_TYPES]
    if fmt == "n8n":
        by_name = {n["name"]: n for n in raw["nodes"]}
        for node in placeholders:
            source = by_name[node.data.label]
            assert json.dumps(node.data.fields) == json.dumps(source.get("parameters", {}))
    elif fmt == "nodered":
        by_id = {i["id"]: i for i in flow_items(raw)}
        for node in placeholders:
            source = by_id[node.id]
            kept = {k: v for k, v in source.items() if k not in ("id", "type", "x", "y", "z", "g")}
            kept.pop("wires", None)
            assert json.dumps(node.data.fields) == json.dumps(kept)
    elif fmt == "comfyui":
        by_id = {str(n["id"]): n for n in raw["nodes"]}
        for node in placeholders:
            widgets = by_id[node.id].get("widgets_values")
            if widgets is not None:
                assert json.dumps(node.data.fields["widgets_values"]) == json.dumps(widgets)
    elif fmt == "comfyui_api":
        prompt = raw.get("prompt", raw)
        for node in placeholders:
            for name, value in prompt[node.id]["inputs"].items():
                if not (isinstance(value, list) and len(value) == 2 and str(value[0]) in prompt):
                    assert json.dumps(node.data.fields[name]) == json.dumps(value)
    elif fmt == "reactflow":
        state = raw
        for key in ("flow", "rfInstance"):
            state = raw.get(key, state)
        by_id = {n["id"]: n for n in state["nodes"]}
        for node in placeholders:
            source_data = by_id[node.id].get("data") or {}
            for key, value in source_data.items():
                if key not in ("label", "nodeType", "fields"):
                    assert json.dumps(node.data.model_extra[key]) == json.dumps(value)


def _shape(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": [
            (n["id"], n["type"], n["pos"], json.dumps(n["data"].get("fields"), sort_keys=True))
            for n in data["nodes"]
        ],
        "edges": [
            (e["source"], e["sourceHandle"], e["target"], e["targetHandle"]) for e in data["edges"]
        ],
        "groups": [g.get("title") for g in data["groups"]],
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_files_round_trip_through_the_database(
    fmt: str, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in sorted((DATA / fmt).glob("*.json")):
        name = f"{fmt} {path.stem}"
        assert main(["import", str(path), "--name", name]) == 0, capsys.readouterr().err
        converted = read_workflow_file(path).document.to_data()
        capsys.readouterr()
        assert main(["export", name]) == 0
        exported = json.loads(capsys.readouterr().out)
        assert _shape(exported) == _shape(converted), path.name
        # Placeholders come back byte for byte (data, extra keys and all).
        for before, after in zip(converted["nodes"], exported["nodes"], strict=True):
            if before["type"] not in BUILTIN_NODE_TYPES:
                assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
