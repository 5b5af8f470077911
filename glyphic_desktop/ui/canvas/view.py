"""The canvas view: pan, zoom to the cursor, fit, grid with snapping, selection, keys.

Mouse gestures are delegated to :mod:`interactions` (one object per gesture); a press
on empty canvas starts Qt's rubber band (Ctrl adds to the selection); Ctrl-click toggles
an item. The port under the cursor shows a halo (what a press would grab). A press on
a port drags a new wire, or lifts the input end of the wire already on an input;
Shift+press on an output lifts the output end of its newest wire; a press on a wire
near one of its ends lifts that end (drop it on another port to move it, on empty
canvas to remove it). Keys: Delete/Backspace delete, Ctrl+C/X/V/D copy/cut/paste/duplicate, Ctrl+A
select all, Ctrl+G / Ctrl+Shift+G group / ungroup, arrows nudge, F fit all, Shift+F fit
selection, Tab asks for the node search, Escape cancels a gesture. The window may
define QActions with the same shortcuts; they take precedence and should call the same
scene / view methods.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from glyphic_desktop.ui.canvas.edge_item import EdgeItem
from glyphic_desktop.ui.canvas.group_item import GroupItem
from glyphic_desktop.ui.canvas.interactions import (
    ConnectInteraction,
    Interaction,
    MoveInteraction,
    PanInteraction,
    ReconnectInteraction,
    ResizeGroupInteraction,
)
from glyphic_desktop.ui.canvas.node_item import NodeItem
from glyphic_desktop.ui.canvas.port_item import HOVER, PortRef
from glyphic_desktop.ui.canvas.scene import EditorScene, NodeRequest
from glyphic_desktop.ui.canvas.style import DETAIL_LOD, GRID_SIZE, GROUP_HEADER

MIN_ZOOM = 0.01
MAX_ZOOM = 4.0
_WHEEL_STEP = 1.0015  # zoom factor per wheel unit (120 units = one notch ≈ x1.2)
#: Screen pixels from a wire's end within which a press on the wire picks that end up.
WIRE_END_GRAB = 36.0


def port_hint(port: PortRef) -> str:
    """The tooltip of a hovered port: what it is and what dragging it does."""
    if port.output:
        return (
            f"Output {port.name!r} ({port.type}): drag to connect; Shift+drag moves its newest wire"
        )
    return f"Input {port.name!r} ({port.type}): drag to connect or to move its wire"


class EditorView(QGraphicsView):
    """A view of an :class:`EditorScene` with the editor's gestures.

    ``zoom_changed(float)`` is emitted after every change of scale.
    """

    zoom_changed = Signal(float)

    def __init__(self, scene: EditorScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.editor_scene = scene
        self.snap_enabled = True
        self.grid_size = GRID_SIZE
        self.grid_visible = True
        self.interaction: Interaction | None = None
        #: The port under the cursor while no gesture runs (drawn with a hover halo).
        self.hover_port: PortRef | None = None
        self._hover_item: NodeItem | None = None
        self._space = False
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.centerOn(0.0, 0.0)
        scene.set_view_scale(self.zoom())
        scene.rebuilding.connect(self._drop_interaction)

    def _drop_interaction(self) -> None:
        """The scene is being rebuilt: forget the gesture (its items are about to go)."""
        self.interaction = None
        self.hover_port = None
        self._hover_item = None
        self.viewport().unsetCursor()

    # -- port hover --------------------------------------------------------------------

    def set_hover_port(self, port: PortRef | None) -> None:
        """Halo ``port`` (None: no port) as the one a press would grab; cross cursor on it."""
        if port == self.hover_port:
            return
        old = self._hover_item
        if old is not None and old.highlight is not None and old.highlight[2] == HOVER:
            with contextlib.suppress(RuntimeError):  # the node was deleted under the cursor
                old.set_highlight(None)
        self.hover_port = port
        self._hover_item = None
        if port is not None:
            item = self.editor_scene.nodes.get(port.node_id)
            if item is not None:
                item.set_highlight((port.name, port.output, HOVER))
                self._hover_item = item
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            self.viewport().setToolTip(port_hint(port))
        else:
            self.viewport().setToolTip("")
            if self.interaction is None and not self._space:
                self.viewport().unsetCursor()

    def leaveEvent(self, event: Any) -> None:
        """The mouse left the canvas: no port is hovered."""
        if self.interaction is None:
            self.set_hover_port(None)
        super().leaveEvent(event)

    def wire_end_at(self, edge: EdgeItem, pos: QPointF) -> bool | None:
        """Which end of ``edge`` a press at scene ``pos`` grabs: True for the output end,
        False for the input end, None for neither (the middle of the wire)."""
        grab = WIRE_END_GRAB / max(self.zoom(), 0.01)
        a, b = edge.endpoints()
        da = math.hypot(pos.x() - a.x(), pos.y() - a.y())
        db = math.hypot(pos.x() - b.x(), pos.y() - b.y())
        if min(da, db) > grab:
            return None
        return da <= db

    # -- zoom and fit ------------------------------------------------------------------

    def zoom(self) -> float:
        """The current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def _set_scale(self, scale: float) -> None:
        scale = min(MAX_ZOOM, max(MIN_ZOOM, scale))
        self.setTransform(QTransform.fromScale(scale, scale))
        # Antialiasing only where it shows: zoomed out, nodes are a few pixels wide.
        self.setRenderHint(QPainter.RenderHint.Antialiasing, scale >= DETAIL_LOD)
        self.editor_scene.set_view_scale(scale)
        self.zoom_changed.emit(scale)

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` (clamped to [MIN_ZOOM, MAX_ZOOM]) keeping ``anchor`` (view
        coordinates, default the centre) over the same scene point."""
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self._set_scale(scale)
        shift = self.mapFromScene(before) - anchor.toPoint()
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + shift.x())
        v.setValue(v.value() + shift.y())

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the scale by ``factor`` around ``anchor`` (view coordinates)."""
        self.set_zoom(self.zoom() * factor, anchor)

    def fit_rect(self, rect: QRectF, margin: float = 40.0) -> None:
        """Show ``rect`` (scene coordinates) whole, centred, within the zoom limits."""
        if rect.isNull() or not rect.isValid():
            rect = QRectF(-200.0, -200.0, 400.0, 400.0)
        viewport = self.viewport().rect()
        width = max(1.0, viewport.width() - 2 * margin)
        height = max(1.0, viewport.height() - 2 * margin)
        scale = min(width / max(rect.width(), 1.0), height / max(rect.height(), 1.0))
        self._set_scale(min(scale, 1.5))
        self.centerOn(rect.center())

    def fit_all(self) -> None:
        """Show the whole graph."""
        self.fit_rect(self.editor_scene.nodes_bounding_rect())

    def fit_selection(self) -> None:
        """Show the selected items (everything when nothing is selected)."""
        rect = QRectF()
        for item in self.editor_scene.selectedItems():
            rect = rect.united(item.sceneBoundingRect())
        if rect.isNull():
            self.fit_all()
        else:
            self.fit_rect(rect)

    # -- grid --------------------------------------------------------------------------

    def snap(self, point: QPointF) -> QPointF:
        """``point`` rounded to the grid."""
        g = self.grid_size
        return QPointF(round(point.x() / g) * g, round(point.y() / g) * g)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """Fill with the theme colour and draw the grid (coarser when zoomed out)."""
        theme = self.editor_scene.theme
        painter.fillRect(rect, theme.background)
        if not self.grid_visible:
            return
        device = painter.device()
        inverse, invertible = painter.worldTransform().inverted()
        if device is not None and invertible:
            rect = rect.intersected(inverse.mapRect(QRectF(0, 0, device.width(), device.height())))
        scale = self.zoom()
        step = self.grid_size
        while step * scale < 8.0:
            step *= 5.0
        major = step * 5.0
        transform = painter.worldTransform()
        device_rect = transform.mapRect(rect).toAlignedRect()
        painter.save()
        painter.resetTransform()
        # 1-pixel fills in device space: far cheaper than stroking lines on a raster image.
        for spacing, color in ((step, theme.grid_minor), (major, theme.grid_major)):
            count_x = int(rect.width() / spacing) + 2
            count_y = int(rect.height() / spacing) + 2
            if count_x + count_y > 800:
                continue
            left = math.floor(rect.left() / spacing) * spacing
            top = math.floor(rect.top() / spacing) * spacing
            for i in range(count_x):
                x = round(transform.map(QPointF(left + i * spacing, 0.0)).x())
                painter.fillRect(QRect(x, device_rect.top(), 1, device_rect.height()), color)
            for i in range(count_y):
                y = round(transform.map(QPointF(0.0, top + i * spacing)).y())
                painter.fillRect(QRect(device_rect.left(), y, device_rect.width(), 1), color)
        painter.restore()

    # -- interactions ------------------------------------------------------------------

    def start_interaction(self, interaction: Interaction) -> None:
        """Make ``interaction`` receive the mouse until it finishes."""
        if self.interaction is not None:
            self.interaction.cancel()
        self.set_hover_port(None)
        self.interaction = interaction
        if interaction.cursor is not None:
            self.viewport().setCursor(interaction.cursor)

    def end_interaction(self, interaction: Interaction) -> None:
        """Called by an interaction when it ends."""
        if self.interaction is interaction:
            self.interaction = None
            self.viewport().unsetCursor()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start the gesture matching what is under the mouse."""
        if self.interaction is not None:
            event.accept()
            return
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self.start_interaction(PanInteraction(self, event))
            event.accept()
            return
        if button != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        scene = self.editor_scene
        pos = self.mapToScene(event.position().toPoint())
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        port = scene.port_at(pos)
        if port is not None:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if port.output and shift:
                # Shift-drag from an output lifts the output end of its newest wire.
                wires = [
                    e
                    for e in scene.model.edges_of(port.node_id)
                    if scene.model.edge(e).source == port.node_id
                    and scene.model.edge(e).sourceHandle == port.name
                    and e in scene.edges
                ]
                if wires:
                    edge = scene.edges[wires[-1]]
                    self.start_interaction(ReconnectInteraction(self, edge, output_end=True))
                    event.accept()
                    return
            if not port.output:
                existing = scene.model.edges_into(port.node_id, port.name)
                if existing and existing[0] in scene.edges:
                    self.start_interaction(ReconnectInteraction(self, scene.edges[existing[0]]))
                    event.accept()
                    return
            self.start_interaction(ConnectInteraction(self, port))
            event.accept()
            return
        node = scene.node_at(pos)
        target: NodeItem | GroupItem | EdgeItem | None = node
        if target is None:
            target = scene.edge_at(pos, 6.0 / max(self.zoom(), 0.01))
        if target is None:
            group = scene.group_at(pos)
            if group is not None and group.grip_contains(pos):
                scene.clearSelection()
                group.setSelected(True)
                self.start_interaction(ResizeGroupInteraction(self, group, event))
                event.accept()
                return
            target = group
        if target is None:
            super().mousePressEvent(event)  # rubber band (Ctrl extends the selection)
            return
        if isinstance(target, EdgeItem) and not ctrl:
            end = self.wire_end_at(target, pos)
            if end is not None:
                self.start_interaction(ReconnectInteraction(self, target, output_end=end))
                event.accept()
                return
        if ctrl:
            target.setSelected(not target.isSelected())
            event.accept()
            return
        if not target.isSelected():
            scene.clearSelection()
            target.setSelected(True)
        if isinstance(target, (NodeItem, GroupItem)):
            self.start_interaction(MoveInteraction(self, target, event))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Forward to the running gesture (or to Qt's rubber band)."""
        if self.interaction is not None:
            self.interaction.move(event)
            event.accept()
            return
        if event.buttons() == Qt.MouseButton.NoButton and not self._space:
            pos = self.mapToScene(event.position().toPoint())
            self.set_hover_port(self.editor_scene.port_at(pos))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Complete the running gesture."""
        if self.interaction is not None:
            self.interaction.release(event)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """On a node: ``node_activated``; on a group's title bar: rename the group; on
        empty canvas: ask for the node search."""
        if event.button() != Qt.MouseButton.LeftButton:
            return
        scene = self.editor_scene
        pos = self.mapToScene(event.position().toPoint())
        node = scene.node_at(pos)
        group = scene.group_at(pos) if node is None else None
        if node is not None:
            scene.node_activated.emit(node.node_id)
        elif group is not None and pos.y() - group.sceneBoundingRect().top() <= GROUP_HEADER:
            scene.group_rename_requested.emit(group.key)
        elif scene.port_at(pos) is None:
            scene.node_requested.emit(NodeRequest(scene, pos))
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom around the cursor."""
        steps = event.angleDelta().y() or event.angleDelta().x()
        if steps:
            self.zoom_by(_WHEEL_STEP**steps, event.position())
        event.accept()

    # -- keys --------------------------------------------------------------------------

    def cursor_scene_pos(self) -> QPointF:
        """Scene point under the mouse (the view centre when the mouse is elsewhere)."""
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(local):
            local = self.viewport().rect().center()
        return self.mapToScene(local)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Editing shortcuts (see the module docstring)."""
        scene = self.editor_scene
        key = event.key()
        mods = event.modifiers()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.set_hover_port(None)
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self.interaction is not None:
            self.interaction.cancel()
            return
        if event.matches(QKeySequence.StandardKey.Delete) or key in (
            Qt.Key.Key_Delete,
            Qt.Key.Key_Backspace,
        ):
            scene.delete_selection()
        elif event.matches(QKeySequence.StandardKey.Copy):
            scene.copy_selection()
        elif event.matches(QKeySequence.StandardKey.Cut):
            scene.cut_selection()
        elif event.matches(QKeySequence.StandardKey.Paste):
            scene.paste(at=self.cursor_scene_pos())
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            scene.select_all()
        elif event.matches(QKeySequence.StandardKey.Undo):
            scene.stack.undo()
        elif event.matches(QKeySequence.StandardKey.Redo):
            scene.stack.redo()
        elif key == Qt.Key.Key_D and mods == Qt.KeyboardModifier.ControlModifier:
            scene.duplicate_selection()
        elif key == Qt.Key.Key_G and mods & Qt.KeyboardModifier.ControlModifier:
            if mods & Qt.KeyboardModifier.ShiftModifier:
                scene.ungroup_selection()
            else:
                scene.group_selection()
        elif key == Qt.Key.Key_F and not mods & Qt.KeyboardModifier.ControlModifier:
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.fit_selection()
            else:
                self.fit_all()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = self.grid_size
            dx = {Qt.Key.Key_Left: -step, Qt.Key.Key_Right: step}.get(key, 0.0)
            dy = {Qt.Key.Key_Up: -step, Qt.Key.Key_Down: step}.get(key, 0.0)
            scene.nudge_selection(dx, dy)
        elif key == Qt.Key.Key_Plus or key == Qt.Key.Key_Equal:
            self.zoom_by(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(0.8)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        """End Space-panning mode."""
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self.interaction is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab opens the node search at the cursor instead of moving focus."""
        scene = self.editor_scene
        scene.node_requested.emit(NodeRequest(scene, self.cursor_scene_pos()))
        return True
