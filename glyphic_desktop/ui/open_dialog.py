"""The Open dialog: every workflow of the user with tags, last run and status.

Search by name (or description), by tag and by node type, all at once (the query runs
in the database: ``WorkflowRepository.list(search=, tag=, node_type=)``). Open returns
the chosen workflow's id (``selected_id``); Duplicate asks for a name and stores a copy;
Delete asks for confirmation first. Database errors are shown in the dialog.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.workflows import WorkflowRepository, WorkflowSummary

COLUMNS = ("Name", "Tags", "Last run", "Status", "Version", "Updated")
ID_ROLE = Qt.ItemDataRole.UserRole


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


class OpenDialog(QDialog):
    """Lists, searches, opens, duplicates and deletes stored workflows."""

    def __init__(
        self,
        db: Database,
        user_id: uuid.UUID,
        node_types: Sequence[tuple[str, str]] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("OpenDialog")
        self.setWindowTitle("Open workflow")
        self.resize(820, 480)
        self.db = db
        self.user_id = user_id
        self.selected_id: uuid.UUID | None = None
        self.summaries: list[WorkflowSummary] = []

        self.search = QLineEdit(self)
        self.search.setObjectName("openSearch")
        self.search.setPlaceholderText("Search by name…")
        self.search.setClearButtonEnabled(True)
        self.tag_filter = QComboBox(self)
        self.tag_filter.setObjectName("openTag")
        self.tag_filter.setEditable(True)
        self.tag_filter.lineEdit().setPlaceholderText("Any tag")
        self.type_filter = QComboBox(self)
        self.type_filter.setObjectName("openNodeType")
        self.type_filter.addItem("Any node type", None)
        for key, title in node_types:
            self.type_filter.addItem(f"{title} ({key})", key)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("openTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel(self)
        self.status.setObjectName("openStatus")
        self.status.setWordWrap(True)

        self.open_button = QPushButton("Open", self)
        self.open_button.setDefault(True)
        self.duplicate_button = QPushButton("Duplicate…", self)
        self.delete_button = QPushButton("Delete…", self)
        self.cancel_button = QPushButton("Cancel", self)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(self.tag_filter, 1)
        filters.addWidget(self.type_filter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for button in (
            self.duplicate_button,
            self.delete_button,
            self.cancel_button,
            self.open_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._debounce.start)
        self.tag_filter.currentTextChanged.connect(self._debounce.start)
        self.type_filter.currentIndexChanged.connect(self._debounce.start)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.open_button.clicked.connect(self.open_selected)
        self.duplicate_button.clicked.connect(self.duplicate_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.cancel_button.clicked.connect(self.reject)
        self.refresh()
        self._fill_tags()

    # -- data ----------------------------------------------------------------------------

    def _fill_tags(self) -> None:
        tags = sorted({tag for summary in self.summaries for tag in summary.tags})
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("")
        self.tag_filter.addItems(tags)
        self.tag_filter.setCurrentIndex(0)
        self.tag_filter.blockSignals(False)

    def refresh(self) -> None:
        """Query the workflows matching the filters and show them."""
        self._debounce.stop()
        try:
            with self.db.session() as session:
                self.summaries = WorkflowRepository(session, self.user_id).list(
                    search=self.search.text().strip() or None,
                    tag=self.tag_filter.currentText().strip() or None,
                    node_type=self.type_filter.currentData(),
                )
        except Exception as exc:  # unreachable database: say so in the dialog
            self._show_status(f"Cannot list workflows: {_one_line(exc)}", error=True)
            self.summaries = []
        else:
            count = len(self.summaries)
            self._show_status(f"{count} workflow{'s' if count != 1 else ''}")
        self._fill_table()

    def _fill_table(self) -> None:
        table = self.table
        table.setRowCount(len(self.summaries))
        for row, summary in enumerate(self.summaries):
            values = (
                summary.name,
                ", ".join(summary.tags),
                _when(summary.last_run_at),
                summary.last_status or "never run",
                str(summary.version),
                _when(summary.updated_at),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(ID_ROLE, summary.id)
                if column == 0 and summary.description:
                    item.setToolTip(summary.description)
                table.setItem(row, column, item)
        if self.summaries:
            table.selectRow(0)
        self._update_buttons()

    def names(self) -> list[str]:
        """The listed workflow names, in order."""
        return [summary.name for summary in self.summaries]

    def select_name(self, name: str) -> bool:
        """Select the row of the workflow called ``name``; False when it is not listed."""
        for row, summary in enumerate(self.summaries):
            if summary.name == name:
                self.table.selectRow(row)
                return True
        return False

    def current(self) -> WorkflowSummary | None:
        """The selected workflow."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.summaries[rows[0].row()]

    def _update_buttons(self) -> None:
        has = self.current() is not None
        for button in (self.open_button, self.duplicate_button, self.delete_button):
            button.setEnabled(has)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #e5534b;" if error else "")

    # -- actions -------------------------------------------------------------------------

    def open_selected(self) -> None:
        """Accept with the selected workflow."""
        current = self.current()
        if current is not None:
            self.selected_id = current.id
            self.accept()

    def ask_text(self, title: str, label: str, text: str) -> str | None:
        """Ask for a line of text (None when cancelled)."""
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (No is the default)."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def duplicate_selected(self) -> None:
        """Ask for a name and store a copy of the selected workflow."""
        current = self.current()
        if current is None:
            return
        name = self.ask_text("Duplicate workflow", "Name of the copy:", f"{current.name} (copy)")
        if not name:
            return
        try:
            with self.db.session() as session:
                WorkflowRepository(session, self.user_id).duplicate(current.id, name)
        except Exception as exc:
            self._show_status(f"Cannot duplicate: {_one_line(exc)}", error=True)
            return
        self.refresh()
        self.select_name(name.strip())
        self._show_status(f"Duplicated as “{name.strip()}”")

    def delete_selected(self) -> None:
        """Delete the selected workflow after confirmation."""
        current = self.current()
        if current is None:
            return
        if not self.confirm(
            "Delete workflow",
            f"Delete “{current.name}” with its versions, runs, schedules and webhooks? "
            "This cannot be undone.",
        ):
            return
        try:
            with self.db.session() as session:
                WorkflowRepository(session, self.user_id).delete(current.id)
        except Exception as exc:
            self._show_status(f"Cannot delete: {_one_line(exc)}", error=True)
            return
        self.refresh()
        self._show_status(f"Deleted “{current.name}”")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GlyphicError):
        return exc.message.splitlines()[0]
    text: Any = getattr(exc, "orig", None) or exc
    return (str(text).strip().splitlines() or [exc.__class__.__name__])[0]
