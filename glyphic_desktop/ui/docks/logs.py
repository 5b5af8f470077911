"""The Logs dock: live run log lines, filtered by level and node, searchable, copyable.

Lines live in :class:`LogModel` (a flat ``QAbstractTableModel``) and arrive in batches
(:meth:`LogsDock.append_lines`): one ``beginInsertRows`` per batch, never one widget
per line, so 10,000 lines a second cost a few model resets' worth of work. A
:class:`LogFilter` proxy applies the level / node / text filters; the view scrolls to
the bottom when it already was there. Clicking a line emits ``nodeActivated(node_id)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

LEVELS = ("debug", "info", "warn", "error")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
LEVEL_COLORS = {"debug": "#8b949e", "info": None, "warn": "#d29922", "error": "#e5534b"}
MAX_LINES = 200_000
COLUMNS = ("Time", "Level", "Node", "Message")


@dataclass(slots=True)
class LogLine:
    """One log line as the dock shows it."""

    timestamp: datetime | None
    level: str
    node_id: str | None
    node_label: str
    message: str

    def as_text(self) -> str:
        """The line as plain text (what Copy puts on the clipboard)."""
        when = self.timestamp.strftime("%H:%M:%S.%f")[:-3] if self.timestamp else ""
        node = f"[{self.node_label}]" if self.node_label else ""
        return " ".join(part for part in (when, self.level.upper(), node, self.message) if part)


def normalise_level(level: str | None) -> str:
    """``warning`` → ``warn``; unknown levels count as ``info``."""
    name = (level or "info").lower()
    if name == "warning":
        return "warn"
    return name if name in LEVEL_RANK else "info"


class LogModel(QAbstractTableModel):
    """All log lines of the current run, appended in batches, oldest dropped past a cap."""

    def __init__(self, parent: Any = None, *, max_lines: int = MAX_LINES) -> None:
        super().__init__(parent)
        self.lines: list[LogLine] = []
        self.max_lines = max_lines

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of lines (a flat table)."""
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Time, level, node, message."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        """Display text per column; level colour as foreground."""
        if not index.isValid():
            return None
        line = self.lines[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            column = index.column()
            if column == 0:
                return line.timestamp.strftime("%H:%M:%S.%f")[:-3] if line.timestamp else ""
            if column == 1:
                return line.level.upper()
            if column == 2:
                return line.node_label
            return line.message
        if role == Qt.ItemDataRole.ForegroundRole:
            color = LEVEL_COLORS.get(line.level)
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.UserRole:
            return line
        return None

    def append(self, batch: Sequence[LogLine]) -> None:
        """Append a batch with one insert notification; trim the oldest past the cap."""
        if not batch:
            return
        overflow = len(self.lines) + len(batch) - self.max_lines
        if overflow > 0:
            if overflow >= len(self.lines):
                self.clear()
                batch = batch[-self.max_lines :]
            else:
                self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
                del self.lines[:overflow]
                self.endRemoveRows()
        first = len(self.lines)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        self.lines.extend(batch)
        self.endInsertRows()

    def clear(self) -> None:
        """Remove every line."""
        self.beginResetModel()
        self.lines = []
        self.endResetModel()


class LogFilter(QSortFilterProxyModel):
    """Minimum level, one node, and a case-insensitive text search."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.min_rank = 0
        self.node_id: str | None = None
        self.needle = ""

    def set_filters(
        self, *, min_level: str | None = None, node_id: str | None = None, text: str = ""
    ) -> None:
        """Replace the filters and re-filter."""
        modern = hasattr(self, "beginFilterChange")  # Qt 6.9+
        if modern:
            self.beginFilterChange()
        self.min_rank = LEVEL_RANK.get(min_level or "debug", 0)
        self.node_id = node_id
        self.needle = text.strip().lower()
        if modern:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether line ``row`` passes every filter."""
        if not (self.min_rank or self.node_id or self.needle):
            return True
        line: LogLine = self.sourceModel().lines[row]
        if LEVEL_RANK.get(line.level, 1) < self.min_rank:
            return False
        if self.node_id is not None and line.node_id != self.node_id:
            return False
        if self.needle:
            return (
                self.needle in line.message.lower()
                or self.needle in line.node_label.lower()
                or self.needle in line.level
            )
        return True


#: What the empty Logs dock says.
EMPTY_TEXT = (
    "Run the workflow (F5) and what its nodes log appears here as it happens: "
    "filter by level or node, search, click a line to find its node."
)


class LogView(QWidget):
    """The logs table with its filter bar (used by the dock and the execution viewer)."""

    nodeActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self._nodes: dict[str, str] = {}
        self.node_rebuilds = 0  # how many times the node filter was rebuilt

        self.level_combo = QComboBox(self)
        self.level_combo.setObjectName("logLevelFilter")
        self.level_combo.addItem("All levels", "debug")
        for level in LEVELS[1:]:
            self.level_combo.addItem(f"{level.capitalize()} and above", level)
        self.node_combo = QComboBox(self)
        self.node_combo.setObjectName("logNodeFilter")
        self.node_combo.addItem("All nodes", None)
        self.search = QLineEdit(self)
        self.search.setObjectName("logSearch")
        self.search.setPlaceholderText("Search logs…")
        self.search.setClearButtonEnabled(True)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip(
            "Copy the selected lines (all shown lines when none is selected)"
        )
        self.clear_button = QPushButton("Clear", self)

        self.table = QTableView(self)
        self.table.setObjectName("logTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 4)
        horizontal = self.table.horizontalHeader()
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        horizontal.setStretchLastSection(True)
        self.table.setColumnWidth(0, 96)
        self.table.setColumnWidth(1, 56)
        self.table.setColumnWidth(2, 120)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.level_combo)
        bar.addWidget(self.node_combo)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)

        self.level_combo.currentIndexChanged.connect(self._refilter)
        self.node_combo.currentIndexChanged.connect(self._refilter)
        self.search.textChanged.connect(self._refilter)
        self.copy_button.clicked.connect(self.copy)
        self.clear_button.clicked.connect(self.clear)
        self.table.clicked.connect(self._clicked)
        # While there is nothing to show, say what will appear here.
        self.placeholder = QLabel(EMPTY_TEXT, self.table.viewport())
        self.placeholder.setObjectName("logsPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)  # drawn in the disabled (muted) text colour
        self.table.viewport().installEventFilter(self)
        self.model.rowsInserted.connect(self._update_placeholder)
        self.model.modelReset.connect(self._update_placeholder)
        self.model.rowsRemoved.connect(self._update_placeholder)
        self._update_placeholder()
        # The main window disables this and routes its Copy action here instead.
        self.copy_shortcut = QShortcut(QKeySequence.StandardKey.Copy, self.table, self.copy)
        self.copy_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Keep the placeholder the size of the table's viewport."""
        if event.type() == QEvent.Type.Resize and watched is self.table.viewport():
            self.placeholder.setGeometry(self.table.viewport().rect().adjusted(12, 0, -12, 0))
        return False

    def _update_placeholder(self, *_args: Any) -> None:
        self.placeholder.setVisible(not self.model.lines)

    # -- feeding ---------------------------------------------------------------

    def set_nodes(self, nodes: Iterable[tuple[str, str]]) -> None:
        """The (id, label) pairs offered by the node filter (unchanged pairs: no work).

        The window calls this once per batch of edits (never per node), so the combo is
        rebuilt at most once per command.
        """
        nodes = dict(nodes)
        if nodes == self._nodes and self.node_combo.count() == len(nodes) + 1:
            return
        self.node_rebuilds += 1
        current = self.node_combo.currentData()
        self._nodes = nodes
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        self.node_combo.addItem("All nodes", None)
        for node_id, label in self._nodes.items():
            self.node_combo.addItem(f"{label} ({node_id})" if label != node_id else label, node_id)
        index = self.node_combo.findData(current)
        self.node_combo.setCurrentIndex(max(index, 0))
        self.node_combo.blockSignals(False)

    def append_lines(self, lines: Sequence[LogLine]) -> None:
        """Append a batch; keep the view pinned to the bottom when it was there."""
        if not lines:
            return
        bar = self.table.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        self.model.append(lines)
        if at_bottom:
            self.table.scrollToBottom()

    def clear(self) -> None:
        """Remove every line."""
        self.model.clear()

    # -- filtering -------------------------------------------------------------

    def _refilter(self, *_args: Any) -> None:
        self.proxy.set_filters(
            min_level=self.level_combo.currentData(),
            node_id=self.node_combo.currentData(),
            text=self.search.text(),
        )

    def set_node_filter(self, node_id: str | None) -> None:
        """Show only ``node_id``'s lines (None: all nodes)."""
        index = self.node_combo.findData(node_id)
        if index < 0 and node_id is not None:
            self.node_combo.addItem(self._nodes.get(node_id, node_id), node_id)
            index = self.node_combo.count() - 1
        self.node_combo.setCurrentIndex(max(index, 0))

    def set_min_level(self, level: str) -> None:
        """Show only lines at ``level`` or above."""
        self.level_combo.setCurrentIndex(max(self.level_combo.findData(level), 0))

    def visible_lines(self) -> list[LogLine]:
        """The lines the filters let through, in order."""
        proxy = self.proxy
        lines = self.model.lines
        return [
            lines[proxy.mapToSource(proxy.index(row, 0)).row()] for row in range(proxy.rowCount())
        ]

    # -- actions ---------------------------------------------------------------

    def selected_lines(self) -> list[LogLine]:
        """The selected lines, in order."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(row, 0).data(Qt.ItemDataRole.UserRole) for row in rows]

    def copy(self) -> str:
        """Copy the selected (or else all shown) lines as text; return that text."""
        lines = self.selected_lines() or self.visible_lines()
        text = "\n".join(line.as_text() for line in lines)
        QGuiApplication.clipboard().setText(text)
        return text

    def _clicked(self, index: QModelIndex) -> None:
        line: LogLine | None = index.data(Qt.ItemDataRole.UserRole)
        if line is not None and line.node_id:
            self.nodeActivated.emit(line.node_id)


class LogsDock(QDockWidget):
    """The dock around a :class:`LogView`; ``nodeActivated`` selects the node on the canvas."""

    nodeActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Logs", parent)
        self.setObjectName("LogsDock")
        self.view = LogView(self)
        self.setWidget(self.view)
        self.view.nodeActivated.connect(self.nodeActivated)

    def append_lines(self, lines: Sequence[LogLine]) -> None:
        """Append a batch of lines."""
        self.view.append_lines(lines)

    def clear(self) -> None:
        """Remove every line."""
        self.view.clear()

    def set_nodes(self, nodes: Iterable[tuple[str, str]]) -> None:
        """The nodes offered by the node filter."""
        self.view.set_nodes(nodes)
