"""Unknown keys survive a load/dump round trip at every level of the document."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from glyphic_desktop.document.io import load_document_file, load_document_text


def _without_port_links(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for node in data["nodes"]:
        for port in node.get("inputs", []):
            port.pop("link", None)
        for port in node.get("outputs", []):
            port.pop("links", None)
    return data


def test_extra_keys_at_every_level_survive(samples: Path) -> None:
    original = json.loads((samples / "glyphic_extras.json").read_text(encoding="utf-8"))
    document = load_document_file(samples / "glyphic_extras.json")
    dumped = document.to_data()
    # Optional keys the file left out come back at their defaults; nothing else differs.
    for node in original["nodes"]:
        node.setdefault("size", None)
    dumped_nodes = dumped["nodes"]
    for node in dumped_nodes:
        node.setdefault("size", None)
    assert _without_port_links(dumped) == _without_port_links(original)
    # Spot checks per level.
    assert dumped["schemaHint"] == {"from": "a newer Glyphic", "level": 2}
    assert dumped_nodes[0]["colour"] == "#223344"
    assert dumped_nodes[0]["data"]["ui"] == {"pinned": True}
    assert dumped_nodes[1]["data"]["futureSetting"] == 7
    assert dumped_nodes[1]["inputs"][0]["hint"] == "anything"
    assert dumped_nodes[1]["outputs"][0]["color"] == "red"
    assert dumped["edges"][0]["style"] == {"stroke": "#f00"}
    assert dumped["groups"][0]["locked"] is True
    assert dumped["config"]["futureConfig"] == {"x": 1}
    assert dumped["metadata"]["custom"] == [1, "two"]


def test_second_round_trip_is_identical(samples: Path) -> None:
    first = load_document_file(samples / "glyphic_extras.json").to_data()
    second = load_document_text(json.dumps(first)).to_data()
    assert second == first


def test_port_links_are_derived_from_edges() -> None:
    data = {
        "nodes": [
            {"id": "1", "type": "manual", "outputs": [{"name": "output", "links": [99]}]},
            {"id": "2", "type": "log", "inputs": [{"name": "input", "link": 42}]},
        ],
        "edges": [{"id": 5, "source": "1", "target": "2"}],
    }
    dumped = load_document_text(json.dumps(data)).to_data()
    assert dumped["nodes"][0]["outputs"][0]["links"] == [5]
    assert dumped["nodes"][1]["inputs"][0]["link"] == 5
    assert dumped["last_link_id"] == 5
