"""ComfyUI's API ("prompt") format -> Glyphic documents.

``{"3": {"class_type": "KSampler", "inputs": {"seed": 5, "model": ["4", 0]},
"_meta": {"title": "KSampler"}}, ...}``, bare or wrapped as ``{"prompt": {...}}`` (what
ComfyUI's ``/prompt`` endpoint takes, with ``client_id`` / ``extra_data`` beside it).

Mapping: node ids stay as they are; the type is ``class_type`` (a placeholder: no
ComfyUI node has a Glyphic counterpart); an input whose value is ``[node_id, slot]``
naming a node of the file is an edge from that node's output ``slot`` (port
``output_<slot>``, the API format has no output names) to the input of that name; every
other input is a widget value in ``data.fields``; ``_meta.title`` is the label (``_meta``
and any other node key are kept). The format has no positions: nodes are placed by the
automatic layered layout (``document/layout.py``). The wrapper's other keys go to
``metadata.comfyui``.
"""

from __future__ import annotations

import copy
from typing import Any

from glyphic_desktop.document.formats.common import (
    Notes,
    add_ports_from_edges,
    as_text,
    finish_document,
)
from glyphic_desktop.document.layout import layered_positions
from glyphic_desktop.document.model import WorkflowDocument

_NODE_KEYS_CONVERTED = {"class_type", "inputs"}


def unwrap_prompt(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(prompt, wrapper keys)``: the node map, and the keys beside ``prompt`` if wrapped."""
    if isinstance(data.get("prompt"), dict) and "class_type" not in data.get("prompt", {}):
        rest = {key: value for key, value in data.items() if key != "prompt"}
        return data["prompt"], rest
    return data, {}


def _is_link(value: Any, known: set[str]) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and str(value[0]) in known
    )


def _output_name(slot: int) -> str:
    return f"output_{slot}"


def convert_comfyui_api(
    data: dict[str, Any], *, source: str = "<input>"
) -> tuple[WorkflowDocument, Notes]:
    """Convert a ComfyUI API prompt (bare or under ``prompt``) to a Glyphic document."""
    notes = Notes()
    prompt, wrapper = unwrap_prompt(data)
    known = {str(key) for key, value in prompt.items() if isinstance(value, dict)}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for key, raw in prompt.items():
        if not isinstance(raw, dict):
            notes.append(f"prompt[{key!r}]: not a node object, left out")
            continue
        node_id = str(key)
        foreign_type = as_text(raw.get("class_type")) or "unknown"
        meta = raw.get("_meta") if isinstance(raw.get("_meta"), dict) else {}
        inputs = raw.get("inputs") if isinstance(raw.get("inputs"), dict) else {}
        fields: dict[str, Any] = {}
        for name, value in inputs.items():
            if _is_link(value, known):
                edges.append(
                    {
                        "id": len(edges) + 1,
                        "source": str(value[0]),
                        "sourceHandle": _output_name(value[1]),
                        "target": node_id,
                        "targetHandle": str(name),
                        "type": "any",
                    }
                )
            else:
                fields[str(name)] = copy.deepcopy(value)
        node = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _NODE_KEYS_CONVERTED}
        node.update(
            id=node_id,
            type=foreign_type,
            data={"label": as_text(meta.get("title")), "nodeType": foreign_type, "fields": fields},
            inputs=[],
            outputs=[],
        )
        notes.unknown_type(node["data"]["label"], node_id, foreign_type)
        nodes.append(node)
    add_ports_from_edges(nodes, edges)
    _order_ports(nodes)
    positions = layered_positions(
        [node["id"] for node in nodes], [(edge["source"], edge["target"]) for edge in edges]
    )
    for node in nodes:
        node["pos"] = list(positions[node["id"]])
    metadata: dict[str, Any] = {"importedFrom": "comfyui_api"}
    metadata["comfyui"] = {"format": "api", **copy.deepcopy(wrapper)}
    document = {"nodes": nodes, "edges": edges, "groups": [], "config": {}, "metadata": metadata}
    notes.append("the API format has no positions: nodes placed by the automatic layout")
    return finish_document(document, source=source), notes


def _order_ports(nodes: list[dict[str, Any]]) -> None:
    """Outputs in slot order (``output_0``, ``output_1``...)."""
    for node in nodes:
        node["outputs"].sort(key=lambda port: int(port["name"].rpartition("_")[2]))
