"""Mouse gestures on the canvas, one class per gesture (like Orange's UserInteraction).

The view starts an interaction on a mouse press and forwards move/release events to it
until it ends. Interactions move items on screen for immediate feedback, then push one
command when the gesture ends; they never write the document themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPainterPath, QPen

from glyphic_desktop.ui.canvas.edge_item import EdgeItem, wire_path
from glyphic_desktop.ui.canvas.group_item import GroupItem
from glyphic_desktop.ui.canvas.node_item import NodeItem
from glyphic_desktop.ui.canvas.port_item import ACCEPT, REFUSE, PortRef
from glyphic_desktop.ui.canvas.scene import NodeRequest
from glyphic_desktop.ui.commands import (
    ConnectCommand,
    DisconnectCommand,
    MoveCommand,
    ResizeGroupCommand,
)
from glyphic_desktop.ui.graph_model import EditError, Reach

if TYPE_CHECKING:
    from glyphic_desktop.ui.canvas.view import EditorView

#: Screen pixels the mouse must travel before a press becomes a drag.
DRAG_THRESHOLD = 3


def move_merge_key(nodes: Iterable[str], groups: Iterable[str] = ()) -> tuple:
    """Merge key of a move: consecutive moves (drags, nudges) of the same items merge."""
    return ("move", tuple(sorted(nodes)), tuple(sorted(groups)))


class Interaction:
    """Base gesture: receives the view's mouse events until :meth:`finish`."""

    cursor: Qt.CursorShape | None = None

    def __init__(self, view: EditorView) -> None:
        self.view = view
        self.scene = view.editor_scene

    def move(self, event: QMouseEvent) -> None:
        """A mouse move during the gesture."""

    def release(self, event: QMouseEvent) -> None:
        """The button went up: complete the gesture."""
        self.finish()

    def cancel(self) -> None:
        """Abort (Escape): undo any on-screen preview, push nothing."""
        self.finish()

    def finish(self) -> None:
        """End the gesture."""
        self.view.end_interaction(self)


class PanInteraction(Interaction):
    """Scroll the view with the middle button or Space + left drag."""

    cursor = Qt.CursorShape.ClosedHandCursor

    def __init__(self, view: EditorView, event: QMouseEvent) -> None:
        super().__init__(view)
        self.last = event.position()

    def move(self, event: QMouseEvent) -> None:
        """Scroll by the mouse delta."""
        pos = event.position()
        delta = pos - self.last
        self.last = pos
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))


class MoveInteraction(Interaction):
    """Drag the selected nodes and groups (a group carries the nodes inside it).

    Items move on screen during the drag (wires follow through the node → edges index);
    on release one :class:`MoveCommand` is pushed for everything that moved: each drag
    is one undo step (only keyboard nudges merge, through ``move_merge_key``).
    """

    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, view: EditorView, anchor: NodeItem | GroupItem, event: QMouseEvent) -> None:
        super().__init__(view)
        self.press_view = event.position()
        self.start = view.mapToScene(event.position().toPoint())
        self.anchor = anchor
        self.anchor_start = anchor.pos()
        self.started = False
        scene = self.scene
        nodes: dict[str, NodeItem] = {}
        groups: dict[str, GroupItem] = {}
        for item in scene.selectedItems():
            if isinstance(item, NodeItem):
                nodes[item.node_id] = item
            elif isinstance(item, GroupItem):
                groups[item.key] = item
        for key in groups:
            for node in scene.nodes_in_group(key):
                nodes[node.node_id] = node
        self.nodes = [(item, item.pos()) for item in nodes.values()]
        self.groups = [(item, item.pos()) for item in groups.values()]
        self.delta = QPointF()

    def move(self, event: QMouseEvent) -> None:
        """Follow the mouse (snapped to the grid when snapping is on)."""
        if not self.started:
            if (event.position() - self.press_view).manhattanLength() < DRAG_THRESHOLD:
                return
            self.started = True
        pos = self.view.mapToScene(event.position().toPoint())
        self.drag_to(pos - self.start)

    def drag_to(self, delta: QPointF) -> None:
        """Place every dragged item at its start + ``delta`` (snapping the anchor)."""
        target = self.anchor_start + delta
        if self.view.snap_enabled:
            target = self.view.snap(target)
        delta = target - self.anchor_start
        if delta == self.delta:
            return
        self.delta = delta
        dx, dy = delta.x(), delta.y()
        if len(self.nodes) == 1:
            item, start = self.nodes[0]
            item.move_to(start.x() + dx, start.y() + dy)
        else:
            edges = set()
            for item, start in self.nodes:
                item.setPos(start.x() + dx, start.y() + dy)
                edges.update(item.edges)
            for edge in edges:
                edge.adjust()
        for item, start in self.groups:
            item.setPos(start.x() + dx, start.y() + dy)

    def release(self, event: QMouseEvent) -> None:
        """Push one MoveCommand for the whole drag."""
        delta = self.delta
        if self.started and (delta.x() or delta.y()):
            dx, dy = delta.x(), delta.y()
            nodes = {
                item.node_id: ((s.x(), s.y()), (s.x() + dx, s.y() + dy)) for item, s in self.nodes
            }
            groups = {}
            for item, s in self.groups:
                r = item.rect()
                old = [s.x(), s.y(), r.width(), r.height()]
                groups[item.key] = (old, [s.x() + dx, s.y() + dy, r.width(), r.height()])
            # No merge key: each drag is an undo step of its own, even of the same nodes.
            self.scene.stack.push(MoveCommand(self.scene.model, nodes, groups))
        self.finish()

    def cancel(self) -> None:
        """Put everything back where it was."""
        self.drag_to(QPointF())
        self.finish()


class _WireInteraction(Interaction):
    """Shared part of the wire gestures: a temporary wire and port hover feedback."""

    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, view: EditorView, fixed: PortRef) -> None:
        super().__init__(view)
        self.fixed = fixed
        #: ``ACCEPT`` / ``REFUSE`` while over a port, None elsewhere (tests read it).
        self.feedback: str | None = None
        #: Why the hovered port refuses the wire.
        self.reason: str | None = None
        self.hover: PortRef | None = None
        self._hover_node: NodeItem | None = None
        self._reach: Reach | None = None
        node = self.scene.nodes[fixed.node_id]
        self.anchor = node.port_scene_pos(fixed.name, fixed.output)
        self.pen = QPen(self.scene.theme.wire, 2.0, Qt.PenStyle.DashLine)
        self.path = QPainterPath()
        self._route(self.anchor)

    def _route(self, end: QPointF) -> None:
        if self.fixed.output:
            self.path = wire_path(self.anchor, end)
        else:
            self.path = wire_path(end, self.anchor)
        self.scene.set_overlay(self.path, self.pen)

    def reach(self) -> Reach:
        """What the fixed end reaches against the wire direction (upstream of a fixed
        output, downstream of a fixed input): built once per drag, it answers every
        hover's cycle test in O(1) instead of walking the graph per mouse move."""
        if self._reach is None:
            fixed = self.fixed
            self._reach = self.scene.model.reach(fixed.node_id, forward=not fixed.output)
        return self._reach

    def verdict(self, port: PortRef) -> str | None:
        """Why ``port`` cannot take the wire (None when it can)."""
        if port.output == self.fixed.output:
            kind = "outputs" if port.output else "inputs"
            return f"cannot connect two {kind}"
        src, dst = (self.fixed, port) if self.fixed.output else (port, self.fixed)
        return self.scene.model.check_connection(
            src.node_id, src.name, dst.node_id, dst.name, reach=self.reach()
        )

    def _set_hover(self, port: PortRef | None) -> None:
        if self._hover_node is not None:
            self._hover_node.set_highlight(None)
            self._hover_node = None
        self.hover = port
        theme = self.scene.theme
        if port is None:
            self.feedback = self.reason = None
            self.pen = QPen(theme.wire, 2.0, Qt.PenStyle.DashLine)
            return
        self.reason = self.verdict(port)
        self.feedback = ACCEPT if self.reason is None else REFUSE
        color = theme.accept if self.feedback == ACCEPT else theme.refuse
        self.pen = QPen(color, 2.5, Qt.PenStyle.SolidLine)
        node = self.scene.nodes.get(port.node_id)
        if node is not None:
            node.set_highlight((port.name, port.output, self.feedback))
            self._hover_node = node
        if self.feedback == REFUSE:
            self.scene.status_message.emit(f"Cannot connect: {self.reason}")

    def move(self, event: QMouseEvent) -> None:
        """Follow the mouse; show whether the port under it accepts the wire."""
        pos = self.view.mapToScene(event.position().toPoint())
        port = self.scene.port_at(pos)
        if port is not None and port.node_id == self.fixed.node_id and port.name == self.fixed.name:
            port = None
        if port != self.hover:
            self._set_hover(port)
        if port is not None:
            node = self.scene.nodes[port.node_id]
            self._route(node.port_scene_pos(port.name, port.output))
        else:
            self._route(pos)

    def finish(self) -> None:
        """Remove the temporary wire and any highlight."""
        self._set_hover(None)
        self.scene.set_overlay(None)
        super().finish()

    def _connect_command(self, port: PortRef) -> ConnectCommand:
        src, dst = (self.fixed, port) if self.fixed.output else (port, self.fixed)
        return ConnectCommand(self.scene.model, src.node_id, src.name, dst.node_id, dst.name)


class ConnectInteraction(_WireInteraction):
    """Drag a new wire from a port; drop it on a compatible port to connect.

    Dropped on an incompatible port: nothing changes and the reason goes to the status
    bar. Dropped on empty canvas: the scene emits ``node_requested`` with a
    :class:`NodeRequest` for this port (the window shows the node search).
    """

    def release(self, event: QMouseEvent) -> None:
        """Connect, refuse or ask for a node."""
        pos = self.view.mapToScene(event.position().toPoint())
        port = self.hover
        scene = self.scene
        if port is not None and self.feedback == ACCEPT:
            self.finish()
            scene.push(lambda: self._connect_command(port))
            return
        if port is not None:
            reason = self.reason
            self.finish()
            scene.status_message.emit(f"Cannot connect: {reason}")
            return
        over_node = scene.node_at(pos)
        self.finish()
        if over_node is None:
            scene.node_requested.emit(NodeRequest(scene, pos, self.fixed))


class ReconnectInteraction(_WireInteraction):
    """Pick up one end of an existing wire and drop it elsewhere.

    ``output_end=False`` lifts the input end (the output stays fixed): drop it on another
    input to move it. ``output_end=True`` lifts the output end (the input stays fixed):
    drop it on another output to move it. Either way, dropping on empty canvas removes
    the wire, and dropping back on its own port (or on a refusing one) keeps it; a move
    is one undo entry ("Move wire").
    """

    def __init__(self, view: EditorView, edge: EdgeItem, output_end: bool = False) -> None:
        self.edge = edge
        self.output_end = output_end
        model = view.editor_scene.model
        data = model.edge(edge.edge_id)
        if output_end:
            port = model.port(data.target, data.targetHandle, output=False)
            fixed = PortRef(data.target, data.targetHandle, False, port.type if port else "any")
            self.origin = (data.source, data.sourceHandle)
        else:
            out = model.port(data.source, data.sourceHandle, output=True)
            fixed = PortRef(data.source, data.sourceHandle, True, out.type if out else data.type)
            self.origin = (data.target, data.targetHandle)
        super().__init__(view, fixed)
        edge.setVisible(False)

    def _is_origin(self, port: PortRef) -> bool:
        return port.output == self.output_end and (port.node_id, port.name) == self.origin

    def verdict(self, port: PortRef) -> str | None:
        """Its own port is always fine (dropping there changes nothing)."""
        if self._is_origin(port):
            return None
        return super().verdict(port)

    def release(self, event: QMouseEvent) -> None:
        """Move, remove or keep the wire."""
        port = self.hover
        feedback = self.feedback
        scene = self.scene
        edge_id = self.edge.edge_id
        self.edge.setVisible(True)
        self.finish()
        if port is None:
            scene.push(lambda: DisconnectCommand(scene.model, [edge_id]))
            return
        if feedback != ACCEPT or self._is_origin(port):
            return
        try:
            command = self._connect_command(port)
        except EditError as exc:
            scene.status_message.emit(str(exc))
            return
        scene.stack.beginMacro("Move wire")
        scene.stack.push(DisconnectCommand(scene.model, [edge_id]))
        scene.stack.push(command)
        scene.stack.endMacro()

    def cancel(self) -> None:
        """Keep the wire where it was."""
        self.edge.setVisible(True)
        self.finish()


class ResizeGroupInteraction(Interaction):
    """Drag a group's bottom-right grip; one ResizeGroupCommand on release."""

    cursor = Qt.CursorShape.SizeFDiagCursor
    MIN_SIZE = 80.0

    def __init__(self, view: EditorView, group: GroupItem, event: QMouseEvent) -> None:
        super().__init__(view)
        self.group = group
        self.start = view.mapToScene(event.position().toPoint())
        self.old = group.bounding()

    def move(self, event: QMouseEvent) -> None:
        """Resize on screen."""
        pos = self.view.mapToScene(event.position().toPoint())
        x, y, w, h = self.old
        w = max(self.MIN_SIZE, w + pos.x() - self.start.x())
        h = max(self.MIN_SIZE, h + pos.y() - self.start.y())
        if self.view.snap_enabled:
            g = self.view.grid_size
            w = max(self.MIN_SIZE, math.floor((x + w) / g + 0.5) * g - x)
            h = max(self.MIN_SIZE, math.floor((y + h) / g + 0.5) * g - y)
        self.group.setRect(0.0, 0.0, w, h)

    def release(self, event: QMouseEvent) -> None:
        """Push the resize."""
        new = self.group.bounding()
        self.finish()
        if new != self.old:
            key = self.group.key
            self.scene.push(lambda: ResizeGroupCommand(self.scene.model, key, new))

    def cancel(self) -> None:
        """Restore the old size."""
        self.group.setRect(0.0, 0.0, self.old[2], self.old[3])
        self.finish()
