"""Copy and paste of workflow fragments as workflow JSON (the format of a workflow file).

Copy writes the selected nodes, the edges between them and the selected groups as a
workflow document, both as ``text/plain`` and as :data:`MIME_TYPE`. Paste accepts such
text, a whole workflow file's JSON (which imports its nodes), a single node object, or
JSON of another tool (ComfyUI UI or API, React Flow, n8n, Node-RED), which goes
through the same converters as ``glyphic import`` (``document/formats``) and lands at
the cursor, wired, as one undo entry; anything else leaves the document untouched and
returns a message saying what is wrong and where (JSON path).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QClipboard, QGuiApplication, QUndoStack

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.ui.graph_model import GraphModel

MIME_TYPE = "application/x-glyphic-workflow+json"


class PasteError(GlyphicError):
    """The clipboard text is not a workflow fragment; the message says why."""


@dataclass
class PasteResult:
    """What a paste did: ``ok``, a message for the status bar, the new node ids."""

    ok: bool
    message: str
    node_ids: list[str] = field(default_factory=list)


def selection_json(
    model: GraphModel, node_ids: Iterable[str], group_keys: Iterable[str] = ()
) -> str:
    """The workflow JSON of the given nodes, the edges between them and the given groups."""
    wanted = list(dict.fromkeys(node_ids))
    inside = set(wanted)
    edges = []
    seen: set[int] = set()
    for node_id in wanted:
        for edge_id in model.edges_of(node_id):
            edge = model.edge(edge_id)
            if edge_id not in seen and edge.source in inside and edge.target in inside:
                seen.add(edge_id)
                edges.append(edge)
    edges.sort(key=lambda e: e.id)
    # Straight to JSON data, node by node (no deep copies of the nodes first); the port
    # links are those of the fragment's own edges, as ``to_data`` would give.
    data = WorkflowDocument(metadata={"fragment": True}).model_dump(mode="json")
    inputs: dict[tuple[str, str], int] = {}
    outputs: dict[tuple[str, str], list[int]] = {}
    for edge in edges:
        inputs[(edge.target, edge.targetHandle)] = edge.id
        outputs.setdefault((edge.source, edge.sourceHandle), []).append(edge.id)
    nodes = []
    for node_id in wanted:
        node = model.node(node_id).model_dump(mode="json")
        for port in node.get("inputs", ()):
            port["link"] = inputs.get((node_id, port["name"]))
        for port in node.get("outputs", ()):
            port["links"] = outputs.get((node_id, port["name"]), [])
        nodes.append(node)
    data["nodes"] = nodes
    data["edges"] = [e.model_dump(mode="json") for e in edges]
    data["groups"] = [model.group(k).model_dump(mode="json") for k in group_keys]
    return json.dumps(data, ensure_ascii=False)


def _location(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def parse_fragment(text: str | None) -> WorkflowDocument:
    """Parse clipboard text into a workflow fragment; PasteError with a clear reason if not."""
    if text is None or not text.strip():
        raise PasteError("Nothing to paste: the clipboard is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PasteError(
            f"Cannot paste: the clipboard text is not workflow JSON "
            f"({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    foreign = _foreign(data)
    if foreign is not None:
        return foreign
    if isinstance(data, dict) and "nodes" not in data and "id" in data and "type" in data:
        data = {"nodes": [data]}  # a single node object
    if not isinstance(data, dict):
        raise PasteError(
            f"Cannot paste: the clipboard JSON is a {type(data).__name__}, "
            f'not a workflow object with a "nodes" list'
        )
    if not isinstance(data.get("nodes"), list):
        raise PasteError(
            'Cannot paste: the clipboard JSON has no "nodes" list, so it is not a workflow'
        )
    try:
        fragment = WorkflowDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise PasteError(
            f"Cannot paste: the clipboard workflow is invalid at {_location(first['loc'])}: "
            f"{first['msg']}{more}"
        ) from None
    if not fragment.nodes:
        raise PasteError("Nothing to paste: the clipboard workflow has no nodes")
    seen: set[str] = set()
    for index, node in enumerate(fragment.nodes):
        if node.id in seen:
            raise PasteError(
                f"Cannot paste: the clipboard workflow has two nodes with id {node.id!r} "
                f"(nodes[{index}])"
            )
        seen.add(node.id)
    return fragment


def _foreign(data: Any) -> WorkflowDocument | None:
    """``data`` converted when it is another tool's workflow JSON, else None."""
    from glyphic_desktop.document.formats import FORMAT_TITLES, detect_format
    from glyphic_desktop.document.io import read_workflow_data
    from glyphic_desktop.document.validation import DocumentError

    fmt = detect_format(data)
    if fmt is None or fmt == "glyphic":
        return None
    try:
        result = read_workflow_data(data, source="the clipboard", fmt=fmt)
    except DocumentError as exc:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
        where = f" at {first.path}" if first.path else ""
        raise PasteError(
            f"Cannot paste {FORMAT_TITLES[fmt]}: invalid{where}: {first.message}{more}"
        ) from None
    if not result.document.nodes:
        raise PasteError(f"Nothing to paste: the clipboard's {FORMAT_TITLES[fmt]} has no nodes")
    result.document.metadata["pastedFrom"] = fmt
    return result.document


def _clipboard(clipboard: QClipboard | None) -> QClipboard:
    return clipboard if clipboard is not None else QGuiApplication.clipboard()


def copy_selection(
    model: GraphModel,
    node_ids: Iterable[str],
    group_keys: Iterable[str] = (),
    clipboard: QClipboard | None = None,
) -> str:
    """Put the selection's workflow JSON on the (system) clipboard; returns the text."""
    text = selection_json(model, node_ids, group_keys)
    mime = QMimeData()
    mime.setText(text)
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    _clipboard(clipboard).setMimeData(mime)
    return text


def clipboard_text(clipboard: QClipboard | None = None) -> str:
    """The clipboard's workflow JSON (our MIME type first, then plain text)."""
    mime = _clipboard(clipboard).mimeData()
    if mime is None:
        return ""
    if mime.hasFormat(MIME_TYPE):
        return bytes(mime.data(MIME_TYPE).data()).decode("utf-8", errors="replace")
    return mime.text() if mime.hasText() else ""


def paste(
    model: GraphModel,
    stack: QUndoStack,
    text: str | None = None,
    at: tuple[float, float] | None = None,
    clipboard: QClipboard | None = None,
    label: str = "Paste",
) -> PasteResult:
    """Paste ``text`` (default: the clipboard) as one undoable edit; garbage changes nothing."""
    from glyphic_desktop.ui.commands import PasteCommand

    if text is None:
        text = clipboard_text(clipboard)
    try:
        fragment = parse_fragment(text)
    except PasteError as exc:
        return PasteResult(False, str(exc))
    command = PasteCommand(
        model, fragment, at=at, text=f"{label} {len(fragment.nodes)} nodes", copy=False
    )
    stack.push(command)
    count = len(command.node_ids)
    message = f"{label}d {count} node{'s' if count != 1 else ''}"
    source = fragment.metadata.get("pastedFrom")
    if source:
        from glyphic_desktop.document.formats import FORMAT_TITLES

        wires = len(fragment.edges)
        message += (
            f" and {wires} wire{'s' if wires != 1 else ''} converted from "
            f"{FORMAT_TITLES.get(source, source)}"
        )
    return PasteResult(True, message, command.node_ids)
