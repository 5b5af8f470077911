"""A workflow document as compact JSON bytes, written in slices.

pydantic-core's ``to_json`` of a whole document is one call into Rust that holds the
interpreter (the GIL) from start to end: at 10,000 nodes 20-40 ms on a busy machine,
during which no other Python thread runs — the GUI thread included, when the save or
the autosave runs on a worker thread. :func:`document_json_bytes` writes the same bytes
(``document.model_dump_json().encode()``, byte for byte) from slices of
:data:`SLICE_ITEMS` nodes, edges and groups, giving the interpreter a chance to switch
threads between slices (each is about a millisecond), so the GUI thread waits at most
one slice for the GIL instead of the whole document. It costs the same CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from glyphic_desktop.document.model import Edge, Group, Node, WorkflowDocument

SLICE_ITEMS = 250
LIST_FIELDS = {"nodes": Node, "edges": Edge, "groups": Group}


@cache
def _list_adapter(item_type: type) -> TypeAdapter[Any]:
    return TypeAdapter(list[item_type])  # type: ignore[valid-type]


def _inner(json_object: bytes) -> bytes:
    """``{...}`` without its braces (``b""`` for ``{}``)."""
    return json_object[1:-1]


def _list_bytes(items: Sequence[Any], item_type: type, slice_items: int) -> bytes:
    adapter = _list_adapter(item_type)
    parts = []
    for start in range(0, len(items), slice_items):
        parts.append(_inner(adapter.dump_json(items[start : start + slice_items])))
        time.sleep(0)  # a switch point: a thread waiting for the GIL gets it now
    return b"[" + b",".join(parts) + b"]"


def document_json_bytes(
    document: WorkflowDocument,
    *,
    nodes: Sequence[Node] | None = None,
    slice_items: int = SLICE_ITEMS,
) -> bytes:
    """The document as compact UTF-8 JSON, equal to ``document.model_dump_json()``
    encoded, written slice by slice (see the module docstring).

    ``nodes`` replaces the document's nodes in the output (the drafts write nodes with
    their secrets scrubbed this way). Port links are written as they are.
    """
    serializer = document.__pydantic_serializer__
    names = list(type(document).model_fields)
    first_list = min(names.index(name) for name in LIST_FIELDS)
    head_names = set(names[:first_list])
    pieces = [_inner(serializer.to_json(document, include=head_names))]
    for name, item_type in LIST_FIELDS.items():
        items = nodes if name == "nodes" and nodes is not None else getattr(document, name)
        pieces.append(b'"' + name.encode() + b'":' + _list_bytes(items, item_type, slice_items))
    tail = serializer.to_json(document, exclude=head_names | set(LIST_FIELDS))
    pieces.append(_inner(tail))
    return b"{" + b",".join(piece for piece in pieces if piece) + b"}"
