"""Which format a parsed JSON file is in: Glyphic, ComfyUI, React Flow or n8n.

Every foreign format is recognised by a key a Glyphic document does not have:
``connections`` (n8n), ``links`` (ComfyUI), ``position`` on the nodes or a top-level
``viewport`` (React Flow). :func:`may_be_foreign` checks the same markers on an
already validated document, so the fast path of the loader stays consistent with
:func:`detect_format`.
"""

from __future__ import annotations

from typing import Any, Literal

from glyphic_desktop.document.model import WorkflowDocument

Format = Literal["glyphic", "comfyui", "reactflow", "n8n"]

FORMAT_TITLES: dict[str, str] = {
    "glyphic": "a Glyphic workflow",
    "comfyui": "a ComfyUI workflow",
    "reactflow": "a React Flow file (toObject)",
    "n8n": "an n8n workflow export",
}

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
    """Whether ``data`` is ComfyUI's API ("prompt") format: node ids mapped to class_type/inputs."""
    if not isinstance(data, dict) or not data or "nodes" in data:
        return False
    return all(isinstance(value, dict) and "class_type" in value for value in data.values())


def detect_format(data: Any) -> Format | None:
    """The format of parsed JSON ``data``, or None when it is no workflow this app reads."""
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
