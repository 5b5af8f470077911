"""React Flow ``toObject()`` files -> Glyphic documents.

``{"nodes": [{"id", "type", "position": {"x", "y"}, "data": {...}, "width", "height",
"parentId"...}], "edges": [{"id": "e1-2", "source", "target", "sourceHandle",
"targetHandle", "type": "smoothstep", "animated"...}], "viewport": {"x", "y", "zoom"}}``

Mapping:

- node ids stay as they are (strings); the type is ``data.nodeType`` when that is a
  Glyphic key (a React Flow app built on the Glyphic shape), else ``type`` when it is
  one, else the node stays a placeholder of its own type (React Flow's ``input``,
  ``default``, ``output`` included). ``data`` is kept whole: ``label`` and ``fields``
  where Glyphic reads them, everything else as extra keys.
- ``position`` is relative to the parent node (``parentId`` / ``parentNode``) and is
  made absolute for ``pos``; a child keeps its relative position in
  ``relativePosition`` and its ``parentId`` / ``parentNode``, ``positionAbsolute`` is
  kept; ``width``/``height`` (or ``measured``) become ``size``. Nodes of type ``group``
  become Glyphic groups.
- the state may be one or two levels down in an app's file (``flow`` in ChainForge,
  ``rfInstance`` in Flojoy, ``data`` in Langflow; see ``detect.find_reactflow``): the
  path goes to ``metadata.reactflow.path`` and the file's other keys, kept whole, to
  ``metadata.reactflow.outer``; a string ``name`` beside it is the suggested name.
- edges are numbered 1, 2, ... (the React Flow id is kept in ``originalId``, the React
  Flow edge type in ``edgeType``); a missing handle is ``output`` / ``input``; the
  nodes' ports are derived from the edges.
- ``viewport`` goes to ``metadata.reactflow.viewport``.
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
    finish_document,
    glyphic_type,
)
from glyphic_desktop.document.formats.detect import find_reactflow
from glyphic_desktop.document.model import WorkflowDocument

REACTFLOW_TYPES: dict[str, str] = {}  # React Flow's own types (input/default/output) are shapes
# Transient UI state and what is converted into pos/size: not carried over.
_NODE_KEYS_DROPPED = {
    "id",
    "type",
    "position",
    "width",
    "height",
    "measured",
    "data",
    "selected",
    "dragging",
    "resizing",
}
_EDGE_KEYS_DROPPED = {"id", "source", "target", "sourceHandle", "targetHandle", "type", "selected"}


def _absolute_positions(raw_nodes: list[dict[str, Any]]) -> dict[str, list[float]]:
    by_id = {as_text(node.get("id")): node for node in raw_nodes}
    absolute: dict[str, list[float]] = {}

    def resolve(node_id: str, depth: int = 0) -> list[float]:
        if node_id in absolute:
            return absolute[node_id]
        node = by_id[node_id]
        point = as_point(node.get("position")) or [0.0, 0.0]
        parent = as_text(node.get("parentId") or node.get("parentNode"))
        if parent in by_id and parent != node_id and depth < len(by_id):
            origin = resolve(parent, depth + 1)
            point = [point[0] + origin[0], point[1] + origin[1]]
        absolute[node_id] = point
        return point

    for node_id in by_id:
        resolve(node_id)
    return absolute


def _size(raw: dict[str, Any]) -> list[float] | None:
    measured = raw.get("measured") if isinstance(raw.get("measured"), dict) else {}
    style = raw.get("style") if isinstance(raw.get("style"), dict) else {}
    width = raw.get("width") or measured.get("width") or style.get("width")
    height = raw.get("height") or measured.get("height") or style.get("height")
    if width is None or height is None:
        return None
    return [as_float(width), as_float(height)]


def _node_data(raw_data: Any, node_type: str) -> dict[str, Any]:
    data = copy.deepcopy(raw_data) if isinstance(raw_data, dict) else {}
    if raw_data is not None and not isinstance(raw_data, dict):
        data["value"] = copy.deepcopy(raw_data)
    data["label"] = as_text(data.get("label"))
    data["nodeType"] = node_type
    fields = data.get("fields")
    if fields is None:
        data["fields"] = {}
    elif not isinstance(fields, dict):
        data["fields"] = {"value": fields}
    return data


def convert_reactflow(
    data: dict[str, Any], *, source: str = "<input>"
) -> tuple[WorkflowDocument, Notes]:
    """Convert a React Flow ``toObject()`` file (parsed JSON) to a Glyphic document and notes."""
    notes = Notes()
    outer: dict[str, Any] | None = None
    found = find_reactflow(data)
    path = ""
    if found is not None and found[0]:
        path, inner = found
        outer = _without(data, path)
        data = inner
    raw_nodes = [
        node
        for node in (data.get("nodes") or [])
        if isinstance(node, dict) and node.get("id") is not None
    ]
    if len(raw_nodes) != len(data.get("nodes") or []):
        notes.append("nodes without an id were left out")
    absolute = _absolute_positions(raw_nodes)
    nodes: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for raw in raw_nodes:
        node_id = as_text(raw["id"])
        foreign_type = as_text(raw.get("type")) or "default"
        raw_data = raw.get("data")
        declared = raw_data.get("nodeType") if isinstance(raw_data, dict) else None
        mapped = glyphic_type(as_text(declared), REACTFLOW_TYPES) or glyphic_type(
            foreign_type, REACTFLOW_TYPES
        )
        if foreign_type == "group" and mapped is None:
            groups.append(_group(raw, absolute[node_id]))
            continue
        node_type = mapped or foreign_type
        node = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _NODE_KEYS_DROPPED}
        node.update(
            id=node_id,
            type=node_type,
            pos=absolute[node_id],
            data=_node_data(raw_data, node_type),
            inputs=[],
            outputs=[],
        )
        size = _size(raw)
        if size is not None:
            node["size"] = size
        if as_text(raw.get("parentId") or raw.get("parentNode")):
            node["relativePosition"] = copy.deepcopy(raw.get("position"))
        if mapped is None:
            notes.unknown_type(node["data"]["label"], node_id, foreign_type)
        else:
            notes.mapped_type(foreign_type, mapped)
            if mapped != foreign_type:
                node["originalType"] = foreign_type
        nodes.append(node)
    if groups:
        notes.append(f"{len(groups)} group node(s) became groups")
    known = {node["id"] for node in nodes}
    edges = _edges(data.get("edges"), known, notes)
    add_ports_from_edges(nodes, edges)
    metadata: dict[str, Any] = {"importedFrom": "reactflow"}
    reactflow: dict[str, Any] = {}
    if "viewport" in data:
        reactflow["viewport"] = copy.deepcopy(data["viewport"])
    if outer is not None:
        reactflow.update(path=path, outer=outer)
        name = outer.get("name")
        if isinstance(name, str) and name.strip():
            metadata["name"] = name.strip()
    if reactflow:
        metadata["reactflow"] = reactflow
    document = {
        key: copy.deepcopy(value)
        for key, value in data.items()
        if key not in GLYPHIC_TOP_KEYS and key != "viewport"
    }
    document.update(nodes=nodes, edges=edges, groups=groups, config={}, metadata=metadata)
    return finish_document(document, source=source), notes


def _group(raw: dict[str, Any], point: list[float]) -> dict[str, Any]:
    size = _size(raw) or [300.0, 200.0]
    raw_data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    return {
        "id": as_text(raw["id"]),
        "title": as_text(raw_data.get("label")) or "Group",
        "bounding": [point[0], point[1], size[0], size[1]],
    }


def _edges(raw_edges: Any, known: set[str], notes: Notes) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_edges if isinstance(raw_edges, list) else []):
        if not isinstance(raw, dict):
            notes.append(f"edges[{index}]: not an object, left out")
            continue
        source, target = as_text(raw.get("source")), as_text(raw.get("target"))
        if source not in known or target not in known:
            notes.append(
                f"edges[{index}] ({as_text(raw.get('id'))}): joins a node that does not exist "
                "or became a group, left out"
            )
            continue
        edge = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _EDGE_KEYS_DROPPED}
        edge.update(
            id=len(edges) + 1,
            source=source,
            sourceHandle=as_text(raw.get("sourceHandle")) or "output",
            target=target,
            targetHandle=as_text(raw.get("targetHandle")) or "input",
            type="any",
        )
        if raw.get("id") is not None:
            edge["originalId"] = raw["id"]
        if raw.get("type") is not None:
            edge["edgeType"] = raw["type"]
        edges.append(edge)
    return edges


def _without(data: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of ``data`` without the object at dotted ``path`` (one or two keys)."""
    keys = path.split(".")
    out = {k: copy.deepcopy(v) for k, v in data.items() if k != keys[0] or len(keys) > 1}
    if len(keys) == 2:
        out[keys[0]] = {k: v for k, v in out[keys[0]].items() if k != keys[1]}
    return out
