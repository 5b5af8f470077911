"""The Versions dock: the open workflow's saved versions; restore one as an undoable edit.

Restoring does not write to the database: it replaces the graph in the editor with the
chosen snapshot — nodes, edges, groups, config and metadata — as one undo step
("Restore version N", a ``ReplaceDocumentCommand``), so it can be undone, and the next
save records it as a new version.
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QTreeWidgetItem,
    QWidget,
)

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.versions import VersionRepository, VersionSummary
from glyphic_desktop.ui.commands import ReplaceDocumentCommand
from glyphic_desktop.ui.docks.record_list import build_record_list
from glyphic_desktop.ui.error_text import error_line
from glyphic_desktop.ui.graph_model import GraphModel

VERSION_ROLE = Qt.ItemDataRole.UserRole


def restore_document(
    model: GraphModel, undo_stack: QUndoStack, document: WorkflowDocument, text: str
) -> None:
    """Replace the model's whole document (graph, config, metadata) with ``document``,
    as one undo step; the open workflow's id stays and id counters only grow."""
    undo_stack.push(ReplaceDocumentCommand(model, document, text))


class VersionsDock(QDockWidget):
    """History of the open workflow; restore is an undoable edit."""

    message = Signal(str)
    restored = Signal(int)

    def __init__(
        self,
        db: Database,
        user_id: uuid.UUID,
        model: GraphModel,
        undo_stack: QUndoStack,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Versions", parent)
        self.setObjectName("VersionsDock")
        self.db = db
        self.user_id = user_id
        self.model = model
        self.undo_stack = undo_stack
        self.workflow_id: uuid.UUID | None = None
        self.versions: list[VersionSummary] = []

        widgets = build_record_list(
            self,
            tree_name="versionsTree",
            headers=["Version", "Saved", "Change"],
            status_text="Save the workflow to start its history.",
            action_text="Restore",
            on_action=self.restore_selected,
            on_refresh=self.refresh,
        )
        self.tree = widgets.tree
        self.status = widgets.status
        self.restore_button = widgets.action_button
        self.restore_button.setToolTip(
            "Replace the graph with this version (undoable; the next save stores it)"
        )
        self.refresh_button = widgets.refresh_button
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def set_workflow(self, workflow_id: uuid.UUID | None) -> None:
        """Show the history of ``workflow_id`` (None: an unsaved workflow)."""
        self.workflow_id = workflow_id
        self.refresh()

    def refresh(self) -> None:
        """Reload the list from the database."""
        self.tree.clear()
        self.versions = []
        if self.workflow_id is None:
            self.status.setText("Save the workflow to start its history.")
            self._update_buttons()
            return
        try:
            with self.db.session() as session:
                self.versions = VersionRepository(session, self.user_id).list(self.workflow_id)
        except Exception as exc:
            self.status.setText(f"Cannot load the history: {error_line(exc)}")
            self._update_buttons()
            return
        for summary in self.versions:
            item = QTreeWidgetItem(
                [
                    str(summary.version),
                    summary.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                    summary.change_summary or "",
                ]
            )
            item.setData(0, VERSION_ROLE, summary.version)
            self.tree.addTopLevelItem(item)
        count = len(self.versions)
        self.status.setText(f"{count} version{'s' if count != 1 else ''}")
        self._update_buttons()

    def listed_versions(self) -> list[int]:
        """The listed version numbers, newest first."""
        return [summary.version for summary in self.versions]

    def select_version(self, version: int) -> bool:
        """Select ``version`` in the list; False when it is not listed."""
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.data(0, VERSION_ROLE) == version:
                self.tree.setCurrentItem(item)
                return True
        return False

    def _update_buttons(self) -> None:
        self.restore_button.setEnabled(self.tree.currentItem() is not None)

    def restore_selected(self) -> None:
        """Restore the selected version into the editor (one undoable edit)."""
        item = self.tree.currentItem()
        if item is None or self.workflow_id is None:
            return
        version = int(item.data(0, VERSION_ROLE))
        try:
            with self.db.session() as session:
                record = VersionRepository(session, self.user_id).get(self.workflow_id, version)
        except Exception as exc:
            text = f"Cannot load version {version}: {error_line(exc)}"
            self.status.setText(text)
            self.message.emit(text)
            return
        restore_document(self.model, self.undo_stack, record.document, f"Restore version {version}")
        self.status.setText(f"Restored version {version}; save to record it as a new version")
        self.message.emit(f"Restored version {version} (undo to go back)")
        self.restored.emit(version)
