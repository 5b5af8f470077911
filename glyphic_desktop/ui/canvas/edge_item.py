"""A wire between an output and an input, drawn as a cubic curve (a line at low zoom).

The path is cached in the ``QGraphicsPathItem`` (bounding rect and shape come from C++);
:meth:`EdgeItem.adjust` recomputes it and is called only when one of the two endpoint
nodes moves.

A wire whose types no longer fit (a later field edit changed its output's type, or the
file was saved so) is *invalid*: the scene sets its reason with
:meth:`EdgeItem.set_problem` when the wire is drawn and whenever one of its two nodes
changes; it is then drawn dashed in the theme's refusal colour with the reason as its
tooltip. Painting only reads the stored reason (no type check per paint).
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
from glyphic_desktop.ui.canvas.style import CURVE_LOD, DARK, invalid_wire_pen

if TYPE_CHECKING:
    from glyphic_desktop.ui.canvas.node_item import NodeItem

_NO_BRUSH = Qt.BrushStyle.NoBrush
_lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform


_FLAGS = QGraphicsPathItem.GraphicsItemFlag.ItemIsSelectable
_PENS: dict[str, QPen] = {}
#: The invalid pen's geometry (width) is the same in every theme: the item's own pen
#: (bounding rect and shape) need not follow a theme switch.
_INVALID_GEOMETRY = invalid_wire_pen(DARK)
#: What an invalid wire's tooltip starts with, before the connect check's reason.
PROBLEM_PREFIX = "This wire no longer fits: "


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
        #: Why the wire's types no longer fit (the connect check's words), or None.
        self.problem: str | None = None
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

    @property
    def invalid(self) -> bool:
        """Whether the wire is drawn as one whose types no longer fit."""
        return self.problem is not None

    def set_problem(self, reason: str | None) -> bool:
        """Mark the wire invalid with ``reason`` (None: valid again); True if it changed."""
        if reason == self.problem:
            return False
        self.problem = reason
        if reason is None:
            self.setPen(_wire_pen(self.port_type))
            self.setToolTip("")
        else:
            self.setPen(_INVALID_GEOMETRY)
            self.setToolTip(PROBLEM_PREFIX + reason)
        return True

    def set_port_type(self, port_type: str) -> None:
        """The output's type changed (a field edit): the wire takes its colour."""
        if port_type == self.port_type:
            return
        self.port_type = port_type
        if self.problem is None:
            self.setPen(_wire_pen(port_type))

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
        """Curve at normal zoom, straight line when zoomed out; highlighted when selected;
        dashed in the refusal colour when invalid."""
        ctx = self.ctx
        if self.problem is not None:
            pen = ctx.invalid_wire_pens[self.isSelected()]
        else:
            pen = ctx.selected_wire_pen if self.isSelected() else self.pen()
        painter.setPen(pen)
        if _lod(painter.worldTransform()) < CURVE_LOD:
            painter.drawLine(self._a, self._b)
        else:
            painter.setBrush(_NO_BRUSH)
            painter.drawPath(self.path())
