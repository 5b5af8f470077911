"""Ports: their identity (:class:`PortRef`), geometry and drawing.

Ports are not graphics items of their own: a node draws its ports in its ``paint`` and
answers hit tests with :meth:`NodeItem.port_at`. That keeps a 10,000-node scene at one
block item plus one detail item per node instead of four.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from glyphic_desktop.ui.canvas.style import (
    HEADER_HEIGHT,
    PORT_COLORS,
    PORT_RADIUS,
    ROW_HEIGHT,
)

#: Hover states a port can show while a wire is being dragged.
ACCEPT = "accept"
REFUSE = "refuse"
#: The state of the port under the cursor when no gesture runs (what a press would grab).
HOVER = "hover"


class PortRef(NamedTuple):
    """One port of one node: node id, port name, whether it is an output, its data type."""

    node_id: str
    name: str
    output: bool
    type: str


def port_center(index: int, output: bool, width: float) -> QPointF:
    """Where port ``index`` sits in node coordinates (inputs left, outputs right)."""
    return QPointF(width if output else 0.0, HEADER_HEIGHT + ROW_HEIGHT * index + ROW_HEIGHT / 2)


_COLOR_CACHE: dict[str, QColor] = {}


def port_color(port_type: str) -> QColor:
    """The colour of a port type (grey for unknown types)."""
    color = _COLOR_CACHE.get(port_type)
    if color is None:
        color = _COLOR_CACHE[port_type] = QColor(PORT_COLORS.get(port_type, PORT_COLORS["any"]))
    return color


def paint_port(
    painter: QPainter,
    center: QPointF,
    port_type: str,
    connected: bool,
    state: str | None,
    ring: QColor,
    accept: QColor,
    refuse: QColor,
    radius: float = PORT_RADIUS,
) -> None:
    """Draw a port: filled when connected, hollow when not, haloed while hovered (in its
    own colour under the cursor, green / red under a dragged wire). Zoomed out, the
    caller passes a larger ``radius`` so the port stays a few pixels wide on screen."""
    color = port_color(port_type)
    grow = radius / PORT_RADIUS
    if state == HOVER:
        painter.setPen(QPen(color, 2.0 * grow))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        r = radius + 4 * grow
        painter.drawEllipse(QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r))
    elif state is not None:
        halo = accept if state == ACCEPT else refuse
        painter.setPen(QPen(halo, 3.0 * grow))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        r = radius + 4 * grow
        painter.drawEllipse(QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r))
    painter.setPen(QPen(ring, 1.5 * grow) if connected else QPen(color, 2.0 * grow))
    painter.setBrush(color if connected else ring)
    r = radius
    painter.drawEllipse(QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r))
