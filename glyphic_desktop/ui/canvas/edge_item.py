"""A wire between an output and an input, drawn as a cubic curve (a line at low zoom).

The path is cached in the ``QGraphicsPathItem`` (bounding rect and shape come from C++);
:meth:`EdgeItem.adjust` recomputes it and is called only when one of the two endpoint
nodes moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from glyphic_desktop.ui.canvas.port_item import port_color
from glyphic_desktop.ui.canvas.style import CURVE_LOD

if TYPE_CHECKING:
    from glyphic_desktop.ui.canvas.node_item import NodeItem

_NO_BRUSH = Qt.BrushStyle.NoBrush
_lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform


_FLAGS = QGraphicsPathItem.GraphicsItemFlag.ItemIsSelectable
_PENS: dict[str, QPen] = {}


def _wire_pen(port_type: str) -> QPen:
    pen = _PENS.get(port_type)
    if pen is None:
        color = QColor(port_color(port_type))
        color.setAlpha(210)
        pen = _PENS[port_type] = QPen(color, 2.0)
    return pen


def wire_path(a: QPointF, b: QPointF) -> QPainterPath:
    """The curve from output point ``a`` to input point ``b``."""
    ax, ay, bx, by = a.x(), a.y(), b.x(), b.y()
    dx = max(abs(bx - ax) * 0.5, 40.0)
    path = QPainterPath(a)
    path.cubicTo(ax + dx, ay, bx - dx, by, bx, by)
    return path


class EdgeItem(QGraphicsPathItem):
    """One edge of the document, between two :class:`NodeItem` s."""

    def __init__(
        self,
        ctx: Any,
        edge_id: int,
        source: NodeItem,
        source_port: str,
        target: NodeItem,
        target_port: str,
        port_type: str,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.edge_id = edge_id
        self.source = source
        self.target = target
        self.source_port = source_port
        self.target_port = target_port
        self.port_type = port_type
        self._a = QPointF()
        self._b = QPointF()
        self.count_label: QGraphicsSimpleTextItem | None = None
        self.setPen(_wire_pen(port_type))
        self.setFlags(_FLAGS)
        self.resolve()

    def resolve(self) -> None:
        """Re-read the port anchors (after a node's ports changed) and re-route."""
        self._src = self.source.output_anchor(self.source_port)
        self._dst = self.target.input_anchor(self.target_port)
        self.adjust()

    def adjust(self) -> None:
        """Re-route after an endpoint node moved."""
        a = self.source.pos() + self._src
        b = self.target.pos() + self._dst
        self._a, self._b = a, b
        self.setPath(wire_path(a, b))
        if self.count_label is not None:
            self._place_count()

    def set_item_count(self, count: int | None) -> None:
        """Show how many items the wire carried in a run (None: no label)."""
        if count is None:
            if self.count_label is not None:
                self.count_label.setParentItem(None)
                if self.count_label.scene() is not None:
                    self.count_label.scene().removeItem(self.count_label)
                self.count_label = None
            return
        if self.count_label is None:
            self.count_label = QGraphicsSimpleTextItem(self)
            self.count_label.setBrush(QColor("#9aa4b2"))
            self.count_label.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.count_label.setText(f"{count} item{'s' * (count != 1)}")
        self._place_count()

    def item_count_text(self) -> str:
        """The item count shown on the wire ("" when none)."""
        return self.count_label.text() if self.count_label is not None else ""

    def _place_count(self) -> None:
        label = self.count_label
        if label is None:
            return
        mid = self.path().pointAtPercent(0.5)
        rect = label.boundingRect()
        label.setPos(mid.x() - rect.width() / 2, mid.y() - rect.height() - 2)

    def endpoints(self) -> tuple[QPointF, QPointF]:
        """Scene points of the output end and the input end."""
        return self._a, self._b

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        """Curve at normal zoom, straight line when zoomed out; highlighted when selected."""
        painter.setPen(self.ctx.selected_wire_pen if self.isSelected() else self.pen())
        if _lod(painter.worldTransform()) < CURVE_LOD:
            painter.drawLine(self._a, self._b)
        else:
            painter.setBrush(_NO_BRUSH)
            painter.drawPath(self.path())
