"""Every modal question the editor asks, in one place (tests substitute their own).

The session (:mod:`glyphic_desktop.ui.session`) and the window ask through an object of
this shape; :class:`Prompts` answers with real dialogs.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from glyphic_desktop.ui.conflict_dialog import ConflictChoice, ConflictDialog
from glyphic_desktop.ui.drafts import Draft


class Prompts:
    """Every modal question the window asks (tests substitute their own answers)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        """A line of text, or None when cancelled."""
        value, ok = QInputDialog.getText(self.parent, title, label, text=text)
        return value.strip() if ok and value.strip() else None

    def unsaved_changes(self, name: str) -> str:
        """``save``, ``discard`` or ``cancel`` for a document with unsaved changes."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to “{name}”?")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {
            QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard",
        }.get(QMessageBox.StandardButton(answer), "cancel")

    def conflict(self, name: str, base_version: int, stored_version: int) -> ConflictChoice:
        """How to resolve a save over a newer stored version."""
        return ConflictDialog(name, base_version, stored_version, self.parent).ask()

    def offer_draft(self, draft: Draft) -> bool:
        """Whether to restore an autosaved draft found at start-up."""
        answer = QMessageBox.question(
            self.parent,
            "Recover unsaved work",
            f"Glyphic did not close cleanly. Restore the unsaved changes to “{draft.name}” "
            f"(autosaved {draft.saved_at})?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def error(self, title: str, text: str, details: str = "") -> None:
        """Show an error (``details``: the full list of problems)."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setDetailedText(details)
            box.setInformativeText(details if details.count("\n") < 12 else "")
        box.exec()

    def open_file(self, title: str) -> str | None:
        """A workflow file to read."""
        path, _ = QFileDialog.getOpenFileName(
            self.parent, title, "", "Workflow files (*.json);;All files (*)"
        )
        return path or None

    def save_file(self, title: str, suggested: str) -> str | None:
        """Where to write a workflow file."""
        path, _ = QFileDialog.getSaveFileName(
            self.parent, title, suggested, "Workflow files (*.json)"
        )
        return path or None
