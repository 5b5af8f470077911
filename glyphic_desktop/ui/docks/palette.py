"""The Palette dock: every node type by category, searchable; drag a type onto the canvas.

A drag carries the type's key as ``application/x-glyphic-node-type`` (UTF-8 text, also
set as plain text); the canvas adds a node of that type where it is dropped.
Double-clicking (or Enter on) a type emits ``typeActivated(key)`` (the window adds it at
the centre of the view).

Disabled node types (``GLYPHIC_DISABLE_NODES`` or the person's setting, see
``engine/disabled_nodes.py``) are listed greyed out, cannot be dragged or added, and
say what disabled them; the node search leaves them out.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDockWidget,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.engine.disabled_nodes import from_env
from glyphic_desktop.nodes.registry import NodeRegistry, default_registry

NODE_TYPE_MIME = "application/x-glyphic-node-type"
KEY_ROLE = Qt.ItemDataRole.UserRole


def node_type_mime(key: str) -> QMimeData:
    """The drag payload for node type ``key``."""
    mime = QMimeData()
    mime.setData(NODE_TYPE_MIME, key.encode("utf-8"))
    mime.setText(key)
    return mime


def node_type_from_mime(mime: QMimeData) -> str | None:
    """The node type key a drag carries, or None."""
    if mime.hasFormat(NODE_TYPE_MIME):
        return bytes(mime.data(NODE_TYPE_MIME).data()).decode("utf-8") or None
    return None


class _TypeTree(QTreeWidget):
    """The tree whose leaves drag their node type key."""

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        """The first dragged leaf's key."""
        for item in items:
            key = item.data(0, KEY_ROLE)
            if key:
                return node_type_mime(key)
        return QMimeData()

    def mimeTypes(self) -> list[str]:
        """What a drag from here carries."""
        return [NODE_TYPE_MIME, "text/plain"]


class PaletteDock(QDockWidget):
    """Searchable node types grouped by category."""

    typeActivated = Signal(str)

    def __init__(self, registry: NodeRegistry | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Palette", parent)
        self.setObjectName("PaletteDock")
        self.registry = registry or default_registry()
        self.disabled_types: dict[str, str] = from_env()
        body = QWidget(self)
        self.search = QLineEdit(body)
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.tree = _TypeTree(body)
        self.tree.setObjectName("paletteTree")
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.setWidget(body)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)
        self.refresh()

    def _leaf(self, cls: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem([cls.title])
        item.setData(0, KEY_ROLE, cls.key)
        tip = f"{cls.title} ({cls.key})"
        if cls.description:
            tip += f"\n{cls.description}"
        disabled_by = self.disabled_types.get(cls.key)
        if disabled_by:
            item.setToolTip(0, f"{tip}\nDisabled by {disabled_by}")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            return item
        item.setToolTip(0, tip)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )
        return item

    def set_disabled_types(self, disabled: dict[str, str]) -> None:
        """Grey out these type keys (each mapped to what disabled it)."""
        self.disabled_types = dict(disabled)
        self.refresh()

    def refresh(self, *_args: Any) -> None:
        """Rebuild the tree for the current search text."""
        text = self.search.text().strip()
        self.tree.clear()
        if text:
            for cls in self.registry.search(text):
                self.tree.addTopLevelItem(self._leaf(cls))
            return
        for category, classes in self.registry.by_category().items():
            group = QTreeWidgetItem([category])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for cls in classes:
                group.addChild(self._leaf(cls))
            self.tree.addTopLevelItem(group)
            group.setExpanded(True)

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        """The leaf showing node type ``key`` (None when filtered out)."""
        for item in self.visible_items():
            if item.data(0, KEY_ROLE) == key:
                return item
        return None

    def visible_items(self) -> list[QTreeWidgetItem]:
        """Every leaf currently listed, in order."""
        leaves: list[QTreeWidgetItem] = []
        for index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(index)
            if top.data(0, KEY_ROLE):
                leaves.append(top)
            leaves.extend(top.child(i) for i in range(top.childCount()))
        return leaves

    def visible_keys(self) -> list[str]:
        """The keys of every listed node type, in order."""
        return [item.data(0, KEY_ROLE) for item in self.visible_items()]

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        key = item.data(0, KEY_ROLE)
        if key and key not in self.disabled_types:
            self.typeActivated.emit(key)

    def _activate_first(self) -> None:
        items = [i for i in self.visible_items() if i.data(0, KEY_ROLE) not in self.disabled_types]
        if items:
            self._activated(items[0])


class NodeSearchPopup(QDialog):
    """The node search (Tab, double-click, a wire dropped on empty canvas).

    Lists ``types`` (node type classes) matching the typed text, best first (the
    registry's fuzzy search on title, key and category); Enter or a double-click picks.
    ``chosen_key`` holds the pick after ``exec()``.
    """

    def __init__(
        self, registry: NodeRegistry, types: list[Any] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("NodeSearchPopup")
        self.registry = registry
        self.allowed = {cls.key for cls in types} if types is not None else None
        self.chosen_key: str | None = None
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add a node…")
        self.list = QListWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(300, 320)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self._pick_current)
        self.list.itemActivated.connect(self._pick)
        self.search.installEventFilter(self)
        self.refresh()

    def refresh(self, *_args: Any) -> None:
        """List the matching types."""
        self.list.clear()
        palette = getattr(self.parent(), "palette_dock", None)  # the window's palette
        disabled = getattr(palette, "disabled_types", None) or from_env()
        for cls in self.registry.search(self.search.text()):
            if self.allowed is not None and cls.key not in self.allowed:
                continue
            if cls.key in disabled:
                continue
            item = QListWidgetItem(f"{cls.title}  ·  {cls.category}")
            item.setData(KEY_ROLE, cls.key)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def keys(self) -> list[str]:
        """The listed type keys, in order."""
        return [self.list.item(i).data(KEY_ROLE) for i in range(self.list.count())]

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Up/Down in the search box move through the list."""
        if (
            watched is self.search
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
        ):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
            self.list.setCurrentRow(row)
            return True
        return super().eventFilter(watched, event)

    def _pick_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._pick(item)

    def _pick(self, item: QListWidgetItem) -> None:
        self.chosen_key = item.data(KEY_ROLE)
        self.accept()
