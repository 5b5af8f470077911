"""Port labels and port types of a document node (no Qt).

:func:`output_port_labels` asks the node's type (``NodeType.output_labels``) for each
output port's label given the node's fields as written: a Switch's outputs carry its
rules' names (``case_0`` → ``"paid"`` or ``"equals 'paid'"``), other types their ports'
titles. An unknown type gets its ports' names from the document.

:func:`output_port_types` is the one answer to "what type does this output carry": the
type's ``output_types(fields)`` (GitHub's list operations give an ``array``, its other
operations an ``object``), checked and falling back to the declared types. The editor's
connect check and hover feedback (``ui/graph_model.py``) and preflight
(``engine/preflight.py``) all ask it, so they agree on every wire.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from glyphic_desktop.nodes.base import ERROR_PORT, PORT_TYPES, NodeType

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node
    from glyphic_desktop.nodes.registry import NodeRegistry

log = logging.getLogger(__name__)
#: The default hook: a type that does not override it has its declared types.
_DECLARED_TYPES = NodeType.output_types.__func__  # type: ignore[attr-defined]


def output_port_labels(node: Node, registry: NodeRegistry | None = None) -> dict[str, str]:
    """``{output port: label}`` of ``node`` (the default registry unless one is given)."""
    if registry is None:
        from glyphic_desktop.nodes.registry import default_registry

        registry = default_registry()
    version = (node.data.model_extra or {}).get("typeVersion")
    pinned = int(version) if isinstance(version, int | str) and str(version).isdigit() else None
    cls = registry.get(node.type, pinned)
    if cls is None:
        return {port.name: port.name for port in node.outputs}
    try:
        return cls.output_labels(node.data.fields)
    except Exception:  # a type's labels must never break drawing the canvas
        log.warning("output_labels of %r raised; port titles used", node.type, exc_info=True)
        return {port.name: port.title or port.name for port in cls.outputs}


def output_port_types(cls: Any, fields: Mapping[str, Any] | None) -> dict[str, str]:
    """``{output port: data type}`` of a node of type ``cls`` with ``fields`` as written.

    Every declared output is in the result. ``cls.output_types(fields)`` refines the
    declared types; what it says about undeclared ports or with a type name that is not a
    port type is ignored, and a hook that raises (or a class without one) leaves the
    declared types. Never validates the fields: cheap enough for every field edit.
    """
    declared = {port.name: port.type for port in getattr(cls, "outputs", ())}
    hook = getattr(cls, "output_types", None)
    if hook is None or getattr(hook, "__func__", None) is _DECLARED_TYPES:
        return declared  # not overridden: the declared types (no call, no copy)
    try:
        told = hook(fields if isinstance(fields, Mapping) else {})
    except Exception:  # a type's hook must never break the editor or preflight
        log.warning("output_types of %r raised; declared types used", cls, exc_info=True)
        return declared
    if isinstance(told, Mapping):
        for name, kind in told.items():
            if name in declared and kind in PORT_TYPES:
                declared[name] = kind
    return declared


def output_port_type(cls: Any, fields: Mapping[str, Any] | None, port: str) -> str | None:
    """The data type output ``port`` carries (see :func:`output_port_types`); None when
    the type declares no such output (the implicit ``error`` output is an ``object``)."""
    kind = output_port_types(cls, fields).get(port)
    if kind is None and port == ERROR_PORT:
        return "object"
    return kind
