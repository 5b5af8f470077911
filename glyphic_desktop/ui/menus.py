"""Right-click menus of the canvas (node, wire, group, empty canvas) and the window's
Help sheets.

:class:`ContextMenus` watches the canvas viewport for context-menu events, works out
what is under the pointer, and pops up the matching menu (non-blocking: the menu is
kept in ``last_menu``; its actions have object names ``ctx_<name>`` so tests and
scripts can find them). Every action builds commands from :mod:`glyphic_desktop.ui.commands`
or calls the window's own actions, so each is one undo step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QAction, QContextMenuEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.ui.canvas import NodeRequest
from glyphic_desktop.ui.canvas.edge_item import EdgeItem
from glyphic_desktop.ui.canvas.group_item import GroupItem
from glyphic_desktop.ui.canvas.node_item import NodeItem
from glyphic_desktop.ui.commands import (
    AddNodesCommand,
    DisconnectCommand,
    MoveCommand,
    RenameCommand,
    SetGroupColorCommand,
    SetSettingCommand,
    UngroupCommand,
    new_node,
)
from glyphic_desktop.ui.graph_model import EditError

if TYPE_CHECKING:
    from glyphic_desktop.ui.main_window import MainWindow

#: Colours offered for a group (name, hex).
GROUP_COLOURS = (
    ("Default", None),
    ("Blue", "#3b6ea5"),
    ("Green", "#3f7d4e"),
    ("Orange", "#b8692e"),
    ("Purple", "#7a4fa0"),
    ("Red", "#a84444"),
)


def tidy_positions(window: MainWindow, node_ids: list[str]) -> dict[str, tuple[float, float]]:
    """Layered left-to-right positions for ``node_ids`` (their top-left corner kept)."""
    from glyphic_desktop.document.layout import layered_positions

    model, scene = window.model, window.scene
    wanted = set(node_ids)
    pairs = []
    for node_id in node_ids:
        for edge_id in model.edges_of(node_id):
            edge = model.edge(edge_id)
            if edge.source == node_id and edge.target in wanted:
                pairs.append((edge.source, edge.target))
    sizes = {}
    for node_id in node_ids:
        item = scene.nodes.get(node_id)
        if item is not None:
            rect = item.boundingRect()
            sizes[node_id] = (rect.width(), rect.height())
    left = min(model.node(n).pos[0] for n in node_ids)
    top = min(model.node(n).pos[1] for n in node_ids)
    return layered_positions(node_ids, pairs, sizes, origin=(left, top))


class ContextMenus(QObject):
    """The canvas's right-click menus for one window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.last_menu: QMenu | None = None
        window.view.viewport().installEventFilter(self)

    # -- event -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Open the menu for what is under a right-click (or the menu key)."""
        if event.type() == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
            menu = self.menu_at(QPointF(event.pos()))
            if menu is not None:
                self.last_menu = menu
                menu.popup(event.globalPos())
                event.accept()
                return True
        return False

    def menu_at(self, view_pos: QPointF) -> QMenu | None:
        """The menu for the item at viewport position ``view_pos``."""
        window = self.window
        view, scene = window.view, window.scene
        pos = view.mapToScene(view_pos.toPoint())
        node = scene.node_at(pos)
        if node is not None:
            if not node.isSelected():
                scene.select_nodes([node.node_id])
            return self.node_menu(node)
        edge = scene.edge_at(pos, 6.0 / max(view.zoom(), 0.01))
        if edge is not None:
            return self.wire_menu(edge, pos)
        group = scene.group_at(pos)
        if group is not None:
            return self.group_menu(group)
        return self.canvas_menu(pos)

    # -- building ------------------------------------------------------------------------

    def _menu(self) -> QMenu:
        menu = QMenu(self.window.view)
        menu.setObjectName("canvasContextMenu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return menu

    def _add(self, menu: QMenu, name: str, text: str, slot: Any, enabled: bool = True) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(f"ctx_{name}")
        action.setEnabled(enabled)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def node_menu(self, node: NodeItem) -> QMenu:
        """Run / pin / disable / rename / duplicate / copy / delete / group."""
        window = self.window
        node_id = node.node_id
        model_node = window.model.node(node_id)
        menu = self._menu()
        idle = not window.is_running()
        self._add(menu, "run", "&Run Workflow", window.run, idle)
        run_data = getattr(window, "run_data", None)  # ui/docks/data_panel.py
        if run_data is not None:
            for name, text, mode in (
                ("run_node", "Run This &Node\tF6", "only"),
                ("run_to", "Run &to Here\tF7", "to"),
                ("run_from", "Run &from Here\tF8", "from"),
            ):
                self._add(menu, name, text, lambda m=mode: run_data.run_partial(m, node_id), idle)
            menu.addSeparator()
        if model_node.data.pinnedData is not None:
            self._add(menu, "pin", "Un&pin Data", lambda: self.pin(node_id, None))
        else:
            if run_data is not None:
                recorded = run_data.outputs_of(node_id)
            else:
                recorded = (getattr(window.last_run_result, "outputs", None) or {}).get(node_id)
            self._add(
                menu,
                "pin",
                "&Pin Data",
                lambda: self.pin(node_id, recorded),
                isinstance(recorded, dict),
            )
        if run_data is not None:
            self._add(menu, "set_output", "Set &Output…", lambda: run_data.edit_pin(node_id))
        disabled = bool(getattr(model_node.data, "disabled", False))
        self._add(
            menu,
            "disable",
            "&Enable" if disabled else "&Disable",
            lambda: self.set_disabled(node_id, not disabled),
        )
        self._add(menu, "rename", "Re&name…", lambda: self.rename_node(node_id))
        menu.addSeparator()
        self._add(menu, "duplicate", "D&uplicate", window.duplicate)
        self._add(menu, "copy", "&Copy", window.copy)
        self._add(menu, "delete", "De&lete", window.delete)
        menu.addSeparator()
        self._add(menu, "group", "&Group Selection", window.group_selection)
        return menu

    def wire_menu(self, edge: EdgeItem, pos: QPointF) -> QMenu:
        """Delete the wire, or insert a node into it."""
        menu = self._menu()
        edge_id = edge.edge_id
        self._add(menu, "delete_wire", "De&lete Wire", lambda: self.delete_wire(edge_id))
        self._add(menu, "insert_node", "&Insert Node…", lambda: self.insert_node(edge_id, pos))
        return menu

    def group_menu(self, group: GroupItem) -> QMenu:
        """Rename, colour, ungroup."""
        menu = self._menu()
        key = group.key
        self._add(menu, "rename_group", "Re&name…", lambda: self.window.rename_group(key))
        colours = menu.addMenu("&Colour")
        colours.setObjectName("ctx_colour_menu")
        for name, value in GROUP_COLOURS:
            self._add(colours, f"colour_{name.lower()}", name, lambda v=value: self.colour(key, v))
        self._add(menu, "ungroup", "&Ungroup", lambda: self.ungroup(key))
        return menu

    def canvas_menu(self, pos: QPointF) -> QMenu:
        """Add a node here, paste, select all, fit, tidy up."""
        window = self.window
        menu = self._menu()
        scene = window.scene
        self._add(menu, "add_node", "&Add Node Here…", lambda: self.add_node_at(pos))
        self._add(menu, "paste", "&Paste Here", lambda: scene.paste(at=pos))
        menu.addSeparator()
        self._add(menu, "select_all", "Select &All", scene.select_all)
        self._add(menu, "fit", "&Fit All", window.view.fit_all)
        self._add(menu, "tidy", "&Tidy Up", window.tidy_up, bool(window.model.doc.nodes))
        return menu

    # -- actions -------------------------------------------------------------------------

    def _push(self, build: Any) -> bool:
        return self.window.scene.push(build)

    def set_disabled(self, node_id: str, disabled: bool) -> None:
        """Disable (pass through) or enable the node, one undo step."""
        self._push(lambda: SetSettingCommand(self.window.model, node_id, "disabled", disabled))

    def pin(self, node_id: str, outputs: dict[str, Any] | None) -> None:
        """Pin ``outputs`` (the node's output in the last run) on the node; None unpins."""
        self._push(lambda: SetSettingCommand(self.window.model, node_id, "pinnedData", outputs))

    def rename_node(self, node_id: str) -> None:
        """Ask for a new title."""
        window = self.window
        old = window.model.node(node_id).data.label
        label = window.prompts.ask_text("Rename node", "Title:", old)
        if label and label != old:
            self._push(lambda: RenameCommand(window.model, node_id, label))

    def delete_wire(self, edge_id: int) -> None:
        """Remove one wire."""
        self._push(lambda: DisconnectCommand(self.window.model, [edge_id]))

    def insert_node(self, edge_id: int, pos: QPointF) -> None:
        """Pick a node type and put it into the wire (source → new → target), one step."""
        from glyphic_desktop.ui.docks.palette import NodeSearchPopup

        window = self.window
        popup = NodeSearchPopup(window.registry, list(window.registry.all()), window)
        popup.move(window.view.mapToGlobal(window.view.mapFromScene(pos)))
        if popup.exec() and popup.chosen_key:
            self.insert_node_of_type(edge_id, popup.chosen_key, pos)

    def insert_node_of_type(self, edge_id: int, key: str, pos: QPointF) -> str | None:
        """Put a new node of type ``key`` into wire ``edge_id`` at ``pos``; its id."""
        window = self.window
        model, stack, scene = window.model, window.undo_stack, window.scene
        edge = model.edge(edge_id)
        try:
            node = new_node(model, key, (pos.x(), pos.y()))
        except EditError as exc:
            scene.status_message.emit(str(exc))
            return None
        first_in = node.inputs[0].name if node.inputs else None
        first_out = node.outputs[0].name if node.outputs else None
        stack.beginMacro(f"Insert {node.data.label}")
        try:
            stack.push(AddNodesCommand(model, [node], owned=True))
            if first_in and first_out:
                source, handle = edge.source, edge.sourceHandle
                target, target_handle = edge.target, edge.targetHandle
                stack.push(DisconnectCommand(model, [edge_id]))
                for args in (
                    (source, handle, node.id, first_in),
                    (node.id, first_out, target, target_handle),
                ):
                    scene.connect_ports(*args)
        finally:
            stack.endMacro()
        scene.select_nodes([node.id])
        return node.id

    def colour(self, key: str, value: str | None) -> None:
        """Give the group a colour (None: the theme's)."""
        self._push(lambda: SetGroupColorCommand(self.window.model, key, value))

    def ungroup(self, key: str) -> None:
        """Remove the group frame (its nodes stay)."""
        self._push(lambda: UngroupCommand(self.window.model, key))

    def add_node_at(self, pos: QPointF) -> None:
        """The node search, adding where the menu was opened."""
        scene = self.window.scene
        scene.node_requested.emit(NodeRequest(scene, pos))


def move_command(window: MainWindow, positions: dict[str, tuple[float, float]]) -> MoveCommand:
    """One undoable move of the nodes to ``positions``."""
    model = window.model
    moves = {n: (tuple(model.node(n).pos), xy) for n, xy in positions.items()}
    command = MoveCommand(model, moves)
    command.setText(f"Tidy up {len(moves)} node{'s' * (len(moves) != 1)}")
    return command


class ShortcutsSheet(QDialog):
    """Help > Keyboard Shortcuts: every action with a shortcut, and the canvas gestures."""

    GESTURES = (
        ("Tab / double-click the canvas", "Add a node (search)"),
        ("Drag from a port", "Connect; drop on empty canvas to add a connected node"),
        ("Middle drag / Space + drag", "Pan"),
        ("Wheel", "Zoom around the pointer"),
        ("F", "Fit the whole graph"),
        ("Arrow keys", "Nudge the selection"),
        ("Right-click", "Menu of the node, wire, group or canvas under the pointer"),
        ("Double-click a group's title", "Rename the group"),
    )

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsSheet")
        self.setWindowTitle("Keyboard Shortcuts")
        rows = []
        for action in actions.values():
            keys = ", ".join(k.toString() for k in action.shortcuts() if not k.isEmpty())
            if keys:
                rows.append((keys, action.text().replace("&", "").rstrip("…")))
        rows += list(self.GESTURES)
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Keys", "What it does"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, (keys, text) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(text))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str]]:
        """The listed (keys, description) pairs."""
        return [
            (self.table.item(r, 0).text(), self.table.item(r, 1).text())
            for r in range(self.table.rowCount())
        ]


def about_text() -> str:
    """The About box's text."""
    try:
        from importlib.metadata import version

        number = version("glyphic-desktop")
    except Exception:
        number = "development"
    return (
        f"<b>Glyphic Desktop</b> {number}<br>"
        "Workflow automation on your desktop: build workflows in a node editor, store them "
        "in PostgreSQL, run them while the logs stream in, and keep schedules firing from "
        "the tray agent."
    )


__all__ = ["GROUP_COLOURS", "ContextMenus", "ShortcutsSheet", "about_text", "tidy_positions"]
