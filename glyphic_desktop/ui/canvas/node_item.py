"""A node on the canvas: a plain block painted by Qt, its details painted by the scene.

:class:`NodeItem` is a ``QGraphicsRectItem`` without a Python ``paint``: at low zoom the
block is all that is drawn, so painting 10,000 nodes makes no Python call per node.
At readable zoom levels the scene's ``drawForeground`` calls :meth:`NodeItem.paint_detail`
for the nodes in the exposed area only (title, ports, field preview, status badge,
selection outline). There is one graphics item per node; ports are not items.

Text is drawn with cached ``QStaticText`` (built on first paint), not text items.
Items never change the document: gestures push commands (see ``interactions.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from glyphic_desktop.ui.canvas.port_item import PortRef, paint_port, port_center
from glyphic_desktop.ui.canvas.style import (
    HEADER_HEIGHT,
    NODE_WIDTH,
    PORT_HIT_RADIUS,
    PORT_RADIUS,
    ROW_HEIGHT,
    CanvasTheme,
)
from glyphic_desktop.ui.graph_model import PortInfo

if TYPE_CHECKING:
    from glyphic_desktop.ui.canvas.edge_item import EdgeItem

_FONT: QFont | None = None
_BOLD: QFont | None = None
_LABELS: dict[tuple[str, bool], QStaticText] = {}

#: Status badge colours (set by the window while a run is going).
STATUS_COLORS = {
    "running": "#42a5f5",
    "done": "#4caf50",
    "failed": "#ef5350",
    "skipped": "#9aa0a6",
}


def _fonts() -> tuple[QFont, QFont]:
    global _FONT, _BOLD
    if _FONT is None:
        _FONT = QFont()
        _FONT.setPointSizeF(8.5)
        _BOLD = QFont(_FONT)
        _BOLD.setBold(True)
    return _FONT, _BOLD  # type: ignore[return-value]


def _static(text: str, font: QFont, width: float) -> QStaticText:
    elided = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)
    static = QStaticText(elided)
    static.setTextFormat(Qt.TextFormat.PlainText)
    static.prepare(font=font)
    return static


def _port_label(name: str, output: bool) -> QStaticText:
    key = (name, output)
    label = _LABELS.get(key)
    if label is None:
        label = _LABELS[key] = _static(name, _fonts()[0], NODE_WIDTH / 2 - 14)
    return label


_BRUSHES: dict[int, QBrush] = {}
_LAYOUTS: dict[tuple, tuple[dict[str, QPointF], dict[str, QPointF]]] = {}


def _brush(color: QColor) -> QBrush:
    key = color.rgba()
    brush = _BRUSHES.get(key)
    if brush is None:
        brush = _BRUSHES[key] = QBrush(color)
    return brush


def _layout(
    inputs: tuple[PortInfo, ...], outputs: tuple[PortInfo, ...], width: float
) -> tuple[dict[str, QPointF], dict[str, QPointF]]:
    """Port centres for a port list and width (shared by every node of the same shape)."""
    key = (tuple(p.name for p in inputs), tuple(p.name for p in outputs), width)
    found = _LAYOUTS.get(key)
    if found is None:
        found = _LAYOUTS[key] = (
            {p.name: port_center(i, False, width) for i, p in enumerate(inputs)},
            {p.name: port_center(i, True, width) for i, p in enumerate(outputs)},
        )
    return found


class NodeItem(QGraphicsRectItem):
    """The block of one node; knows its ports and its wires, and paints its details."""

    #: How far ports stick out of the block (the scene repaints this margin too).
    MARGIN = PORT_RADIUS + 5.0

    # Per-node state; class-level defaults keep building 10,000 items cheap.
    inputs: tuple[PortInfo, ...] = ()
    outputs: tuple[PortInfo, ...] = ()
    in_centers: dict[str, QPointF] = {}  # noqa: RUF012 (replaced, never mutated)
    out_centers: dict[str, QPointF] = {}  # noqa: RUF012
    title = ""
    subtitle = ""
    preview = ""
    unknown = False
    width = 0.0
    height = 0.0
    status: str | None = None
    status_text = ""
    texts: dict[str, QStaticText] | None = None
    #: ``(port_name, is_output, state)`` while a dragged wire or the cursor hovers a port.
    highlight: tuple[str, bool, str] | None = None
    #: Whether the scene draws only some of the type's outputs (``scene.DISPLAY_OUTPUTS``).
    filtered = False

    def __init__(self, ctx: Any, node_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.node_id = node_id
        self.edges: list[EdgeItem] = []
        self.setPen(_NO_PEN)
        self.setFlags(_FLAGS)

    # -- content ------------------------------------------------------------------------

    def configure(
        self,
        title: str,
        subtitle: str,
        inputs: tuple[PortInfo, ...],
        outputs: tuple[PortInfo, ...],
        preview: str,
        unknown: bool,
        size: list[float] | None,
    ) -> None:
        """Set what the node shows; recomputes its size and port positions."""
        self.title, self.subtitle, self.preview, self.unknown = title, subtitle, preview, unknown
        self.inputs, self.outputs = inputs, outputs
        rows = max(len(inputs), len(outputs), 1)
        height = HEADER_HEIGHT + rows * ROW_HEIGHT + (ROW_HEIGHT if preview or unknown else 0) + 6
        width = NODE_WIDTH
        if size:
            width = max(float(size[0]), 80.0)
            height = max(float(size[1]), height)
        if width != self.width or height != self.height:
            self.width, self.height = width, height
            self.setRect(0.0, 0.0, width, height)
        self.in_centers, self.out_centers = _layout(inputs, outputs, width)
        self.apply_theme(self.ctx.theme)
        self.texts = None
        self.refresh()

    def apply_theme(self, theme: CanvasTheme) -> None:
        """Colour the block for ``theme`` and the selection state."""
        if self.isSelected():
            color = theme.selection
        elif self.unknown:
            color = theme.unknown
        else:
            color = theme.node_block
        self.setBrush(_brush(color))

    def set_status(self, status: str | None, text: str = "") -> None:
        """Show a run status badge (running, done, failed, skipped) with ``text`` (item count)."""
        self.status, self.status_text = status, text
        self.texts = None
        self.refresh()

    def set_highlight(self, highlight: tuple[str, bool, str] | None) -> None:
        """Show (or clear) the hover state of one port (``HOVER``, ``ACCEPT``, ``REFUSE``)."""
        if highlight != self.highlight:
            self.highlight = highlight
            self.refresh()

    def detail_rect(self) -> QRectF:
        """Scene rect covered by the block and its ports."""
        m = self.MARGIN
        pos = self.pos()
        return QRectF(pos.x() - m, pos.y() - 2.0, self.width + 2 * m, self.height + 4.0)

    def refresh(self) -> None:
        """Repaint the node including the ports sticking out of the block."""
        scene = self.ctx
        if scene.details_visible and not scene.building:
            scene.update(self.detail_rect())

    # -- geometry -----------------------------------------------------------------------

    def input_anchor(self, name: str) -> QPointF:
        """Node-local point where a wire meets input ``name``."""
        return self.in_centers.get(name) or QPointF(0.0, self.height / 2)

    def output_anchor(self, name: str) -> QPointF:
        """Node-local point where a wire leaves output ``name``."""
        return self.out_centers.get(name) or QPointF(self.width, self.height / 2)

    def port_at(self, scene_pos: QPointF) -> PortRef | None:
        """The port under ``scene_pos`` (within ``PORT_HIT_RADIUS``), or None."""
        local = scene_pos - self.pos()
        limit = PORT_HIT_RADIUS * PORT_HIT_RADIUS
        for output, ports, centers in (
            (False, self.inputs, self.in_centers),
            (True, self.outputs, self.out_centers),
        ):
            for port in ports:
                c = centers[port.name]
                dx, dy = local.x() - c.x(), local.y() - c.y()
                if dx * dx + dy * dy <= limit:
                    return PortRef(self.node_id, port.name, output, port.type)
        return None

    def port_scene_pos(self, name: str, output: bool) -> QPointF:
        """Scene position of a port."""
        return self.pos() + (self.output_anchor(name) if output else self.input_anchor(name))

    def connected_ports(self) -> set[tuple[str, bool]]:
        """``(port_name, is_output)`` of every port with a wire."""
        found = set()
        for edge in self.edges:
            if edge.source is self:
                found.add((edge.source_port, True))
            if edge.target is self:
                found.add((edge.target_port, False))
        return found

    def move_to(self, x: float, y: float) -> None:
        """Move the block and re-route its wires (only its own: node → edges index)."""
        scene = self.ctx
        if scene.details_visible and not scene.building:
            scene.update(self.detail_rect())
            self.setPos(x, y)
            scene.update(self.detail_rect())
        else:
            self.setPos(x, y)
        for edge in self.edges:
            edge.adjust()

    # -- painting -----------------------------------------------------------------------

    def _texts(self) -> dict[str, QStaticText]:
        if self.texts is None:
            font, bold = _fonts()
            width = self.width - 16
            self.texts = {"title": _static(self.title, bold, width - (50 if self.status else 0))}
            if self.unknown:
                self.texts["preview"] = _static(f"unknown type: {self.subtitle}", font, width)
            elif self.preview:
                self.texts["preview"] = _static(self.preview, font, width)
            if self.status:
                self.texts["status"] = _static(self.status_text or self.status, font, 60)
        return self.texts

    def paint_detail(self, painter: QPainter, theme: CanvasTheme) -> None:
        """Draw body, header, title, ports, labels and badge (painter in node coordinates)."""
        texts = self._texts()
        w, h = self.width, self.height
        if self.isSelected():
            border = QPen(theme.selection, 2.0)
        elif self.unknown:
            border = QPen(theme.unknown, 1.5, Qt.PenStyle.DashLine)
        else:
            border = QPen(theme.node_border, 1.0)
        painter.setPen(border)
        painter.setBrush(theme.node_body)
        painter.drawRoundedRect(QRectF(0.0, 0.0, w, h), 3.0, 3.0)
        painter.fillRect(QRectF(1.0, 1.0, w - 2.0, HEADER_HEIGHT - 1.0), theme.node_header)
        painter.setPen(theme.node_text)
        painter.drawStaticText(QPointF(8.0, 6.0), texts["title"])
        if self.status:
            color = QColor(STATUS_COLORS.get(self.status, "#9aa0a6"))
            painter.setBrush(color)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(w - 62.0, 9.0, 8.0, 8.0))
            painter.setPen(theme.node_subtext)
            painter.drawStaticText(QPointF(w - 50.0, 6.0), texts["status"])
        connected = self.connected_ports()
        highlight = self.highlight
        for output, ports, centers in (
            (False, self.inputs, self.in_centers),
            (True, self.outputs, self.out_centers),
        ):
            for port in ports:
                c = centers[port.name]
                label = _port_label(port.title or port.name, output)
                x = c.x() - label.size().width() - 10.0 if output else c.x() + 10.0
                painter.setPen(theme.node_subtext)
                painter.drawStaticText(QPointF(x, c.y() - 8.0), label)
                state = None
                if highlight is not None and highlight[0] == port.name and highlight[1] == output:
                    state = highlight[2]
                paint_port(
                    painter,
                    c,
                    port.type,
                    (port.name, output) in connected,
                    state,
                    theme.node_body,
                    theme.accept,
                    theme.refuse,
                )
        preview = texts.get("preview")
        if preview is not None:
            painter.setPen(theme.unknown if self.unknown else theme.node_subtext)
            painter.drawStaticText(QPointF(8.0, h - ROW_HEIGHT - 2.0), preview)


_NO_PEN = QPen(Qt.PenStyle.NoPen)
_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
