"""Import of foreign formats: detection and conversion of ComfyUI, React Flow and n8n files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glyphic_desktop.document.formats import ConversionResult, convert, detect_format
from glyphic_desktop.document.io import read_workflow_file, read_workflow_text
from glyphic_desktop.document.validation import DocumentError


def _load(samples: Path, name: str) -> Any:
    return json.loads((samples / name).read_text(encoding="utf-8"))


def _edges(result: ConversionResult) -> list[tuple[str, str, str, str]]:
    return [(e.source, e.sourceHandle, e.target, e.targetHandle) for e in result.document.edges]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("comfyui_txt2img.json", "comfyui"),
        ("reactflow_flow.json", "reactflow"),
        ("n8n_orders.json", "n8n"),
        ("glyphic_extras.json", "glyphic"),
    ],
)
def test_detect_format_of_samples(samples: Path, sample: str, expected: str) -> None:
    assert detect_format(_load(samples, sample)) == expected


@pytest.mark.parametrize(
    "data",
    [[], "x", 3, None, {"name": "no nodes"}, {"3": {"inputs": {}}}],
)
def test_detect_format_of_non_workflows(data: Any) -> None:
    assert detect_format(data) is None


def test_detect_format_of_small_shapes() -> None:
    assert detect_format({"nodes": [], "edges": [], "viewport": {"zoom": 1}}) == "reactflow"
    assert detect_format({"nodes": [], "connections": {}}) == "n8n"
    assert detect_format({"nodes": [], "links": [], "last_node_id": 0}) == "comfyui"
    assert detect_format({"nodes": [], "edges": [], "last_node_id": 0}) == "glyphic"
    assert detect_format({"nodes": "broken"}) == "glyphic"  # validation will say why


def test_comfyui_workflow(samples: Path) -> None:
    result = read_workflow_file(samples / "comfyui_txt2img.json")
    document = result.document
    assert result.format == "comfyui"
    assert [node.id for node in document.nodes] == ["7", "6", "5", "3", "8", "9", "4"]
    assert (document.last_node_id, document.last_link_id) == (10, 9)
    sampler = document.find_node("3")
    assert sampler is not None
    assert sampler.type == "KSampler"
    assert sampler.data.nodeType == "KSampler"
    assert sampler.data.fields["widgets_values"][2] == 20
    assert [port.name for port in sampler.inputs] == [
        "model",
        "positive",
        "negative",
        "latent_image",
    ]
    assert sampler.model_extra["properties"] == {"Node name for S&R": "KSampler"}
    negative = document.find_node("7")
    assert negative is not None
    assert negative.data.label == "Negative prompt"
    assert negative.size == [425.28, 180.61]  # {"0":, "1":} sizes of old files
    assert document.find_node("9").data.disabled is True  # mode 4: bypassed
    edges = {edge.id: edge for edge in document.edges}
    assert sorted(edges) == list(range(1, 10))
    assert (edges[6].source, edges[6].sourceHandle, edges[6].target, edges[6].targetHandle) == (
        "7",
        "CONDITIONING",
        "3",
        "negative",
    )
    assert edges[8].sourceHandle == "VAE" and edges[8].type == "VAE"
    data = document.to_data()
    checkpoint = next(node for node in data["nodes"] if node["id"] == "4")
    assert checkpoint["outputs"][1]["links"] == [3, 5]
    group = document.groups[0]
    assert (group.title, group.bounding, group.color) == (
        "Prompts",
        [400, 110, 460, 480],
        "#3f789e",
    )
    assert group.model_extra["font_size"] == 24
    assert document.metadata["importedFrom"] == "comfyui"
    assert document.metadata["comfyui"]["version"] == 0.4
    # Grouped: one line per placeholder type with its count, not one per node.
    assert result.report is not None
    assert sum(p["count"] for p in result.report.placeholders) == 7
    assert not any("Negative prompt" in note for note in result.notes)


def test_comfyui_links_as_objects_and_dangling_links() -> None:
    data = {
        "nodes": [
            {"id": 1, "type": "log", "outputs": [{"name": "out", "type": "*"}]},
            {"id": 2, "type": "Thing", "inputs": [{"name": "in", "type": "STRING"}]},
        ],
        "links": [
            {"id": 4, "origin_id": 1, "origin_slot": 0, "target_id": 2, "target_slot": 0},
            [5, 1, 0, 77, 0, "STRING"],
            [6, 1, 3, 2, 0, "STRING"],
        ],
    }
    result = convert(data)
    assert _edges(result) == [("1", "out", "2", "in")]
    assert result.document.nodes[0].type == "log"  # a Glyphic key is kept as known
    assert result.document.nodes[0].outputs[0].type == "any"
    assert result.report is not None
    assert "links[1]: joins a node that does not exist, left out" in result.report.notes
    assert "links[2]: joins a slot the node does not have, left out" in result.report.notes
    assert result.report.placeholders == [{"type": "Thing", "count": 1}]


def test_reactflow_file(samples: Path) -> None:
    result = read_workflow_file(samples / "reactflow_flow.json")
    document = result.document
    assert result.format == "reactflow"
    assert [node.id for node in document.nodes] == ["1", "fetch", "3"]
    fetch = document.find_node("fetch")
    assert fetch is not None
    assert fetch.type == "http_request"  # data.nodeType names a Glyphic type
    assert fetch.data.fields == {"method": "GET", "url": "http://127.0.0.1:8080/orders"}
    assert fetch.data.model_extra["icon"] == "globe"
    assert fetch.model_extra["originalType"] == "glyphicNode"
    assert fetch.size == [180.0, 60.0]
    assert document.find_node("3").pos == [420.0, 240.0]  # made absolute (parent "grp")
    assert document.find_node("1").pos == [250.0, 25.0]
    assert [(g.id, g.title, g.bounding) for g in document.groups] == [
        ("grp", "Reporting", [400.0, 200.0, 320.0, 200.0])
    ]
    assert _edges(result) == [("1", "output", "fetch", "input"), ("fetch", "output", "3", "input")]
    first, second = document.edges
    assert (first.id, first.model_extra["originalId"], first.model_extra["animated"]) == (
        1,
        "e1-fetch",
        True,
    )
    assert second.model_extra["edgeType"] == "smoothstep"
    assert second.model_extra["label"] == "orders"
    assert (document.last_node_id, document.last_link_id) == (3, 2)
    assert document.metadata["reactflow"]["viewport"] == {"x": 12, "y": -30, "zoom": 1.25}
    assert result.report is not None
    assert result.report.placeholders == [
        {"type": "input", "count": 1},
        {"type": "output", "count": 1},
    ]
    assert result.report.notes == ["1 group node(s) became groups"]
    assert "selected" not in document.nodes[0].model_extra


def test_n8n_export(samples: Path) -> None:
    result = read_workflow_file(samples / "n8n_orders.json")
    document = result.document
    assert result.format == "n8n"
    assert result.suggested_name == "Order alerts"
    by_label = {node.data.label: node for node in document.nodes}
    assert {label: node.type for label, node in by_label.items()} == {
        "When clicking 'Test workflow'": "manual",
        "HTTP Request": "http_request",
        "Big order?": "if",
        "Slack": "slack",
        "Airtable": "n8n-nodes-base.airtable",
        "Merge": "merge",
    }
    assert [node.id for node in document.nodes] == ["1", "2", "3", "4", "5", "6"]
    http = by_label["HTTP Request"]
    assert http.data.fields["url"] == "http://127.0.0.1:8080/orders"
    assert (http.data.retries, http.data.retryDelay) == (3, 2.0)
    assert http.model_extra["originalId"] == "0f7c2b6a-2d84-4f65-8d0a-8a3cfe4c1a02"
    assert http.model_extra["originalType"] == "n8n-nodes-base.httpRequest"
    assert http.model_extra["typeVersion"] == 4.2
    slack = by_label["Slack"]
    assert slack.data.onError == "continue"
    assert slack.data.credential == {"integration": {"type": "slack", "name": "Sales Slack"}}
    airtable = by_label["Airtable"]
    assert airtable.data.disabled is True
    assert airtable.data.fields["table"]["value"] == "tblOrders"
    assert airtable.pos == [1120.0, 480.0]
    assert _edges(result) == [
        ("1", "output", "2", "input"),
        ("2", "output", "3", "input"),
        ("3", "true", "4", "input"),
        ("3", "false", "5", "input"),
        ("4", "output", "6", "input_1"),
        ("5", "output", "6", "input_2"),
    ]
    assert [edge.id for edge in document.edges] == [1, 2, 3, 4, 5, 6]
    assert (document.last_node_id, document.last_link_id) == (6, 6)
    assert [port.name for port in by_label["Big order?"].outputs] == ["true", "false"]
    (note,) = document.groups
    assert note.title == "Order alerts"
    assert note.bounding == [420.0, 200.0, 380.0, 220.0]
    assert document.metadata["n8nId"] == "Kx3YpQ7rT1"
    assert document.model_extra["settings"] == {"executionOrder": "v1"}
    assert document.id is None
    report = result.report
    assert report is not None
    assert report.placeholders == [{"type": "n8n-nodes-base.airtable", "count": 1}]
    assert {
        "node": "node 'Airtable' (5)",
        "type": "airtableTokenApi",
        "name": "Airtable token",
        "status": "not carried over: bind a Glyphic credential to the node",
    } in report.credentials
    assert report.notes == ["sticky note 'Sticky Note' became a group"]


def test_n8n_unknown_vendor_type_and_missing_target() -> None:
    data = {
        "nodes": [
            {
                "id": "a",
                "name": "Chat",
                "type": "@n8n/n8n-nodes-langchain.agent",
                "position": [0, 0],
            },
            {"id": "b", "name": "Model", "type": "@n8n/n8n-nodes-langchain.lmChatOpenAi"},
        ],
        "connections": {
            "Model": {"ai_languageModel": [[{"node": "Chat", "type": "ai_languageModel"}]]},
            "Chat": {"main": [[{"node": "Gone", "type": "main", "index": 0}]]},
        },
    }
    result = convert(data)
    assert _edges(result) == [("2", "ai_languageModel", "1", "ai_languageModel")]
    assert result.document.edges[0].model_extra["connectionType"] == "ai_languageModel"
    assert result.report is not None
    assert {"type": "@n8n/n8n-nodes-langchain.agent", "count": 1} in result.report.placeholders
    assert "node 'Chat' (1): connection to missing node 'Gone' left out" in result.report.notes


def test_convert_refuses_glyphic_and_unknown_data() -> None:
    with pytest.raises(DocumentError, match="nothing to convert: it is a Glyphic workflow"):
        convert({"nodes": [], "edges": []})
    with pytest.raises(DocumentError, match="nothing to convert: it is no format"):
        convert([1, 2])


def test_read_workflow_text_passes_glyphic_through_without_notes() -> None:
    result = read_workflow_text('{"nodes": [{"id": 1, "type": "log"}]}')
    assert (result.format, result.notes) == ("glyphic", [])
    assert result.document.nodes[0].id == "1"


def test_read_workflow_text_reports_bad_glyphic_and_non_workflows() -> None:
    with pytest.raises(DocumentError, match=r"a\.json: edges\[0\]\.source: no node has the id"):
        read_workflow_text(
            '{"nodes": [], "edges": [{"id": 1, "source": "x", "target": "y"}]}', source="a.json"
        )
    with pytest.raises(DocumentError, match=r"b\.json: not a Glyphic workflow: the file holds"):
        read_workflow_text("[]", source="b.json")
    with pytest.raises(DocumentError, match=r"c\.json: invalid JSON at line 1, column 2"):
        read_workflow_text("{", source="c.json")
