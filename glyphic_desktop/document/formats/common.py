"""What the format converters share: the built-in node-type keys, type lookup, ids, ports.

A converter builds plain dicts in the Glyphic shape and hands them to
:func:`finish_document`, which derives the ports from the edges where the source
format has none, computes ``last_node_id`` / ``last_link_id`` and validates.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.document.validation import (
    DocumentError,
    problems_from_validation_error,
)
from glyphic_desktop.perf import gc_paused

# The keys of the built-in node types (DESIGN.md §4).
BUILTIN_NODE_TYPES: frozenset[str] = frozenset(
    {
        "manual",
        "schedule",
        "webhook",
        "if",
        "switch",
        "merge",
        "loop",
        "delay",
        "stop_error",
        "subworkflow",
        "set",
        "code",
        "log",
        "read_file",
        "write_file",
        "run_command",
        "http_request",
        "gmail",
        "slack",
        "github",
    }
)

# The keys of a Glyphic document; a converter never copies a foreign key of these names.
GLYPHIC_TOP_KEYS: frozenset[str] = frozenset(WorkflowDocument.model_fields)

_NUMBER = re.compile(r"(?:[A-Za-z]+[-_]?)?([0-9]+)")


class Notes(list[str]):
    """What one conversion did, for the grouped import report (``formats/report.py``).

    The list holds free-form lines (what was approximated or left out); the attributes
    collect what the report groups: node types mapped, placeholders by type, expressions
    and credentials that need attention, schedules created.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mapped: Counter[tuple[str, str]] = Counter()
        self.placeholders: Counter[str] = Counter()
        self.expressions_converted = 0
        self.expressions: list[dict[str, str]] = []
        self.credentials: list[dict[str, str]] = []
        self.schedules: list[dict[str, Any]] = []
        self.code: list[dict[str, str]] = []

    def unknown_type(self, label: str, node_id: str, foreign_type: str) -> None:
        """Count a node whose type has no Glyphic equivalent (kept as a placeholder)."""
        self.placeholders[foreign_type] += 1

    def mapped_type(self, foreign_type: str, glyphic: str) -> None:
        """Count a node whose foreign type became the Glyphic type ``glyphic``."""
        self.mapped[(foreign_type, glyphic)] += 1

    def expression(self, label: str, node_id: str, field: str, text: str, why: str) -> None:
        """An expression left as it was (it needs a look)."""
        self.expressions.append(
            {"node": describe(label, node_id), "field": field, "text": text, "why": why}
        )

    def credential(self, label: str, node_id: str, kind: str, name: str, status: str) -> None:
        """A credential reference (bound by type and name at import, or not carried over)."""
        self.credentials.append(
            {"node": describe(label, node_id), "type": kind, "name": name, "status": status}
        )


def describe(label: str, node_id: str) -> str:
    """``node 'Label' (id)`` as in every other user-facing message."""
    return f"node {label!r} ({node_id})" if label else f"node {node_id}"


def glyphic_type(foreign_type: str, table: Mapping[str, str]) -> str | None:
    """The Glyphic key for ``foreign_type`` through ``table``, or None when there is none."""
    mapped = table.get(foreign_type, foreign_type)
    return mapped if mapped in BUILTIN_NODE_TYPES else None


def as_float(value: Any, default: float = 0.0) -> float:
    """A number from foreign JSON (numbers, numeric strings), else ``default``."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def as_point(value: Any) -> list[float] | None:
    """``[x, y]`` from ``[x, y]``, ``{"x":, "y":}`` or ComfyUI's ``{"0":, "1":}``; else None."""
    if isinstance(value, list | tuple) and len(value) >= 2:
        return [as_float(value[0]), as_float(value[1])]
    if isinstance(value, dict):
        if "x" in value or "y" in value:
            return [as_float(value.get("x")), as_float(value.get("y"))]
        if "0" in value or "1" in value:
            return [as_float(value.get("0")), as_float(value.get("1"))]
    return None


def as_text(value: Any) -> str:
    """A label from foreign JSON (non-strings are written as JSON-ish text)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def node_number(node_id: str) -> int | None:
    """The number in ``"12"`` / ``"node-12"``, which ``last_node_id`` must stay ahead of."""
    match = _NUMBER.fullmatch(node_id)
    return int(match.group(1)) if match else None


def add_ports_from_edges(nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]]) -> None:
    """Give each node the input and output ports its edges use (when it declares none)."""
    inputs: dict[str, dict[str, str]] = {}
    outputs: dict[str, dict[str, str]] = {}
    for edge in edges:
        outputs.setdefault(edge["source"], {}).setdefault(edge["sourceHandle"], edge["type"])
        inputs.setdefault(edge["target"], {}).setdefault(edge["targetHandle"], edge["type"])
    for node in nodes:
        if not node.get("inputs"):
            ports = inputs.get(node["id"], {})
            node["inputs"] = [{"name": name, "type": kind} for name, kind in ports.items()]
        if not node.get("outputs"):
            ports = outputs.get(node["id"], {})
            node["outputs"] = [{"name": name, "type": kind} for name, kind in ports.items()]


def finish_document(data: dict[str, Any], *, source: str) -> WorkflowDocument:
    """Compute the id counters of converted ``data`` and validate it as a Glyphic document."""
    numbers = [node_number(str(node["id"])) for node in data["nodes"]]
    highest_node = max((n for n in numbers if n is not None), default=0)
    highest_edge = max((edge["id"] for edge in data["edges"]), default=0)
    data["last_node_id"] = max(int(as_float(data.get("last_node_id"))), highest_node)
    data["last_link_id"] = max(int(as_float(data.get("last_link_id"))), highest_edge)
    try:
        with gc_paused():
            document = WorkflowDocument.model_validate(data)
    except ValidationError as exc:  # foreign values the converter could not repair
        raise DocumentError(source, problems_from_validation_error(exc, data)) from None
    document.sync_port_links()
    return document
