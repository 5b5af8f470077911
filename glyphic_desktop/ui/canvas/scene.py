"""The editor's ``QGraphicsScene``: a picture of the :class:`GraphModel`, nothing more.

The scene listens to the model's signals and creates, moves, updates and removes items;
it never writes the document. Editing operations (delete, copy, paste, group...) build
commands from :mod:`glyphic_desktop.ui.commands` and push them onto the undo stack.

Signals for the window:

- ``status_message(str)``: a refusal or a paste problem to show in the status bar;
- ``node_requested(NodeRequest)``: the user wants a new node (wire dropped on empty
  canvas, Tab, double-click on the canvas); show the node search filtered by
  ``request.compatible_types()`` and call ``request.accept(type_key)`` with the pick;
- ``node_activated(str)``: a node was double-clicked (open it in the inspector);
- ``selection_settled()``: the selection changed; emitted once per command, per
  select-all or per rubber band however many items changed (Qt's ``selectionChanged``
  fires once per item), so listeners may look at the whole selection;
- ``pasted(list, bool)``: nodes were pasted (their new ids), and whether the JSON was
  foreign (given as text, or clipboard text that no Glyphic copy put there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QClipboard,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPen,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
)

from glyphic_desktop.nodes.base import ERROR_PORT, field_summary, ports_compatible
from glyphic_desktop.nodes.ports import output_port_types
from glyphic_desktop.perf import gc_paused
from glyphic_desktop.ui import clipboard as clip
from glyphic_desktop.ui.canvas.edge_item import EdgeItem
from glyphic_desktop.ui.canvas.group_item import GroupItem
from glyphic_desktop.ui.canvas.node_item import (
    NodeItem,
    NodeVisual,
    paint_zoomed_out,
    selection_brush,
)
from glyphic_desktop.ui.canvas.port_item import PortRef
from glyphic_desktop.ui.canvas.style import (
    DARK,
    DETAIL_LOD,
    GROUP_HEADER,
    LABEL_LOD,
    LABEL_MAX_PX,
    LABEL_PX,
    PORT_HIT_RADIUS,
    PORT_LOD,
    THEMES,
    WIRE_LOD,
    invalid_wire_pen,
)
from glyphic_desktop.ui.commands import (
    AddNodesCommand,
    ConnectCommand,
    GroupCommand,
    MoveCommand,
    RemoveCommand,
    UngroupCommand,
    new_node,
)
from glyphic_desktop.ui.graph_model import EditError, GraphModel, iter_types, type_key


def _switch_outputs(fields: dict[str, Any], connected: set[str]) -> set[str]:
    """A Switch draws ``case_N`` for each configured rule, ``fallback``, and any wired port."""
    rules = fields.get("rules")
    count = len(rules) if isinstance(rules, list) else 0
    return {f"case_{i}" for i in range(count)} | {"fallback", ERROR_PORT} | connected


#: Node types whose canvas shows only some of their declared outputs (display only: the
#: type's ports, preflight and the engine are unchanged): type key → function of the
#: node's fields and its wired output names giving the output names to draw.
DISPLAY_OUTPUTS: dict[str, Callable[[dict[str, Any], set[str]], set[str]]] = {
    "switch": _switch_outputs,
}

#: Items changed in one batch past which the scene repaints once at its end instead.
_BULK_ITEMS = 64
#: Half the side of the (fixed) scene rectangle.
SCENE_EXTENT = 1_000_000.0


#: Past this many nodes changing selection at once, the scene repaints once as a whole.
_BULK_SELECTION = 200


class NodeRequest(QObject):
    """A request for a new node at ``pos``, optionally to be wired to ``port``."""

    def __init__(self, scene: EditorScene, pos: QPointF, port: PortRef | None = None) -> None:
        super().__init__(scene)
        self.scene = scene
        self.pos = QPointF(pos)
        self.port = port

    def _match(self, spec: Any) -> str | None:
        """The port of ``spec`` that fits ``self.port`` (None if none does); a new node's
        outputs are typed as its default fields make them (a new GitHub node's is an
        object), the answer the connect check gives once it exists."""
        if self.port is None:
            return ""
        if self.port.output:
            for port in spec.inputs:
                if ports_compatible(self.port.type, port.type):
                    return port.name
            return None
        for name, kind in output_port_types(spec, {}).items():
            if ports_compatible(kind, self.port.type):
                return name
        return None

    def compatible_types(self) -> list[Any]:
        """The registered node types that can be wired to ``port`` (all types without one)."""
        return [
            spec for spec in iter_types(self.scene.model.registry) if self._match(spec) is not None
        ]

    def accept(self, key: str) -> str | None:
        """Add a node of type ``key`` here (wired to ``port``) as one undo entry; its id."""
        scene = self.scene
        model = scene.model
        try:
            node = new_node(model, key, (self.pos.x(), self.pos.y()))
        except EditError as exc:
            scene.status_message.emit(str(exc))
            return None
        stack = scene.stack
        stack.beginMacro(f"Add {node.data.label}")
        try:
            stack.push(AddNodesCommand(model, [node]))
            spec = model.node_type(node.id)
            other = self._match(spec) if (spec is not None and self.port) else None
            if self.port is not None and other:
                if self.port.output:
                    args = (self.port.node_id, self.port.name, node.id, other)
                else:
                    args = (node.id, other, self.port.node_id, self.port.name)
                scene.connect_ports(*args)
        finally:
            stack.endMacro()
        return node.id


class EditorScene(QGraphicsScene):
    """The canvas scene over one :class:`GraphModel` and its undo stack."""

    status_message = Signal(str)
    node_requested = Signal(object)
    node_activated = Signal(str)
    #: Emitted before every item is dropped for a rebuild (views abandon their gestures).
    rebuilding = Signal()
    selection_settled = Signal()
    #: A group's title was double-clicked: the window asks for a new one (its key).
    group_rename_requested = Signal(str)
    pasted = Signal(list, bool)

    def __init__(
        self,
        model: GraphModel,
        stack: QUndoStack,
        parent: QObject | None = None,
        *,
        bsp_index: bool = True,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.stack = stack
        self.theme = DARK
        self.selected_wire_pen = QPen(DARK.wire_selected, 3.0)
        #: Pens of a wire whose types no longer fit: ``(normal, selected)``.
        self.invalid_wire_pens = (invalid_wire_pen(DARK), invalid_wire_pen(DARK, True))
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[int, EdgeItem] = {}
        self.groups: dict[str, GroupItem] = {}
        self.details_visible = True
        #: Zoomed out, but nodes still draw their title label (``LABEL_LOD`` and up).
        self.labels_visible = True
        #: Ports can be grabbed (``PORT_LOD`` and up).
        self.ports_live = True
        #: The view's scale (set by the view).
        self.view_scale = 1.0
        #: True while the whole scene is being rebuilt (items skip their repaint requests).
        self.building = False
        self.wires_visible = True
        self.edge_layer: QGraphicsRectItem
        #: A path drawn above everything (the wire being dragged): ``(path, pen)`` or None.
        self.overlay: tuple[QPainterPath, QPen] | None = None
        self._selected_nodes: set[NodeItem] = set()
        self._known_selection: set[NodeItem] | None = None  # set by select_all
        self._selection_hold = 0
        self._selection_dirty = False
        self._batch_items = 0
        # The items of what the last batch removed, kept for an undo that puts the same
        # node and edge objects back (id -> (model object, item)); see _end_bulk.
        self._model_objects: dict[Any, Any] = {}
        self._buried: dict[Any, tuple[Any, Any]] = {}
        self._graveyard: dict[Any, tuple[Any, Any]] = {}
        self.selectionChanged.connect(self._on_selection_changed)
        model.batch_finished.connect(self._end_bulk)
        model.batch_finished.connect(self._flush_selection)
        if not bsp_index:
            self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setSceneRect(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT)
        model.nodes_added.connect(self._on_nodes_added)
        model.nodes_removed.connect(self._on_nodes_removed)
        model.node_moved.connect(self._on_node_moved)
        model.node_changed.connect(self._on_node_changed)
        model.edges_added.connect(self._on_edges_added)
        model.edges_removed.connect(self._on_edges_removed)
        model.group_added.connect(self._on_group_added)
        model.group_removed.connect(self._on_group_removed)
        model.group_changed.connect(self._on_group_changed)
        model.document_reset.connect(self.rebuild)
        self.rebuild()

    # -- building -------------------------------------------------------------------

    def rebuild(self) -> None:
        """Drop every item and draw the whole document again."""
        self.rebuilding.emit()
        self.overlay = None
        self.clearSelection()
        self.clear()
        self._selected_nodes = set()
        self.nodes, self.edges, self.groups = {}, {}, {}
        self._model_objects, self._buried, self._graveyard = {}, {}, {}
        self.edge_layer = QGraphicsRectItem()
        self.edge_layer.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.edge_layer.setZValue(-1.0)
        self.edge_layer.setVisible(self.wires_visible)
        self.addItem(self.edge_layer)
        model = self.model
        self.building = True
        with gc_paused():
            for node_id in model.node_ids():
                self._on_node_added(node_id)
            for edge_id in model.edge_ids():
                self._on_edge_added(edge_id)
            for key in model.group_keys():
                self._on_group_added(key)
        self.building = False
        self.update()

    def _describe(self, node_id: str) -> tuple:
        model = self.model
        node = model.node(node_id)
        spec = model.node_type(node_id)
        key = type_key(node)
        title = node.data.label or (spec.title if spec is not None else node.type) or node_id
        if spec is not None:
            try:
                preview = spec.summary(node.data.fields)
            except Exception:  # a plugin's summary must never break drawing the canvas
                preview = field_summary(node.data.fields)
            visual = NodeVisual(
                spec.icon or "node",
                spec.header_color(),
                node.data.disabled,
                node.data.pinnedData is not None,
                "{{" in preview,
            )
        else:
            preview = field_summary(node.data.fields)
            visual = NodeVisual(disabled=node.data.disabled)
        inputs, outputs = model.ports(node_id)
        shown = DISPLAY_OUTPUTS.get(key)
        if shown is not None:
            wired = set()
            for edge_id in model.edges_of(node_id):
                edge = model.edge(edge_id)
                if edge.source == node_id:
                    wired.add(edge.sourceHandle)
            names = shown(node.data.fields, wired)
            outputs = tuple(port for port in outputs if port.name in names)
        return title, key, inputs, outputs, preview, spec is None, node.size, visual

    def _bulk_item(self) -> None:
        """One more item changed in this batch: past a few, repaint once at its end."""
        if self.model.in_batch():
            self._batch_items += 1
            if self._batch_items == _BULK_ITEMS:
                self.building = True  # items skip their own repaint requests

    def _end_bulk(self) -> None:
        if self._batch_items >= _BULK_ITEMS:
            self.building = False
            self.update()
        self._batch_items = 0
        # Keep only what the batch just ended removed (an undo of it reuses the items).
        self._graveyard, self._buried = self._buried, {}

    def _bury(self, key: Any, item: Any) -> None:
        """Keep an item the open batch removed, for an undo that brings its object back."""
        obj = self._model_objects.pop(key, None)
        if obj is not None and self.model.in_batch():
            self._buried[key] = (obj, item)

    def _unbury(self, key: Any, obj: Any) -> Any:
        """The item buried for ``key`` when it showed this very model object, or None."""
        entry = self._graveyard.pop(key, None)
        return entry[1] if entry is not None and entry[0] is obj else None

    def _on_nodes_added(self, node_ids: list[str]) -> None:
        for node_id in node_ids:
            self._on_node_added(node_id)

    def _on_nodes_removed(self, node_ids: list[str]) -> None:
        for node_id in node_ids:
            self._on_node_removed(node_id)

    def _on_edges_added(self, edge_ids: list[int]) -> None:
        for edge_id in edge_ids:
            self._on_edge_added(edge_id)

    def _on_edges_removed(self, edge_ids: list[int]) -> None:
        for edge_id in edge_ids:
            self._on_edge_removed(edge_id)

    def _on_node_added(self, node_id: str) -> None:
        self._bulk_item()
        node = self.model.node(node_id)
        self._model_objects[("node", node_id)] = node
        reused = self._unbury(("node", node_id), node)
        if reused is not None:  # the same node object back (undo): its picture is valid
            reused.edges = []
            self.addItem(reused)
            reused.setSelected(False)
            reused.apply_theme(self.theme)
            self.nodes[node_id] = reused
            return
        item = NodeItem(self, node_id)
        description = self._describe(node_id)
        if description[1] in DISPLAY_OUTPUTS:
            item.filtered = True
        item.configure(*description)
        item.setPos(node.pos[0], node.pos[1])
        self.addItem(item)
        self.nodes[node_id] = item

    def _on_node_removed(self, node_id: str) -> None:
        self._bulk_item()
        item = self.nodes.pop(node_id, None)
        if item is not None:
            for edge in list(item.edges):
                self._drop_edge_item(edge)
            self.removeItem(item)
            self._bury(("node", node_id), item)

    def _on_node_moved(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is None:
            return
        x, y = self.model.node(node_id).pos
        pos = item.pos()
        if pos.x() != x or pos.y() != y:
            item.move_to(x, y)

    def _on_node_changed(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is None:
            return
        item.configure(*self._describe(node_id))
        for edge in item.edges:
            edge.resolve()
        self._check_wires(item.edges, report=True)

    def _check_wires(
        self, edges: Iterable[EdgeItem], report: bool = False, retype: bool = True
    ) -> None:
        """Mark each of these wires invalid when its types no longer fit (valid again when
        they do), from the model's cached port types: only the wires of the node that
        changed, never every wire. ``report``: a wire an edit just made wrong is also
        said in the status bar; ``retype``: the wire takes its output's (new) colour."""
        model = self.model
        for edge in edges:
            if retype:
                out = model.port(edge.source.node_id, edge.source_port, output=True)
                if out is not None:
                    edge.set_port_type(out.type)
            reason = model.wire_problem(edge.edge_id)
            if edge.set_problem(reason) and reason is not None and report:
                self.status_message.emit(f"Wire no longer fits: {reason}")

    def _settle_wire(self, item: EdgeItem, out: Any) -> None:
        """Mark a wire drawn (again) from output ``out`` when its types clash, valid
        otherwise: the full check (and its wording) only for a clash, since adding
        thousands of wires (a paste, an undo) must not pay it for each."""
        into = self.model.port(item.target.node_id, item.target_port, output=False)
        if out is not None and into is not None and not ports_compatible(out.type, into.type):
            self._check_wires((item,), retype=False)
        else:
            item.set_problem(None)

    def _on_edge_added(self, edge_id: int) -> None:
        self._bulk_item()
        edge = self.model.edge(edge_id)
        source = self.nodes.get(edge.source)
        target = self.nodes.get(edge.target)
        if source is None or target is None:
            return  # a dangling edge in the file: nothing to draw
        if source.filtered and edge.sourceHandle not in source.out_centers:
            self._on_node_changed(edge.source)  # a hidden output got a wire: draw it
        self._model_objects[("edge", edge_id)] = edge
        out = self.model.port(edge.source, edge.sourceHandle, output=True)
        reused = self._unbury(("edge", edge_id), edge)
        if reused is not None and reused.source is source and reused.target is target:
            item = reused  # both ends are the same items again
            if out is not None:
                item.set_port_type(out.type)
        else:
            item = EdgeItem(
                self,
                edge_id,
                source,
                edge.sourceHandle,
                target,
                edge.targetHandle,
                out.type if out is not None else edge.type,
            )
        item.setParentItem(self.edge_layer)
        source.edges.append(item)
        target.edges.append(item)
        self.edges[edge_id] = item
        self._settle_wire(item, out)
        source.refresh()
        target.refresh()

    def _drop_edge_item(self, item: EdgeItem) -> None:
        self.edges.pop(item.edge_id, None)
        for end in (item.source, item.target):
            if item in end.edges:
                end.edges.remove(item)
                end.refresh()
        self.removeItem(item)
        self._bury(("edge", item.edge_id), item)

    def _on_edge_removed(self, edge_id: int) -> None:
        item = self.edges.get(edge_id)
        if item is not None:
            self._drop_edge_item(item)
            source = item.source
            if source.filtered and self.nodes.get(source.node_id) is source:
                self._on_node_changed(source.node_id)  # its port may hide again

    def _on_group_added(self, key: str) -> None:
        group = self.model.group(key)
        item = GroupItem(self, key)
        item.configure(group.title, list(group.bounding), group.color)
        self.addItem(item)
        self.groups[key] = item

    def _on_group_removed(self, key: str) -> None:
        item = self.groups.pop(key, None)
        if item is not None:
            self.removeItem(item)

    def _on_group_changed(self, key: str) -> None:
        item = self.groups.get(key)
        if item is not None:
            group = self.model.group(key)
            item.configure(group.title, list(group.bounding), group.color)

    # -- painting ------------------------------------------------------------------

    def _on_selection_changed(self) -> None:
        if self._selection_hold or self.model.in_batch():
            self._selection_dirty = True  # once at the end of the batch, not per item
            return
        self._selection_dirty = False
        known, self._known_selection = self._known_selection, None
        if known is not None:
            selected = known
        else:
            selected = {i for i in self.selectedItems() if isinstance(i, NodeItem)}
        theme = self.theme
        changed = selected.symmetric_difference(self._selected_nodes)
        if len(changed) <= _BULK_SELECTION:
            for item in changed:
                item.apply_theme(theme)
                item.refresh()
        else:  # select all, a big rubber band: one repaint instead of one rect per node
            self.update()  # first: Qt then skips marking each restyled item dirty
            brush = selection_brush(theme)
            for item in changed:
                if item in selected:
                    item.setBrush(brush)
                else:
                    item.apply_theme(theme)
        self._selected_nodes = selected
        self.selection_settled.emit()

    def _flush_selection(self) -> None:
        if self._selection_dirty and not self._selection_hold:
            self._on_selection_changed()

    @contextmanager
    def hold_selection(self) -> Iterator[None]:
        """Select or deselect many items; selection listeners run once at the end.

        Qt's per-item ``selectionChanged`` is not even delivered meanwhile (the scene's
        signals are blocked: nothing else is emitted by selecting)."""
        self._selection_hold += 1
        blocked = self.blockSignals(True) if self._selection_hold == 1 else None
        try:
            yield
        finally:
            self._selection_hold -= 1
            if self._selection_hold == 0:
                self.blockSignals(bool(blocked))
                self._selection_dirty = True
                self._flush_selection()

    def selected_node_count(self) -> int:
        """How many nodes are selected (kept per settled selection: O(1))."""
        return len(self._selected_nodes)

    def single_selected_node(self) -> str | None:
        """The id of the one selected node, or None when none or several are."""
        if len(self._selected_nodes) != 1:
            return None
        return next(iter(self._selected_nodes)).node_id

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Node details (readable zoom only) for the exposed nodes, then the overlay wire."""
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if LABEL_LOD <= lod < DETAIL_LOD:
            # A label hangs under its node and may be wider than it: take in the nodes
            # whose label may reach into ``rect``.
            m = NodeItem.MARGIN
            dx, dy = m + LABEL_MAX_PX / 2 / lod, m + (LABEL_PX + 8) / lod
            area = rect.adjusted(-dx, -dy, dx, m)
            items = self.items(
                area,
                Qt.ItemSelectionMode.IntersectsItemBoundingRect,
                Qt.SortOrder.AscendingOrder,
            )
            nodes = [i for i in items if isinstance(i, NodeItem) and i.isVisible()]
            paint_zoomed_out(painter, self.theme, lod, nodes)
        elif lod >= DETAIL_LOD:
            m = NodeItem.MARGIN
            area = rect.adjusted(-m, -m, m, m)
            items = self.items(
                area,
                Qt.ItemSelectionMode.IntersectsItemBoundingRect,
                Qt.SortOrder.AscendingOrder,
            )
            theme = self.theme
            for item in items:
                if isinstance(item, NodeItem) and item.isVisible():
                    pos = item.pos()
                    painter.translate(pos)
                    item.paint_detail(painter, theme)
                    painter.translate(-pos)
        if self.overlay is not None:
            path, pen = self.overlay
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)

    def set_overlay(self, path: QPainterPath | None, pen: QPen | None = None) -> None:
        """Show (or clear, with None) the wire being dragged, above the nodes."""
        if self.overlay is not None:
            self.update(self.overlay[0].controlPointRect().adjusted(-4, -4, 4, 4))
        self.overlay = (path, pen or QPen()) if path is not None else None
        if path is not None:
            self.update(path.controlPointRect().adjusted(-4, -4, 4, 4))

    # -- level of detail and theme -------------------------------------------------

    def set_view_scale(self, scale: float) -> None:
        """Show node details and wires only when the view is zoomed in enough."""
        self.view_scale = scale
        self.details_visible = scale >= DETAIL_LOD
        self.labels_visible = scale >= LABEL_LOD
        self.ports_live = scale >= PORT_LOD
        wires = scale >= WIRE_LOD
        if wires != self.wires_visible:
            self.wires_visible = wires
            self.edge_layer.setVisible(wires)

    def set_theme(self, name: str) -> None:
        """Switch the canvas palette (``dark`` or ``light``)."""
        try:
            self.theme = THEMES[name]
        except KeyError:
            raise EditError(f"unknown canvas theme {name!r} (expected dark or light)") from None
        self.selected_wire_pen = QPen(self.theme.wire_selected, 3.0)
        self.invalid_wire_pens = (invalid_wire_pen(self.theme), invalid_wire_pen(self.theme, True))
        for item in self.nodes.values():
            item.apply_theme(self.theme)
        self.update()

    def set_node_status(self, node_id: str, status: str | None, text: str = "") -> None:
        """Show a run state on a node (``running``, ``done``, ``failed``, ``skipped``,
        ``cancelled``, None)."""
        item = self.nodes.get(node_id)
        if item is not None:
            item.set_status(status, text)

    def cancel_running(self) -> None:
        """A run was cancelled: every node still running shows ``cancelled``."""
        for item in self.nodes.values():
            if item.status == "running":
                item.set_status("cancelled")

    def clear_statuses(self) -> None:
        """Remove every run badge (also of removed items an undo may bring back)."""
        buried = (entry[1] for entry in self._graveyard.values())
        for item in (*self.nodes.values(), *buried):
            if isinstance(item, NodeItem) and item.status is not None:
                item.set_status(None)

    # -- hit tests -------------------------------------------------------------------

    def node_at(self, pos: QPointF) -> NodeItem | None:
        """The topmost node under ``pos``."""
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def port_at(self, pos: QPointF) -> PortRef | None:
        """The port under ``pos`` (ports are live from ``PORT_LOD``)."""
        if not self.ports_live:
            return None
        r = max(PORT_HIT_RADIUS, 8.0 / max(self.view_scale, 0.01))
        for item in self.items(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r)):
            if isinstance(item, NodeItem):
                port = item.port_at(pos)
                if port is not None:
                    return port
        return None

    def edge_at(self, pos: QPointF, tolerance: float = 5.0) -> EdgeItem | None:
        """The wire passing within ``tolerance`` of ``pos``."""
        if not self.wires_visible:
            return None
        rect = QRectF(pos.x() - tolerance, pos.y() - tolerance, 2 * tolerance, 2 * tolerance)
        for item in self.items(rect, Qt.ItemSelectionMode.IntersectsItemShape):
            if isinstance(item, EdgeItem):
                return item
        return None

    def group_at(self, pos: QPointF) -> GroupItem | None:
        """The topmost group under ``pos``."""
        for item in self.items(pos):
            if isinstance(item, GroupItem):
                return item
        return None

    def nodes_in_group(self, key: str) -> list[NodeItem]:
        """The nodes lying wholly inside the group's frame."""
        item = self.groups[key]
        rect = item.sceneBoundingRect()
        return [
            node
            for node in self.items(rect, Qt.ItemSelectionMode.ContainsItemBoundingRect)
            if isinstance(node, NodeItem)
        ]

    # -- selection -------------------------------------------------------------------

    def selected_node_ids(self) -> list[str]:
        """Ids of the selected nodes, in a stable order (numeric ids ascending)."""
        ids = [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]
        return sorted(ids, key=lambda node_id: (len(node_id), node_id))

    def selected_edge_ids(self) -> list[int]:
        """Ids of the selected wires, ascending."""
        return sorted(i.edge_id for i in self.selectedItems() if isinstance(i, EdgeItem))

    def selected_group_keys(self) -> list[str]:
        """Keys of the selected groups."""
        return [i.key for i in self.selectedItems() if isinstance(i, GroupItem)]

    def select_nodes(self, node_ids: Iterable[str], clear: bool = True) -> None:
        """Select the given nodes (after clearing the selection unless ``clear`` is False)."""
        items = [item for item in map(self.nodes.get, node_ids) if item is not None]
        with self.hold_selection():
            if len(items) > _BULK_SELECTION:
                self.update()
            if clear:
                self.clearSelection()
            for item in items:
                item.setSelected(True)

    def clearSelection(self) -> None:
        """Deselect everything; a big selection is repainted once, not item by item."""
        if len(self._selected_nodes) > _BULK_SELECTION:
            self.update()
        super().clearSelection()

    def select_all(self) -> None:
        """Select every node and group."""
        with self.hold_selection():
            if len(self.nodes) > _BULK_SELECTION:
                # Repaint the whole scene once: while that is pending, Qt skips
                # marking each newly selected item dirty (10,000 rects at 10,000 nodes).
                self.update()
            for item in self.nodes.values():
                item.setSelected(True)
            for item in self.groups.values():
                item.setSelected(True)
            # the handler at the end of the hold need not ask Qt for 10,000 items back
            self._known_selection = set(self.nodes.values())

    def nodes_bounding_rect(self, node_ids: Iterable[str] | None = None) -> QRectF:
        """Scene rect around the given nodes (all nodes and groups when None)."""
        rect = QRectF()
        if node_ids is None:
            items: Iterable[QGraphicsItem] = [*self.nodes.values(), *self.groups.values()]
        else:
            items = [self.nodes[n] for n in node_ids if n in self.nodes]
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # -- editing operations (each pushes commands) -------------------------------

    def push(self, build: Callable[[], QUndoCommand]) -> bool:
        """Build a command and push it; an EditError becomes a status message."""
        try:
            command = build()
        except EditError as exc:
            self.status_message.emit(str(exc))
            return False
        self.stack.push(command)
        return True

    def connect_ports(self, source: str, source_port: str, target: str, target_port: str) -> bool:
        """Wire an output to an input (one undo step); a refused connection becomes a
        status message. True when connected."""
        return self.push(
            lambda: ConnectCommand(self.model, source, source_port, target, target_port)
        )

    def delete_selection(self) -> bool:
        """Delete the selected nodes (with their wires), wires and groups as one edit."""
        nodes = self.selected_node_ids()
        edges = self.selected_edge_ids()
        groups = self.selected_group_keys()
        if not (nodes or edges or groups):
            return False
        self.clearSelection()  # one selection change, not one per removed item
        return self.push(lambda: RemoveCommand(self.model, nodes, edges, groups))

    def copy_selection(self, clipboard: QClipboard | None = None) -> int:
        """Copy the selection as workflow JSON to the clipboard; the number of nodes copied."""
        nodes = self.selected_node_ids()
        if not nodes:
            self.status_message.emit("Nothing selected to copy")
            return 0
        clip.copy_selection(self.model, nodes, self.selected_group_keys(), clipboard)
        return len(nodes)

    def cut_selection(self, clipboard: QClipboard | None = None) -> int:
        """Copy then delete the selection."""
        count = self.copy_selection(clipboard)
        if count:
            self.delete_selection()
        return count

    def paste(
        self,
        text: str | None = None,
        at: QPointF | None = None,
        clipboard: QClipboard | None = None,
    ) -> clip.PasteResult:
        """Paste workflow JSON (``text`` or the clipboard's); the pasted nodes get selected."""
        where = (at.x(), at.y()) if at is not None else None
        mime = (clipboard or QGuiApplication.clipboard()).mimeData() if text is None else None
        foreign = mime is None or not mime.hasFormat(clip.MIME_TYPE)
        result = clip.paste(self.model, self.stack, text=text, at=where, clipboard=clipboard)
        if result.ok:
            self.select_nodes(result.node_ids)
            self.pasted.emit(list(result.node_ids), foreign)
        self.status_message.emit(result.message)
        return result

    def duplicate_selection(self) -> clip.PasteResult | None:
        """Paste a copy of the selection next to it (the clipboard is untouched)."""
        nodes = self.selected_node_ids()
        if not nodes:
            return None
        text = clip.selection_json(self.model, nodes, self.selected_group_keys())
        result = clip.paste(self.model, self.stack, text=text, label="Duplicate")
        if result.ok:
            self.select_nodes(result.node_ids)
        return result

    def group_selection(self, title: str = "Group", margin: float = 20.0) -> str | None:
        """Frame the selected nodes in a new group; returns its key."""
        nodes = self.selected_node_ids()
        if not nodes:
            self.status_message.emit("Select the nodes to group first")
            return None
        rect = self.nodes_bounding_rect(nodes)
        bounding = [
            rect.x() - margin,
            rect.y() - margin - GROUP_HEADER,
            rect.width() + 2 * margin,
            rect.height() + 2 * margin + GROUP_HEADER,
        ]
        command = GroupCommand(self.model, bounding, title)
        self.stack.push(command)
        return command.key

    def ungroup_selection(self) -> int:
        """Remove the selected group frames (their nodes stay), one edit per group."""
        keys = self.selected_group_keys()
        if len(keys) > 1:
            self.stack.beginMacro(f"Ungroup {len(keys)} groups")
        for key in keys:
            self.stack.push(UngroupCommand(self.model, key))
        if len(keys) > 1:
            self.stack.endMacro()
        return len(keys)

    def nudge_selection(self, dx: float, dy: float) -> bool:
        """Move the selected nodes by (dx, dy); consecutive nudges merge into one undo entry."""
        nodes = self.selected_node_ids()
        if not nodes:
            return False
        moves = {}
        for node_id in nodes:
            x, y = self.model.node(node_id).pos
            moves[node_id] = ((x, y), (x + dx, y + dy))
        from glyphic_desktop.ui.canvas.interactions import move_merge_key

        self.stack.push(MoveCommand(self.model, moves, merge_key=move_merge_key(nodes)))
        return True
