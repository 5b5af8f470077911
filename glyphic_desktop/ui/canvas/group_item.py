"""A group: a titled, resizable frame drawn behind its nodes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from glyphic_desktop.ui.canvas.style import GROUP_HEADER

#: Size of the resize grip in the bottom-right corner (scene units).
GRIP = 16.0


class GroupItem(QGraphicsRectItem):
    """One group of the document; ``key`` is the model's group key."""

    def __init__(self, ctx: Any, key: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.key = key
        self.title = ""
        self.color: QColor | None = None
        self._text: QStaticText | None = None
        self.setZValue(-10.0)
        self.setPen(Qt.PenStyle.NoPen)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)

    def configure(self, title: str, bounding: list[float], color: str | None) -> None:
        """Apply the group's title, ``[x, y, w, h]`` and colour."""
        x, y, w, h = bounding
        self.title = title
        self.color = QColor(color) if color else None
        self._text = None
        self.setPos(x, y)
        self.setRect(0.0, 0.0, max(w, 1.0), max(h, 1.0))
        self.update()

    def bounding(self) -> list[float]:
        """The current ``[x, y, w, h]`` (as moved on screen)."""
        r = self.rect()
        return [self.pos().x(), self.pos().y(), r.width(), r.height()]

    def grip_contains(self, scene_pos: QPointF) -> bool:
        """Whether ``scene_pos`` is on the resize grip."""
        r = self.rect()
        local = scene_pos - self.pos()
        return local.x() >= r.width() - GRIP and local.y() >= r.height() - GRIP

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        """Translucent frame, title bar and grip."""
        theme = self.ctx.theme
        r = self.rect()
        fill = QColor(self.color) if self.color else QColor(theme.group_fill)
        if self.color:
            fill.setAlpha(50)
        border = theme.selection if self.isSelected() else theme.group_border
        painter.setPen(QPen(border, 2.0 if self.isSelected() else 1.0))
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(r, 4.0, 4.0)
        painter.fillRect(
            QRectF(0.0, 0.0, r.width(), GROUP_HEADER),
            QColor(fill.red(), fill.green(), fill.blue(), min(255, fill.alpha() * 2)),
        )
        if self._text is None:
            self._text = QStaticText(self.title)
            self._text.setTextFormat(Qt.TextFormat.PlainText)
        painter.setPen(theme.group_text)
        font = painter.font()
        font.setPointSizeF(11.0)
        font.setBold(True)
        painter.setFont(font)
        painter.drawStaticText(QPointF(10.0, 5.0), self._text)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.group_border)
        w, h = r.width(), r.height()
        painter.drawPolygon(QPolygonF([QPointF(w, h - GRIP), QPointF(w, h), QPointF(w - GRIP, h)]))
