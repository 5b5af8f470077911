"""Shared helpers of the window tests: a scripted Prompts and a window factory."""

from __future__ import annotations

from typing import Any

from glyphic_desktop.ui.conflict_dialog import ConflictChoice


class ScriptedPrompts:
    """Answers the window's questions from attributes; records every question asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []
        self.text_answers: list[str | None] = []
        self.unsaved_answer = "discard"
        self.conflict_answer = ConflictChoice.CANCEL
        self.draft_answer = True
        self.file_answer: str | None = None

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        self.asked.append(("ask_text", title))
        return self.text_answers.pop(0) if self.text_answers else None

    def unsaved_changes(self, name: str) -> str:
        self.asked.append(("unsaved_changes", name))
        return self.unsaved_answer

    def conflict(self, name: str, base_version: int, stored_version: int) -> ConflictChoice:
        self.asked.append(("conflict", (base_version, stored_version)))
        return self.conflict_answer

    def offer_draft(self, draft: Any) -> bool:
        self.asked.append(("offer_draft", draft.name))
        return self.draft_answer

    def error(self, title: str, text: str, details: str = "") -> None:
        self.asked.append(("error", (title, text, details)))

    def open_file(self, title: str) -> str | None:
        self.asked.append(("open_file", title))
        return self.file_answer

    def save_file(self, title: str, suggested: str) -> str | None:
        self.asked.append(("save_file", suggested))
        return self.file_answer

    def errors(self) -> list[tuple[str, str, str]]:
        return [value for kind, value in self.asked if kind == "error"]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.asked]


def make_window(qtbot, db, **kwargs):
    """A shown MainWindow with scripted prompts (closed by qtbot at teardown)."""
    from glyphic_desktop.ui.main_window import MainWindow

    window = MainWindow(db, **kwargs)
    window.prompts = ScriptedPrompts()
    qtbot.addWidget(window)
    with qtbot.waitExposed(window):
        window.show()
    return window


def build_chain(window, steps):
    """Add nodes ``[(type, fields), ...]`` left to right, wired output → input; their ids."""
    from PySide6.QtCore import QPointF

    from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand

    ids = []
    for index, (key, fields) in enumerate(steps):
        node_id = window.add_node(key, QPointF(index * 260.0, 0.0))
        for name, value in fields.items():
            window.undo_stack.push(SetFieldCommand(window.model, node_id, name, value))
        if ids:
            window.undo_stack.push(
                ConnectCommand(window.model, ids[-1], "output", node_id, "input")
            )
        ids.append(node_id)
    return ids
