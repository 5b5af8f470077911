"""Validation of workflow documents: every problem of a file at once, each naming its JSON path.

Two layers report into one :class:`DocumentError`:

- the pydantic models (types, required keys, value ranges), whose error locations
  (``('nodes', 3, 'data', 'fields')``) become JSON paths (``nodes[3].data.fields``);
- structural checks that need no node types (:func:`structure_problems`): duplicate
  node or edge ids, edges to nodes that do not exist, ``last_node_id`` /
  ``last_link_id`` behind the ids in use.

The structural checks read plain ``(index, id, ...)`` tuples so they run both on a
validated :class:`WorkflowDocument` and, best effort, on raw JSON data that failed
validation (so a file's type errors and its dangling edges are reported together).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import GlyphicError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Node ids that carry a number the id counter must stay ahead of: "12", "node-12", "node_12".
_NUMBERED_NODE_ID = re.compile(r"(?:[A-Za-z]+[-_]?)?([0-9]+)")
_MAX_SHOWN_INPUT = 40


@dataclass(frozen=True)
class DocumentProblem:
    """One thing wrong with a document: where (a JSON path, "" for the whole file) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DocumentError(GlyphicError):
    """A workflow file that cannot be loaded; ``problems`` lists everything wrong with it.

    The message has one line per problem, each prefixed with the file (``source``),
    e.g. ``flow.json: nodes[3].data.fields: Input should be a valid dictionary``.
    """

    exit_code = 2

    def __init__(self, source: str, problems: Sequence[DocumentProblem]) -> None:
        self.source = source
        self.problems: list[DocumentProblem] = list(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a JSON path: ``('nodes', 3, 'data')`` -> ``nodes[3].data``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif _IDENTIFIER.fullmatch(item):
            parts.append(f".{item}" if parts else item)
        else:
            parts.append(f"[{item!r}]")
    return "".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_INPUT else text[: _MAX_SHOWN_INPUT - 3] + "..."


def _node_context(data: Any, loc: tuple[int | str, ...]) -> str:
    """`` (node 'Label' (id))`` for an error inside ``nodes[i]`` of raw data, else ""."""
    if len(loc) < 3 or loc[0] != "nodes" or not isinstance(loc[1], int):
        return ""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return ""
    nodes = data["nodes"]
    if not 0 <= loc[1] < len(nodes) or not isinstance(nodes[loc[1]], dict):
        return ""
    node = nodes[loc[1]]
    node_id = node.get("id")
    if node_id is None or loc[2] == "id":
        return ""
    node_data = node.get("data")
    label = node_data.get("label") if isinstance(node_data, dict) else None
    if isinstance(label, str) and label:
        return f" (node {label!r} ({node_id}))"
    return f" (node {node_id})"


def problems_from_validation_error(
    error: ValidationError, data: Any = None
) -> list[DocumentProblem]:
    """One problem per pydantic error; ``data`` (the raw JSON) adds node ids and labels."""
    problems: list[DocumentProblem] = []
    for item in error.errors(include_url=False):
        loc = tuple(item.get("loc", ()))
        message = item["msg"]
        value = item.get("input")
        if item["type"] != "missing" and isinstance(value, str | int | float | bool | None):
            message += f", got {_short(value)}"
        message += _node_context(data, loc)
        problems.append(DocumentProblem(json_path(loc), message))
    return problems


def _node_number(node_id: str) -> int | None:
    if node_id.isdecimal():
        return int(node_id)
    match = _NUMBERED_NODE_ID.fullmatch(node_id)
    return int(match.group(1)) if match else None


def highest_node_number(node_ids: Iterable[str]) -> int | None:
    """The largest number in node ids like ``"12"`` or ``"node-12"``, or None."""
    ids = node_ids if isinstance(node_ids, list) else list(node_ids)
    plain = list(filter(str.isdecimal, ids))  # the common case, done in C
    highest = max(map(int, plain), default=None)
    if len(plain) != len(ids):
        numbers = (_node_number(node_id) for node_id in ids if not node_id.isdecimal())
        other = max((n for n in numbers if n is not None), default=None)
        if other is not None and (highest is None or other > highest):
            highest = other
    return highest


def _counter_problems(
    node_ids: Sequence[str],
    edge_ids: Sequence[Any],
    last_node_id: int | None,
    last_link_id: int | None,
    node_positions: Sequence[int] | None = None,
    edge_positions: Sequence[int] | None = None,
) -> list[DocumentProblem]:
    """``last_node_id`` / ``last_link_id`` behind the ids in use (positions default to indexes).

    Non-integer edge ids (broken raw data) are ignored.
    """
    problems: list[DocumentProblem] = []
    if last_node_id is not None:
        highest = highest_node_number(list(node_ids))
        if highest is not None and highest > last_node_id:
            at = [_node_number(node_id) for node_id in node_ids].index(highest)
            where = node_positions[at] if node_positions is not None else at
            problems.append(
                DocumentProblem(
                    "last_node_id",
                    f"{last_node_id} is behind node id {node_ids[at]!r} (nodes[{where}]); "
                    f"it must be at least {highest}",
                )
            )
    if last_link_id is not None:
        if all(type(edge_id) is int for edge_id in edge_ids):
            numeric: Sequence[int | None] = edge_ids
        else:
            numeric = [i if type(i) is int else None for i in edge_ids]
        highest = max((i for i in numeric if i is not None), default=None)
        if highest is not None and highest > last_link_id:
            at = list(numeric).index(highest)
            where = edge_positions[at] if edge_positions is not None else at
            problems.append(
                DocumentProblem(
                    "last_link_id",
                    f"{last_link_id} is behind edge id {highest} (edges[{where}]); "
                    f"it must be at least {highest}",
                )
            )
    return problems


def structure_problems(
    nodes: Sequence[tuple[int, str]],
    edges: Sequence[tuple[int, Any, str | None, str | None]],
    last_node_id: int | None,
    last_link_id: int | None,
) -> list[DocumentProblem]:
    """Problems that need no node types.

    ``nodes`` holds ``(index, id)``, ``edges`` ``(index, id, source, target)`` (a None
    source or target is skipped); a None counter is not checked. Indexes are the
    positions in the file (entries too broken to read may be missing from the lists).
    """
    problems: list[DocumentProblem] = []
    first_node: dict[str, int] = {}
    for index, node_id in nodes:
        seen = first_node.setdefault(node_id, index)
        if seen != index:
            problems.append(
                DocumentProblem(
                    f"nodes[{index}].id", f"duplicate node id {node_id!r} (also nodes[{seen}])"
                )
            )
    first_edge: dict[Any, int] = {}
    for index, edge_id, source, target in edges:
        seen = first_edge.setdefault(edge_id, index)
        if seen != index:
            problems.append(
                DocumentProblem(
                    f"edges[{index}].id", f"duplicate edge id {edge_id!r} (also edges[{seen}])"
                )
            )
        for end, node_id in (("source", source), ("target", target)):
            if node_id is not None and node_id not in first_node:
                problems.append(
                    DocumentProblem(f"edges[{index}].{end}", f"no node has the id {node_id!r}")
                )
    problems += _counter_problems(
        [node_id for _, node_id in nodes],
        [edge[1] for edge in edges],
        last_node_id,
        last_link_id,
        node_positions=[index for index, _ in nodes],
        edge_positions=[edge[0] for edge in edges],
    )
    return problems


def document_problems(document: WorkflowDocument) -> list[DocumentProblem]:
    """The structural problems of a validated document (empty when it is sound).

    A counter the source left out is not a problem: :func:`complete_counters` sets it.
    A sound document (the common case) is checked with set operations only.
    """
    given = document.model_fields_set
    last_node_id = document.last_node_id if "last_node_id" in given else None
    last_link_id = document.last_link_id if "last_link_id" in given else None
    nodes, edges = document.nodes, document.edges
    node_ids = [node.id for node in nodes]
    edge_ids = [edge.id for edge in edges]
    known = set(node_ids)
    sound = (
        len(known) == len(node_ids)
        and len(set(edge_ids)) == len(edge_ids)
        and all(edge.source in known and edge.target in known for edge in edges)
    )
    if sound:
        return _counter_problems(node_ids, edge_ids, last_node_id, last_link_id)
    return structure_problems(
        list(enumerate(node_ids)),
        [(index, e.id, e.source, e.target) for index, e in enumerate(edges)],
        last_node_id,
        last_link_id,
    )


def complete_counters(document: WorkflowDocument) -> None:
    """Set ``last_node_id`` / ``last_link_id`` from the ids in use when the source left them out."""
    given = document.model_fields_set
    if "last_node_id" not in given:
        document.last_node_id = highest_node_number([node.id for node in document.nodes]) or 0
    if "last_link_id" not in given:
        document.last_link_id = max((edge.id for edge in document.edges), default=0)


def _as_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def raw_structure_problems(data: dict[str, Any]) -> list[DocumentProblem]:
    """Best-effort structural problems of raw JSON data that may not validate.

    Entries too broken to read (a node without an id, an edge that is not an object)
    are skipped here: the model validation reports them.
    """
    raw_nodes = data.get("nodes")
    raw_edges = data.get("edges")
    nodes: list[tuple[int, str]] = []
    if isinstance(raw_nodes, list):
        for index, node in enumerate(raw_nodes):
            node_id = _as_id(node.get("id")) if isinstance(node, dict) else None
            if node_id is not None:
                nodes.append((index, node_id))
    edges: list[tuple[int, Any, str | None, str | None]] = []
    if isinstance(raw_edges, list):
        for index, edge in enumerate(raw_edges):
            if not isinstance(edge, dict):
                continue
            edge_id = _as_int(edge.get("id"))
            edges.append(
                (
                    index,
                    edge_id if edge_id is not None else f"<edge {index}>",
                    _as_id(edge.get("source")),
                    _as_id(edge.get("target")),
                )
            )
    return structure_problems(
        nodes, edges, _as_int(data.get("last_node_id")), _as_int(data.get("last_link_id"))
    )


def validate_document(document: WorkflowDocument, *, source: str = "<input>") -> None:
    """Raise :class:`DocumentError` when ``document`` has structural problems.

    When it has none, counters the source left out are set (:func:`complete_counters`).
    """
    problems = document_problems(document)
    if problems:
        raise DocumentError(source, problems)
    complete_counters(document)
