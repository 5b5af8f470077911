"""The Executions dock: the open workflow's runs (status, trigger, started, duration).

Opening a run (double-click or Open) shows an :class:`ExecutionViewer`: its error, its
log lines (the Logs dock's filterable view), each node's recorded output as JSON, and
the files the run produced (double-click or Open file opens one with the system's
application; a file deleted from disk since is listed as missing).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.executions import (
    ExecutionRecord,
    ExecutionRepository,
    ExecutionSummary,
    LogRecord,
)
from glyphic_desktop.store.repositories.files import FileRecord, FileRepository
from glyphic_desktop.ui.docks.logs import LogLine, LogView, normalise_level
from glyphic_desktop.ui.docks.record_list import build_record_list
from glyphic_desktop.ui.error_text import error_line

ID_ROLE = Qt.ItemDataRole.UserRole
STATUS_COLORS = {
    "completed": "#3fb950",
    "failed": "#e5534b",
    "cancelled": "#d29922",
    "running": "#4c8dff",
    "pending": "#8b949e",
    "waiting": "#a371f7",
}


#: What the Executions dock says while it lists nothing.
EMPTY_UNSAVED = (
    "Save the workflow, then every run of it is listed here (status, trigger, when, how "
    "long); open one to see its logs and outputs."
)
EMPTY_SAVED = (
    "No runs yet. Press Run (F5), or let a schedule or webhook fire: each run is listed "
    "here; open one to see its logs and outputs."
)


def format_duration(ms: int | float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``; ``—`` when unknown."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def format_size(size: int | None) -> str:
    """``512 B``, ``12.3 KB``, ``4.0 MB``; ``—`` when unknown."""
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # pragma: no cover


def file_item_text(record: FileRecord) -> str:
    """One line of the Files list: name, size, type and the node that wrote it."""
    parts = [record.filename, format_size(record.size_bytes)]
    if record.mime_type:
        parts.append(record.mime_type)
    label = record.metadata.get("node_label") or record.metadata.get("node_id")
    if label:
        parts.append(f"by {label}")
    text = " · ".join(parts)
    return text if record.exists else f"{text} (missing)"


def log_lines(records: list[LogRecord], labels: dict[str, str]) -> list[LogLine]:
    """Stored log rows as the log view's lines."""
    return [
        LogLine(
            record.timestamp.astimezone() if record.timestamp else None,
            normalise_level(record.level),
            record.node_id,
            labels.get(record.node_id or "", record.node_id or ""),
            record.message,
        )
        for record in records
    ]


def open_with_system(url: QUrl) -> bool:
    """Open ``url`` with the desktop's default application (tests replace this function)."""
    return QDesktopServices.openUrl(url)


class ExecutionViewer(QDialog):
    """One run: summary, log lines and each node's output."""

    def __init__(
        self,
        record: ExecutionRecord,
        logs: list[LogRecord],
        labels: dict[str, str],
        parent: QWidget | None = None,
        files: list[FileRecord] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ExecutionViewer")
        self.setWindowTitle(f"Run {str(record.id)[:8]} — {record.status}")
        self.resize(900, 560)
        self.record = record
        summary = (
            f"<b>{record.status}</b> · {record.trigger_type or 'manual'} · started "
            f"{_when(record.started_at)} · {format_duration(record.duration_ms)}"
        )
        self.summary = QLabel(summary, self)
        self.error = QLabel(record.error_message or "", self)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setVisible(bool(record.error_message))
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tabs = QTabWidget(self)
        self.log_view = LogView(self)
        self.log_view.set_nodes(labels.items())
        self.log_view.append_lines(log_lines(logs, labels))
        self.tabs.addTab(self.log_view, f"Logs ({len(logs)})")

        outputs: dict[str, Any] = record.output_data if isinstance(record.output_data, dict) else {}
        output_page = QSplitter(self)
        self.node_list = QListWidget(output_page)
        self.output_text = QPlainTextEdit(output_page)
        self.output_text.setReadOnly(True)
        for node_id in outputs:
            item = QListWidgetItem(labels.get(node_id, node_id))
            item.setData(ID_ROLE, node_id)
            self.node_list.addItem(item)
        self.outputs = outputs
        self.node_list.currentItemChanged.connect(self._show_output)
        output_page.setSizes([220, 680])
        self.tabs.addTab(output_page, f"Outputs ({len(outputs)})")
        if self.node_list.count():
            self.node_list.setCurrentRow(0)

        self.files: list[FileRecord] = list(files or [])
        files_page = QWidget(self)
        self.file_list = QListWidget(files_page)
        self.file_list.setObjectName("executionFiles")
        for index, record in enumerate(self.files):
            item = QListWidgetItem(file_item_text(record))
            item.setData(ID_ROLE, index)
            item.setToolTip(record.storage_path)
            if not record.exists:
                item.setForeground(_brush("#8b949e"))
            self.file_list.addItem(item)
        self.file_status = QLabel(files_page)
        self.file_status.setWordWrap(True)
        self.open_file_button = QPushButton("Open file", files_page)
        self.open_file_button.setEnabled(bool(self.files))
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_status, 1)
        file_row.addWidget(self.open_file_button)
        files_layout = QVBoxLayout(files_page)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_list)
        files_layout.addLayout(file_row)
        if not self.files:
            self.file_status.setText("This run produced no files.")
        else:
            self.file_list.setCurrentRow(0)
        self.file_list.itemDoubleClicked.connect(self.open_file)
        self.open_file_button.clicked.connect(lambda: self.open_file())
        self.tabs.addTab(files_page, f"Files ({len(self.files)})")

        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addWidget(self.tabs)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)

    def _show_output(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is None:
            self.output_text.clear()
            return
        value = self.outputs.get(item.data(ID_ROLE))
        self.output_text.setPlainText(json.dumps(value, indent=2, ensure_ascii=False))

    def file_names(self) -> list[str]:
        """The listed files' names, in the order the run recorded them."""
        return [record.filename for record in self.files]

    def open_file(self, item: QListWidgetItem | None = None) -> bool:
        """Open ``item``'s file (else the selected one) with the system's application.

        Returns whether it was handed to the system; a file gone from disk is not, and
        the viewer says so.
        """
        item = item or self.file_list.currentItem()
        if item is None:
            return False
        record = self.files[item.data(ID_ROLE)]
        if not record.exists:
            self.file_status.setText(f"{record.filename} is no longer at {record.storage_path}")
            return False
        if not open_with_system(QUrl.fromLocalFile(record.storage_path)):
            self.file_status.setText(f"No application could open {record.filename}")
            return False
        self.file_status.setText(f"Opened {record.filename}")
        return True

    def show_node_output(self, node_id: str) -> str:
        """Select ``node_id`` in the outputs tab; returns the JSON text shown."""
        for row in range(self.node_list.count()):
            if self.node_list.item(row).data(ID_ROLE) == node_id:
                self.node_list.setCurrentRow(row)
                self.tabs.setCurrentIndex(1)
        return self.output_text.toPlainText()


class ExecutionsDock(QDockWidget):
    """The open workflow's runs, newest first."""

    message = Signal(str)
    viewerOpened = Signal(object)

    def __init__(self, db: Database, user_id: uuid.UUID, parent: QWidget | None = None) -> None:
        super().__init__("Executions", parent)
        self.setObjectName("ExecutionsDock")
        self.db = db
        self.user_id = user_id
        self.workflow_id: uuid.UUID | None = None
        self.labels: dict[str, str] = {}
        self.runs: list[ExecutionSummary] = []
        self.viewer: ExecutionViewer | None = None

        widgets = build_record_list(
            self,
            tree_name="executionsTree",
            headers=["Status", "Trigger", "Started", "Duration"],
            status_text="",
            action_text="Open",
            on_action=self.open_selected,
            on_refresh=self.refresh,
        )
        self.tree = widgets.tree
        self.status = widgets.status
        self.open_button = widgets.action_button
        self.refresh_button = widgets.refresh_button
        # Cancel a run stored as waiting (a long Wait node; engine/waits.py).
        self.cancel_button = QPushButton("Cancel wait", self.tree.parentWidget())
        self.cancel_button.setObjectName("cancelWaitButton")
        self.cancel_button.setToolTip("Cancel the selected waiting run: it never resumes")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_selected)
        row = self.tree.parentWidget().layout().itemAt(1).layout()
        row.insertWidget(1, self.cancel_button)
        self.tree.currentItemChanged.connect(lambda *_: self._update_cancel())
        self.set_workflow(None)

    def set_workflow(
        self, workflow_id: uuid.UUID | None, labels: dict[str, str] | None = None
    ) -> None:
        """Show the runs of ``workflow_id`` (None: an unsaved workflow has none)."""
        self.workflow_id = workflow_id
        if labels is not None:
            self.labels = labels
        self.refresh()

    def refresh(self) -> None:
        """Reload the runs from the database."""
        self.tree.clear()
        self.runs = []
        if self.workflow_id is None:
            self.status.setText(EMPTY_UNSAVED)
            self.open_button.setEnabled(False)
            return
        try:
            with self.db.session() as session:
                self.runs = ExecutionRepository(session, self.user_id).list_for_workflow(
                    self.workflow_id
                )
        except Exception as exc:
            self.status.setText(f"Cannot list runs: {error_line(exc)}")
            self.open_button.setEnabled(False)
            return
        for run in self.runs:
            item = QTreeWidgetItem(
                [
                    run.status,
                    run.trigger_type or "manual",
                    _when(run.started_at or run.created_at),
                    format_duration(run.duration_ms),
                ]
            )
            item.setData(0, ID_ROLE, run.id)
            color = STATUS_COLORS.get(run.status)
            if color:
                item.setForeground(0, _brush(color))
            if run.error_message:
                item.setToolTip(0, run.error_message)
            self.tree.addTopLevelItem(item)
        count = len(self.runs)
        self.status.setText(f"{count} run{'s' if count != 1 else ''}" if count else EMPTY_SAVED)
        self.open_button.setEnabled(bool(self.runs))
        if self.runs:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def _update_cancel(self) -> None:
        item = self.tree.currentItem()
        self.cancel_button.setEnabled(item is not None and item.text(0) == "waiting")

    def cancel_selected(self) -> bool:
        """Cancel the selected run if it is waiting; True when it was cancelled."""
        from glyphic_desktop.engine.waits import cancel_waiting

        item = self.tree.currentItem()
        if item is None or item.text(0) != "waiting":
            return False
        execution_id = item.data(0, ID_ROLE)
        try:
            done = cancel_waiting(self.db, execution_id, self.user_id)
        except Exception as exc:
            done, text = False, f"Cannot cancel the run: {error_line(exc)}"
        else:
            text = "Waiting run cancelled" if done else "The run is not waiting any more"
        self.message.emit(text)
        self.refresh()
        self.status.setText(text)
        return done

    def statuses(self) -> list[str]:
        """The listed runs' statuses, newest first."""
        return [run.status for run in self.runs]

    def open_selected(self) -> ExecutionViewer | None:
        """Open the selected run in a viewer (returned; also kept as ``viewer``)."""
        item = self.tree.currentItem()
        if item is None:
            return None
        execution_id = item.data(0, ID_ROLE)
        try:
            with self.db.session() as session:
                repo = ExecutionRepository(session, self.user_id)
                record = repo.get(execution_id)
                logs = repo.logs(execution_id)
                files = FileRepository(session, self.user_id).list_for_execution(execution_id)
        except Exception as exc:
            text = f"Cannot open the run: {error_line(exc)}"
            self.status.setText(text)
            self.message.emit(text)
            return None
        self.viewer = ExecutionViewer(record, logs, self.labels, self, files=files)
        self.viewer.show()
        self.viewerOpened.emit(self.viewer)
        return self.viewer


def _brush(color: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(color))
