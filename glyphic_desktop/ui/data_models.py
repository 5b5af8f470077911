"""Qt item models over a node's recorded data (the data panel's three views).

- :class:`ItemTableModel`: a list of items as a table, columns from the keys of the
  first objects, nested values shown compactly; rows arrive in batches through
  ``canFetchMore`` / ``fetchMore``, so a 100,000-item output opens at once.
- :class:`JsonTreeModel`: any JSON value as a tree; a node's children are made when it
  is expanded, and a long list's children arrive in batches too.
- :func:`schema_rows`: field paths, types and a sample, from the first items.

Every index can be dragged: its ``text/plain`` is the expression that reads it
(``{{ input[0].name }}``), made by the model's ``expression_root`` and the index's path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

#: Rows (or children) made visible per ``fetchMore``.
BATCH = 200
#: Items whose keys make the table's columns.
COLUMN_SAMPLE = 100
#: Characters of a compactly shown nested value.
COMPACT_CHARS = 80
EXPRESSION_MIME = "application/x-glyphic-expression"
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
# Roles as plain ints: views call data() per cell and role, comparing ints is cheaper
# than turning each int back into an enum member.
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_PATH = PATH_ROLE.value if hasattr(PATH_ROLE, "value") else int(PATH_ROLE)
_HORIZONTAL = Qt.Orientation.Horizontal

Index = QModelIndex | QPersistentModelIndex


def as_items(value: Any) -> list[Any]:
    """The items of a port's value: a list as it is, anything else as one item."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def type_name(value: Any) -> str:
    """``string``, ``number``, ``boolean``, ``object``, ``array`` or ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def compact(value: Any, limit: int = COMPACT_CHARS) -> str:
    """One short line for ``value``: text as it is, others as compact JSON, cut at ``limit``."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict):
        if not value:
            return "{}"
        text = "{" + ", ".join(f"{k}: {compact(v, 24)}" for k, v in list(value.items())[:6])
        text += ", …}" if len(value) > 6 else "}"
    elif isinstance(value, list):
        text = f"[{len(value)} item{'s' * (len(value) != 1)}]"
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def join_path(path: str, key: Any) -> str:
    """``path`` extended by a list index or a key (``.name``, or ``['odd key']``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def expression_for(root: str, path: str) -> str:
    """The ``{{ … }}`` expression that reads ``path`` under ``root``."""
    return "{{ " + root + path + " }}"


def _mime(root: str, paths: Iterable[str]) -> QMimeData:
    text = " ".join(expression_for(root, path) for path in paths)
    mime = QMimeData()
    mime.setText(text)
    mime.setData(EXPRESSION_MIME, text.encode("utf-8"))
    return mime


class ItemTableModel(QAbstractTableModel):
    """A list of items as rows; columns from the keys of the first objects (lazy rows)."""

    def __init__(self, value: Any = None, expression_root: str = "input") -> None:
        super().__init__()
        self.expression_root = expression_root
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        """Show ``value`` (its items; a non-list is one item); rows come in batches."""
        self.beginResetModel()
        self.items = as_items(value)
        self.is_list = isinstance(value, list)
        columns: dict[str, None] = {}
        objects = False
        for item in self.items[:COLUMN_SAMPLE]:
            if isinstance(item, dict):
                objects = True
                for key in item:
                    columns.setdefault(str(key), None)
        self.keyed = objects
        self.columns = list(columns) if objects else ["value"]
        self.loaded = min(len(self.items), BATCH)
        self.endResetModel()

    @property
    def total(self) -> int:
        """How many items the value has (``rowCount`` grows to it by ``fetchMore``)."""
        return len(self.items)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Rows fetched so far."""
        return 0 if parent.isValid() else self.loaded

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """One per key of the first objects (``value`` for plain items)."""
        return 0 if parent.isValid() else len(self.columns)

    def canFetchMore(self, parent: Index) -> bool:
        """Whether items remain to be shown."""
        return not parent.isValid() and self.loaded < len(self.items)

    def fetchMore(self, parent: Index) -> None:
        """Show the next batch of rows."""
        if parent.isValid():
            return
        end = min(len(self.items), self.loaded + BATCH)
        if end <= self.loaded:
            return
        self.beginInsertRows(QModelIndex(), self.loaded, end - 1)
        self.loaded = end
        self.endInsertRows()

    def cell(self, row: int, column: int) -> Any:
        """The raw value at ``row`` / ``column`` (None where the item lacks the key)."""
        item = self.items[row]
        if not self.keyed:
            return item
        return item.get(self.columns[column]) if isinstance(item, dict) else None

    def path(self, row: int, column: int) -> str:
        """The path of a cell under the port's value."""
        base = f"[{row}]" if self.is_list else ""
        return join_path(base, self.columns[column]) if self.keyed else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Compact text, full JSON as tooltip, the path under ``PATH_ROLE``."""
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        role = int(role.value) if hasattr(role, "value") else role
        if role == _DISPLAY:
            item = self.items[row]
            if self.keyed and not isinstance(item, dict):
                return compact(item) if column == 0 else ""
            if self.keyed and self.columns[column] not in item:
                return ""
            return compact(self.cell(row, column))
        if role == _TOOLTIP:
            value = self.cell(row, column)
            if isinstance(value, dict | list):
                text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
                return text[:4000]
            return None
        if role == _PATH:
            return self.path(row, column)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column keys across, item numbers down."""
        role = int(role.value) if hasattr(role, "value") else role
        if role != _DISPLAY:
            return None
        if orientation == _HORIZONTAL:
            return self.columns[section] if section < len(self.columns) else None
        return str(section)

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable and draggable."""
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        """The expression, as text and as Glyphic's own type."""
        return ["text/plain", EXPRESSION_MIME]

    def mimeData(self, indexes: Iterable[Index]) -> QMimeData:
        """The expression(s) reading the dragged cells."""
        paths = [self.path(i.row(), i.column()) for i in indexes if i.isValid()][:1]
        return _mime(self.expression_root, paths)


class _TreeNode:
    """One value of a :class:`JsonTreeModel`: its key, value, parent and (lazy) children."""

    __slots__ = ("children", "key", "loaded", "parent", "path", "row", "value")

    def __init__(self, key: Any, value: Any, parent: _TreeNode | None, row: int, path: str):
        self.key, self.value, self.parent, self.row, self.path = key, value, parent, row, path
        self.children: list[_TreeNode] = []
        self.loaded = 0

    def size(self) -> int:
        value = self.value
        return len(value) if isinstance(value, dict | list) else 0

    def grow(self, count: int) -> list[_TreeNode]:
        value = self.value
        start = len(self.children)
        end = min(self.size(), start + count)
        if isinstance(value, list):
            pairs: Iterable[tuple[Any, Any]] = ((i, value[i]) for i in range(start, end))
        else:
            keys = list(value)[start:end] if isinstance(value, dict) else []
            pairs = ((k, value[k]) for k in keys)
        made = [
            _TreeNode(key, item, self, start + offset, join_path(self.path, key))
            for offset, (key, item) in enumerate(pairs)
        ]
        self.children.extend(made)
        return made


class JsonTreeModel(QAbstractItemModel):
    """A JSON value as a tree (key, value, type); children made lazily, in batches."""

    HEADERS = ("Key", "Value", "Type")

    def __init__(self, value: Any = None, expression_root: str = "input") -> None:
        super().__init__()
        self.expression_root = expression_root
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        """Show ``value``: its top level entries are the tree's roots."""
        self.beginResetModel()
        container = isinstance(value, dict | list)
        self.root = _TreeNode(None, value if container else [value], None, 0, "")
        self.root.grow(BATCH)
        if not container:
            self.root.children[0].path = ""
        self.endResetModel()

    def _node(self, index: Index) -> _TreeNode:
        return index.internalPointer() if index.isValid() else self.root

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        """The index of child ``row`` of ``parent``."""
        node = self._node(parent)
        if 0 <= row < len(node.children) and 0 <= column < 3:
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        """The parent of ``index``."""
        if not index.isValid():
            return QModelIndex()
        node: _TreeNode = index.internalPointer()
        parent = node.parent
        if parent is None or parent is self.root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Children made so far."""
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self._node(parent)
        if not node.children and node.size():
            node.grow(BATCH)  # first asked for: the first batch, the rest by fetchMore
        return len(node.children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Key, value, type."""
        return 3

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        """Objects and lists that are not empty."""
        if parent.isValid() and parent.column() != 0:
            return False
        return self._node(parent).size() > 0

    def canFetchMore(self, parent: Index) -> bool:
        """Whether ``parent`` has children not made yet."""
        node = self._node(parent)
        return len(node.children) < node.size()

    def fetchMore(self, parent: Index) -> None:
        """Make the next batch of ``parent``'s children."""
        node = self._node(parent)
        start = len(node.children)
        count = min(BATCH, node.size() - start)
        if count <= 0:
            return
        self.beginInsertRows(
            parent if parent.isValid() else QModelIndex(), start, start + count - 1
        )
        node.grow(count)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Key, compact value, type; the path under ``PATH_ROLE``."""
        if not index.isValid():
            return None
        node: _TreeNode = index.internalPointer()
        role = int(role.value) if hasattr(role, "value") else role
        if role == _DISPLAY:
            column = index.column()
            if column == 0:
                return str(node.key)
            if column == 1:
                return compact(node.value)
            return type_name(node.value)
        if role == _PATH:
            return node.path
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Key / Value / Type."""
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable and draggable."""
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        """The expression, as text and as Glyphic's own type."""
        return ["text/plain", EXPRESSION_MIME]

    def mimeData(self, indexes: Iterable[Index]) -> QMimeData:
        """The expression reading the dragged value."""
        paths = [i.internalPointer().path for i in indexes if i.isValid()][:1]
        return _mime(self.expression_root, paths)


def schema_rows(value: Any, sample: int = COLUMN_SAMPLE) -> list[tuple[str, str, str]]:
    """``(path, type, sample)`` for each field found in the first ``sample`` items.

    Paths are relative to one item (``.name``, ``.address.city``, ``.tags[0]``); a field
    seen with several types lists them (``string | null``).
    """
    found: dict[str, tuple[set[str], Any]] = {}

    def walk(item: Any, path: str, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = join_path(path, key)
                types, first = found.get(child_path, (set(), None))
                types.add(type_name(child))
                found[child_path] = (types, first if first is not None else child)
                walk(child, child_path, depth + 1)
        elif isinstance(item, list) and item:
            walk(item[0], f"{path}[0]", depth + 1)

    items = as_items(value)
    for item in items[:sample]:
        if isinstance(item, dict):
            walk(item, "", 0)
        else:
            types, first = found.get("", (set(), None))
            types.add(type_name(item))
            found[""] = (types, first if first is not None else item)
    return [
        (path or "(item)", " | ".join(sorted(types)), compact(first, 40))
        for path, (types, first) in found.items()
    ]


def completion_keys(value: Any) -> list[str]:
    """The keys an expression can read next on ``value`` (an object's, or its first item's)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return [str(key) for key in value]
    return []
