"""The save-conflict dialog: the stored workflow is newer than the version being edited.

Offers three ways out and never a silent overwrite: **Reload** (drop these edits and
load the stored version), **Overwrite** (save these edits as a new version on top of the
stored one), **Save as copy** (store these edits as a new workflow). Cancel keeps
editing with nothing saved.
"""

from __future__ import annotations

import enum

from PySide6.QtWidgets import QMessageBox, QWidget


class ConflictChoice(enum.StrEnum):
    """What the user chose."""

    RELOAD = "reload"
    OVERWRITE = "overwrite"
    SAVE_AS_COPY = "copy"
    CANCEL = "cancel"


class ConflictDialog(QMessageBox):
    """Asks how to resolve a save over a newer stored version."""

    def __init__(
        self, name: str, base_version: int, stored_version: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ConflictDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Workflow changed elsewhere")
        self.setText(
            f"“{name}” was saved elsewhere since you opened it: you edited version "
            f"{base_version}, the stored one is version {stored_version}."
        )
        self.setInformativeText(
            "Reload drops your changes and loads the stored version. Overwrite saves your "
            "changes as a new version on top of it. Save as copy keeps both."
        )
        self.reload_button = self.addButton("Reload", QMessageBox.ButtonRole.DestructiveRole)
        self.overwrite_button = self.addButton("Overwrite", QMessageBox.ButtonRole.AcceptRole)
        self.copy_button = self.addButton("Save as copy", QMessageBox.ButtonRole.ActionRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.copy_button)
        self.setEscapeButton(self.cancel_button)

    def choice(self) -> ConflictChoice:
        """The choice made by the button that closed the dialog."""
        clicked = self.clickedButton()
        if clicked is self.reload_button:
            return ConflictChoice.RELOAD
        if clicked is self.overwrite_button:
            return ConflictChoice.OVERWRITE
        if clicked is self.copy_button:
            return ConflictChoice.SAVE_AS_COPY
        return ConflictChoice.CANCEL

    def ask(self) -> ConflictChoice:
        """Show the dialog modally and return the choice."""
        self.exec()
        return self.choice()
