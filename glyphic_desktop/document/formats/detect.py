"""Which format a parsed JSON file is in: Glyphic, ComfyUI (UI or API), React Flow,
n8n or Node-RED.

Every foreign format is recognised by its shape: ``connections`` (n8n), ``links``
(ComfyUI), ``position`` on the nodes or a top-level ``viewport`` (React Flow); node ids
mapped to objects with ``class_type``, bare or under ``prompt`` (ComfyUI API); a JSON
array of objects with ``id``, ``type`` and ``wires`` / ``z`` / tabs (Node-RED).

React Flow state saved by an app is often one or two levels down (``flow`` in
ChainForge, ``rfInstance`` in Flojoy, ``data`` in Langflow): :func:`find_reactflow`
looks at the top level, then under every key, then under every key of those, for an
object with ``nodes`` (a list whose objects have ``id`` and ``position``) and ``edges``
(a list); the first found, breadth first in key order, wins.

:func:`may_be_foreign` checks the same markers on an already validated document, so
the fast path of the loader stays consistent with :func:`detect_format`.
"""

from __future__ import annotations

from typing import Any, Literal

from glyphic_desktop.document.model import WorkflowDocument

Format = Literal["glyphic", "comfyui", "comfyui_api", "reactflow", "n8n", "nodered"]

FORMAT_TITLES: dict[str, str] = {
    "glyphic": "a Glyphic workflow",
    "comfyui": "a ComfyUI workflow",
    "comfyui_api": "a ComfyUI API (prompt) file",
    "reactflow": "a React Flow file (toObject)",
    "n8n": "an n8n workflow export",
    "nodered": "a Node-RED flow file",
}
FORMATS: tuple[str, ...] = tuple(FORMAT_TITLES)

# Top-level keys only a foreign format has; node keys only a foreign node has.
FOREIGN_TOP_KEYS = frozenset({"connections", "links", "viewport"})
FOREIGN_NODE_KEYS = frozenset({"position", "parameters"})
_SAMPLE = 20  # how many nodes are looked at to tell the formats apart


def _sample_nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        return []
    return [node for node in nodes[:_SAMPLE] if isinstance(node, dict)]


def is_comfyui_api_prompt(data: Any) -> bool:
    """Whether ``data`` is ComfyUI's API ("prompt") format: node ids mapped to class_type/inputs,
    bare or wrapped as ``{"prompt": {...}}``."""
    if not isinstance(data, dict) or not data or "nodes" in data:
        return False
    if isinstance(data.get("prompt"), dict) and data["prompt"]:
        data = data["prompt"]
    # Most values are nodes with class_type (a broken one is reported by the converter).
    nodes = sum(isinstance(value, dict) and "class_type" in value for value in data.values())
    return nodes > 0 and nodes * 2 >= len(data)


def _is_reactflow_object(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    nodes, edges = value.get("nodes"), value.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        return False
    sample = nodes[:_SAMPLE]
    return all(
        isinstance(n, dict) and "id" in n and isinstance(n.get("position"), dict) for n in sample
    ) and ("viewport" in value or bool(sample))


def find_reactflow(data: Any) -> tuple[str, dict[str, Any]] | None:
    """``(JSON path, object)`` of the React Flow state in ``data``: the top level, or one or
    two levels down under any key; None when there is none."""
    if _is_reactflow_object(data):
        return "", data
    if not isinstance(data, dict):
        return None
    level = [(str(key), value) for key, value in data.items() if isinstance(value, dict)]
    for _ in range(2):
        for path, value in level:
            if _is_reactflow_object(value):
                return path, value
        level = [
            (f"{path}.{key}", inner)
            for path, value in level
            for key, inner in value.items()
            if isinstance(inner, dict)
        ]
    return None


def detect_format(data: Any) -> Format | None:
    """The format of parsed JSON ``data``, or None when it is no workflow this app reads."""
    from glyphic_desktop.document.formats.nodered import is_nodered

    if is_nodered(data):
        return "nodered"
    if is_comfyui_api_prompt(data):
        return "comfyui_api"
    if isinstance(data, dict) and "nodes" not in data and find_reactflow(data) is not None:
        return "reactflow"
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        # A Glyphic file whose "nodes" is not a list is still Glyphic (validation says why).
        return "glyphic" if isinstance(data, dict) and "nodes" in data else None
    nodes = _sample_nodes(data)
    if isinstance(data.get("connections"), dict) and "edges" not in data:
        return "n8n"
    if isinstance(data.get("links"), list) and "edges" not in data:
        return "comfyui"
    if any(isinstance(n.get("position"), dict) and "pos" not in n for n in nodes):
        return "reactflow"
    if "viewport" in data and not any("pos" in n for n in nodes):
        return "reactflow"
    return "glyphic"


def may_be_foreign(document: WorkflowDocument) -> bool:
    """Whether a document that validated may still be a foreign file (then re-check the raw data).

    Also true when the source had no ``nodes`` key at all (then it is not a workflow).
    """
    if "nodes" not in document.model_fields_set:
        return True
    extra = document.model_extra or {}
    if not FOREIGN_TOP_KEYS.isdisjoint(extra):
        return True
    for node in document.nodes[:_SAMPLE]:
        node_extra = node.model_extra or {}
        if not FOREIGN_NODE_KEYS.isdisjoint(node_extra):
            return True
    return False
