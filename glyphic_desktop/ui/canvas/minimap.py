"""The minimap: an overview of the whole graph in a corner of the canvas.

:class:`Minimap` is a small widget over the view's bottom-right corner. It shows every
node as a rectangle in its category colour and the part of the graph the view shows as
a frame; a click or a drag moves the view there.

It stays cheap on big graphs: the node rectangles are drawn once into a cached
``QPixmap``, rebuilt only after the model changed (changes are coalesced: one rebuild
once they pause for :attr:`Minimap.COALESCE_MS`), and only while the minimap is shown.
Scrolling or zooming the view only repaints the cached picture and the frame.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget


class Minimap(QWidget):
    """An overview of ``view``'s scene in its bottom-right corner (hidden until shown)."""

    SIZE = (220, 150)
    MARGIN = 12
    COALESCE_MS = 200

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        self.scene = view.editor_scene
        #: How many times the cached picture was drawn (tests count it).
        self.rebuilds = 0
        self._picture: QPixmap | None = None
        self._theme = ""
        #: The scene rect the picture shows, and the picture's scale (pixels per unit).
        self.world = QRectF()
        self.ratio = 1.0
        self._dirty = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.COALESCE_MS)
        self._timer.timeout.connect(self._rebuild_if_dirty)
        self.setObjectName("minimap")
        self.setFixedSize(*self.SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        view.minimap = self
        view.installEventFilter(self)
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)
        view.zoom_changed.connect(self.update)
        self._connect_model()
        self.scene.rebuilding.connect(self.mark_dirty)
        self._place()

    def _connect_model(self) -> None:
        model = self.scene.model
        for signal in (
            model.nodes_added,
            model.nodes_removed,
            model.node_moved,
            model.node_changed,
            model.document_reset,
        ):
            signal.connect(self.mark_dirty)

    # -- the cached picture ----------------------------------------------------------

    def mark_dirty(self, *_: Any) -> None:
        """The graph changed: redraw the picture once the changes pause for
        ``COALESCE_MS`` (a drag or a bulk edit makes one rebuild, not one per step)."""
        self._dirty = True
        if self.isVisible():
            self._timer.start()  # (re)started: the rebuild waits for a pause

    def _rebuild_if_dirty(self) -> None:
        if self._dirty and self.isVisible():
            self.rebuild()
            self.update()

    def rebuild(self) -> None:
        """Draw every node's rectangle into the cached picture."""
        self._dirty = False
        self.rebuilds += 1
        scene = self.scene
        theme = scene.theme
        self._theme = theme.name
        width, height = self.SIZE
        pixmap = QPixmap(width, height)
        back = QColor(theme.node_body)
        back.setAlpha(235)
        pixmap.fill(back)
        boxes = []
        for item in scene.nodes.values():
            pos = item.pos()
            boxes.append((pos.x(), pos.y(), item.width, item.height, item.visual.color))
        if boxes:
            left = min(b[0] for b in boxes)
            top = min(b[1] for b in boxes)
            right = max(b[0] + b[2] for b in boxes)
            bottom = max(b[1] + b[3] for b in boxes)
            world = QRectF(left, top, max(right - left, 1.0), max(bottom - top, 1.0))
        else:
            world = QRectF(-500.0, -300.0, 1000.0, 600.0)
        pad = self.MARGIN
        ratio = min((width - 2 * pad) / world.width(), (height - 2 * pad) / world.height())
        # Centre the graph in the picture.
        world = QRectF(
            world.center().x() - width / 2 / ratio,
            world.center().y() - height / 2 / ratio,
            width / ratio,
            height / ratio,
        )
        self.world, self.ratio = world, ratio
        painter = QPainter(pixmap)
        left, top = world.left(), world.top()
        colors: dict[str, QColor] = {}
        fill = painter.fillRect
        for x, y, w, h, name in boxes:
            color = colors.get(name)
            if color is None:
                color = colors[name] = QColor(name)
            fill(
                QRectF(
                    (x - left) * ratio, (y - top) * ratio, max(w * ratio, 1.5), max(h * ratio, 1.0)
                ),
                color,
            )
        painter.setPen(QPen(theme.node_border, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(0.5, 0.5, width - 1.0, height - 1.0))
        painter.end()
        self._picture = pixmap

    # -- geometry --------------------------------------------------------------------

    def to_scene(self, point: QPointF) -> QPointF:
        """The scene point under minimap pixel ``point``."""
        return QPointF(
            self.world.left() + point.x() / self.ratio, self.world.top() + point.y() / self.ratio
        )

    def to_map(self, point: QPointF) -> QPointF:
        """The minimap pixel showing scene point ``point``."""
        return QPointF(
            (point.x() - self.world.left()) * self.ratio,
            (point.y() - self.world.top()) * self.ratio,
        )

    def viewport_rect(self) -> QRectF:
        """The part of the scene the view shows, in minimap pixels."""
        view = self.view
        shown = view.mapToScene(view.viewport().rect()).boundingRect()
        a, b = self.to_map(shown.topLeft()), self.to_map(shown.bottomRight())
        return QRectF(a, b)

    def _place(self) -> None:
        view = self.view
        width, height = self.SIZE
        self.move(view.width() - width - self.MARGIN, view.height() - height - self.MARGIN)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Stay in the view's corner when it is resized."""
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    # -- Qt events -------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        """Shown: draw the picture if the graph changed while hidden."""
        self._place()
        self.raise_()
        if self._dirty or self._picture is None:
            self.rebuild()
        super().showEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """The cached picture, then the frame of what the view shows."""
        if self._picture is None or self._theme != self.scene.theme.name:
            self.rebuild()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        inside = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        shown = self.viewport_rect()
        frame = shown.intersected(inside)
        if not frame.isEmpty() and not shown.contains(inside):  # all in view: no frame
            color = QColor(self.scene.theme.selection)
            painter.setPen(QPen(color, 1.5))
            color.setAlpha(40)
            painter.setBrush(color)
            painter.drawRect(frame)
        painter.end()

    def _move_view(self, event: QMouseEvent) -> None:
        self.view.centerOn(self.to_scene(event.position()))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Centre the view on the clicked point."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._move_view(event)
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Dragging keeps the view centred under the pointer."""
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move_view(event)
            event.accept()
