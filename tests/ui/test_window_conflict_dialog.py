"""The conflict dialog itself: three ways out and Cancel, chosen with real clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer

from glyphic_desktop.ui.conflict_dialog import ConflictChoice, ConflictDialog


@pytest.mark.parametrize(
    ("button", "choice"),
    [
        ("reload_button", ConflictChoice.RELOAD),
        ("overwrite_button", ConflictChoice.OVERWRITE),
        ("copy_button", ConflictChoice.SAVE_AS_COPY),
        ("cancel_button", ConflictChoice.CANCEL),
    ],
)
def test_each_button_gives_its_choice(qtbot, button, choice):
    dialog = ConflictDialog("Flow", 2, 5)
    qtbot.addWidget(dialog)
    assert "version 2" in dialog.text() and "version 5" in dialog.text()

    def click() -> None:
        widget = getattr(dialog, button)
        if not widget.isVisible():
            QTimer.singleShot(20, click)
            return
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)

    QTimer.singleShot(20, click)
    assert dialog.ask() is choice


def test_escape_cancels(qtbot):
    dialog = ConflictDialog("Flow", 1, 2)
    qtbot.addWidget(dialog)

    def escape() -> None:
        if not dialog.isVisible():
            QTimer.singleShot(20, escape)
            return
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(20, escape)
    assert dialog.ask() is ConflictChoice.CANCEL
