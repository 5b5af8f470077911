"""The window's real question boxes, answered with real clicks."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from glyphic_desktop.ui.drafts import Draft
from glyphic_desktop.ui.main_window import Prompts


def _answer(qtbot, button: QMessageBox.StandardButton) -> None:
    def click() -> None:
        boxes = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        ]
        if not boxes:
            QTimer.singleShot(20, click)
            return
        boxes[0].button(button).click()

    QTimer.singleShot(20, click)


def test_unsaved_changes_box(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    prompts = Prompts(parent)
    for button, answer in (
        (QMessageBox.StandardButton.Save, "save"),
        (QMessageBox.StandardButton.Discard, "discard"),
        (QMessageBox.StandardButton.Cancel, "cancel"),
    ):
        _answer(qtbot, button)
        assert prompts.unsaved_changes("Flow") == answer


def test_offer_draft_box(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    prompts = Prompts(parent)
    draft = Draft(key="k", document={}, name="Lost work", saved_at="2026-01-01T00:00:00+00:00")
    _answer(qtbot, QMessageBox.StandardButton.Yes)
    assert prompts.offer_draft(draft) is True
    _answer(qtbot, QMessageBox.StandardButton.No)
    assert prompts.offer_draft(draft) is False


def test_error_box_shows_details(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    seen = []

    def look() -> None:
        boxes = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        ]
        if not boxes:
            QTimer.singleShot(20, look)
            return
        seen.append((boxes[0].text(), boxes[0].detailedText()))
        boxes[0].button(QMessageBox.StandardButton.Ok).click()

    QTimer.singleShot(20, look)
    Prompts(parent).error("Title", "Something failed", "line 1\nline 2")
    assert seen == [("Something failed", "line 1\nline 2")]
