"""ComfyUI workflow files (the litegraph "Save" format) -> Glyphic documents.

A ComfyUI workflow has ``nodes`` (integer ``id``, ``type``, ``pos``, ``size``,
``inputs``/``outputs`` with names and slot types, ``widgets_values``, ``title``,
``mode``...) and ``links``, each ``[id, origin_id, origin_slot, target_id, target_slot,
type]`` (or, in the newer schema, an object with those names), plus ``groups`` with
``bounding``.

Mapping: ids become strings; an edge's handles are the names of the slots it joins;
``widgets_values`` go to ``data.fields.widgets_values``; ``title`` is the label;
``mode`` 2 (muted) and 4 (bypassed) mark the node disabled; every other node key
(``flags``, ``order``, ``properties``, ``color``...) is kept. ComfyUI's node types
(model loaders, samplers) have no Glyphic equivalent and stay placeholders, unless a
type already is a Glyphic key. ``extra`` and ``version`` go under ``metadata.comfyui``.
"""

from __future__ import annotations

import copy
from typing import Any

from glyphic_desktop.document.formats.common import (
    GLYPHIC_TOP_KEYS,
    Notes,
    add_ports_from_edges,
    as_float,
    as_point,
    as_text,
    describe,
    finish_document,
    glyphic_type,
)
from glyphic_desktop.document.model import WorkflowDocument

COMFYUI_TYPES: dict[str, str] = {}  # no ComfyUI node does what a Glyphic built-in does
_DISABLED_MODES = {2, 4}
_NODE_KEYS_CONVERTED = {"id", "type", "pos", "size", "inputs", "outputs", "title"}
_LINK_KEYS = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")


def _port_type(value: Any) -> str:
    if value in (None, "*", "", 0):
        return "any"
    if isinstance(value, str):
        return value
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _ports(raw: Any, link_key: str) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    for index, port in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(port, dict):
            continue
        converted = {key: copy.deepcopy(v) for key, v in port.items() if key != link_key}
        converted["name"] = as_text(port.get("name")) or f"slot_{index}"
        converted["type"] = _port_type(port.get("type"))
        ports.append(converted)
    return ports


def _link(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, list) and len(raw) >= 5:
        return dict(zip(_LINK_KEYS, raw, strict=False))
    if isinstance(raw, dict):
        return raw
    return None


def _handle(ports: list[dict[str, Any]], slot: Any, fallback: str) -> str | None:
    if isinstance(slot, int) and not isinstance(slot, bool) and 0 <= slot < len(ports):
        return ports[slot]["name"]
    return None if ports else fallback


def convert_comfyui(
    data: dict[str, Any], *, source: str = "<input>"
) -> tuple[WorkflowDocument, Notes]:
    """Convert a ComfyUI workflow (parsed JSON) to a Glyphic document and its notes."""
    notes = Notes()
    nodes: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(data.get("nodes") or []):
        if not isinstance(raw, dict) or raw.get("id") is None:
            notes.append(f"nodes[{index}]: not a node with an id, left out")
            continue
        node_id = as_text(raw["id"])
        foreign_type = as_text(raw.get("type")) or "unknown"
        label = as_text(raw.get("title"))
        mapped = glyphic_type(foreign_type, COMFYUI_TYPES)
        node_type = mapped or foreign_type
        widgets = raw.get("widgets_values")
        fields: dict[str, Any] = {}
        if widgets is not None:
            fields["widgets_values"] = copy.deepcopy(widgets)
        node_data: dict[str, Any] = {"label": label, "nodeType": node_type, "fields": fields}
        if isinstance(raw.get("mode"), int) and raw["mode"] in _DISABLED_MODES:
            node_data["disabled"] = True
        node = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _NODE_KEYS_CONVERTED}
        node.pop("widgets_values", None)
        node.update(
            id=node_id,
            type=node_type,
            pos=as_point(raw.get("pos")) or [0.0, 0.0],
            data=node_data,
            inputs=_ports(raw.get("inputs"), "link"),
            outputs=_ports(raw.get("outputs"), "links"),
        )
        size = as_point(raw.get("size"))
        if size is not None:
            node["size"] = size
        if mapped is None:
            notes.unknown_type(label, node_id, foreign_type)
        else:
            notes.mapped_type(foreign_type, mapped)
        if node_id in by_id:
            notes.append(f"{describe(label, node_id)}: a second node with this id")
        by_id.setdefault(node_id, node)
        nodes.append(node)
    _subgraphs(data, nodes, notes)
    edges = _edges(data.get("links"), by_id, notes)
    add_ports_from_edges(nodes, edges)
    groups = _groups(data.get("groups"))
    metadata: dict[str, Any] = {"importedFrom": "comfyui"}
    comfy = {key: copy.deepcopy(data[key]) for key in ("extra", "version") if key in data}
    if comfy:
        metadata["comfyui"] = comfy
    state = data.get("state") if isinstance(data.get("state"), dict) else {}
    document = {
        key: copy.deepcopy(value)
        for key, value in data.items()
        if key not in GLYPHIC_TOP_KEYS and key not in {"links", "extra", "version", "state"}
    }
    document.update(
        nodes=nodes,
        edges=edges,
        groups=groups,
        config=copy.deepcopy(data["config"]) if isinstance(data.get("config"), dict) else {},
        metadata=metadata,
        last_node_id=max(as_float(data.get("last_node_id")), as_float(state.get("lastNodeId"))),
        last_link_id=max(as_float(data.get("last_link_id")), as_float(state.get("lastLinkId"))),
    )
    if isinstance(data.get("id"), str):
        document["id"] = data["id"]
    return finish_document(document, source=source), notes


def _edges(raw_links: Any, by_id: dict[str, dict[str, Any]], notes: Notes) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    used_ids: set[int] = set()
    for index, raw in enumerate(raw_links if isinstance(raw_links, list) else []):
        link = _link(raw)
        if link is None:
            notes.append(f"links[{index}]: not a link, left out")
            continue
        source = by_id.get(as_text(link.get("origin_id")))
        target = by_id.get(as_text(link.get("target_id")))
        if source is None or target is None:
            notes.append(f"links[{index}]: joins a node that does not exist, left out")
            continue
        source_handle = _handle(source["outputs"], link.get("origin_slot"), "output")
        target_handle = _handle(target["inputs"], link.get("target_slot"), "input")
        if source_handle is None or target_handle is None:
            notes.append(f"links[{index}]: joins a slot the node does not have, left out")
            continue
        link_id = link.get("id")
        edge: dict[str, Any] = {
            "source": source["id"],
            "sourceHandle": source_handle,
            "target": target["id"],
            "targetHandle": target_handle,
            "type": _port_type(link.get("type")),
        }
        if isinstance(link_id, int) and not isinstance(link_id, bool) and link_id not in used_ids:
            edge["id"] = link_id
        else:
            edge["originalId"] = link_id
        if isinstance(edge.get("id"), int):
            used_ids.add(edge["id"])
        edges.append(edge)
    next_id = max(used_ids, default=0)
    for edge in edges:
        if "id" not in edge:
            next_id += 1
            edge["id"] = next_id
    return edges


def _groups(raw_groups: Any) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_groups if isinstance(raw_groups, list) else []):
        if not isinstance(raw, dict):
            continue
        group = {key: copy.deepcopy(value) for key, value in raw.items()}
        group["id"] = as_text(raw.get("id")) or f"group-{index + 1}"
        group["title"] = as_text(raw.get("title")) or "Group"
        bounding = raw.get("bounding")
        if isinstance(bounding, list) and len(bounding) == 4:
            group["bounding"] = [as_float(value) for value in bounding]
        else:
            group.pop("bounding", None)
        if not isinstance(group.get("color"), str | None):
            group.pop("color")
        groups.append(group)
    return groups


def _subgraphs(data: dict[str, Any], nodes: list[dict[str, Any]], notes: Notes) -> None:
    """Name the instances of ``definitions.subgraphs`` after their subgraph.

    The definitions stay whole under the document's ``definitions`` key (exported back
    unchanged); an instance (a node whose type is a subgraph's id) stays a placeholder
    labelled with the subgraph's name: opening a subgraph's inner nodes as Glyphic nodes
    would need ComfyUI's slot semantics at its boundary, which Glyphic has not.
    """
    definitions = data.get("definitions") if isinstance(data.get("definitions"), dict) else {}
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    if not isinstance(subgraphs, list) or not subgraphs:
        return
    names = {
        as_text(sub.get("id")): as_text(sub.get("name"))
        for sub in subgraphs
        if isinstance(sub, dict)
    }
    used = 0
    for node in nodes:
        if node["type"] in names:
            used += 1
            node["data"]["subgraph"] = names[node["type"]]
            if not node["data"]["label"]:
                node["data"]["label"] = names[node["type"]] or node["type"]
    notes.append(
        f"{len(names)} subgraph definition(s) kept whole under 'definitions'; "
        f"{used} instance(s) are placeholders named after their subgraph"
    )
