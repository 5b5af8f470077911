"""Port labels of a document node, for the canvas and the data panel (no Qt).

:func:`output_port_labels` asks the node's type (``NodeType.output_labels``) for each
output port's label given the node's fields as written: a Switch's outputs carry its
rules' names (``case_0`` → ``"paid"`` or ``"equals 'paid'"``), other types their ports'
titles. An unknown type gets its ports' names from the document.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node
    from glyphic_desktop.nodes.registry import NodeRegistry

log = logging.getLogger(__name__)


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
