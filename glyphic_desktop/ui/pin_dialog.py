"""The "Set output" dialog: type or paste JSON to pin as a node's output.

The text must be a JSON object of output ports (``{"output": [...]}``); a list or a
scalar is taken as the value of the node's first output port. :func:`parse_pinned`
says what is wrong in one line (with line and column for bad JSON); OK stays disabled
until the text is valid.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


def parse_pinned(text: str, ports: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """(pinned data, None) for valid ``text``, else (None, the problem in one line)."""
    if not text.strip():
        return None, "Type the output as JSON"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if isinstance(value, dict) and value and set(value) <= set(ports):
        return value, None
    if not ports:
        return None, "This node has no output port to pin"
    if isinstance(value, dict) and set(value) & set(ports):
        unknown = ", ".join(sorted(set(value) - set(ports)))
        return None, f"Unknown output port(s): {unknown} (the node has {', '.join(ports)})"
    return {ports[0]: value}, None


class PinDialog(QDialog):
    """Edit a node's pinned output as JSON (validated as you type)."""

    def __init__(
        self, label: str, ports: list[str], current: Any = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("PinDialog")
        self.setWindowTitle(f"Set output of {label}")
        self.ports = list(ports)
        self.value: dict[str, Any] | None = None
        hint = QLabel(
            "The node's output as JSON: an object of ports "
            f"({', '.join(self.ports) or 'none'}), or a value for "
            f"“{self.ports[0] if self.ports else ''}”. The node will not run; this flows on.",
            self,
        )
        hint.setWordWrap(True)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("pinText")
        if current is not None:
            self.editor.setPlainText(json.dumps(current, indent=2, ensure_ascii=False))
        self.error = QLabel(self)
        self.error.setObjectName("fieldError")
        self.error.setStyleSheet("color: #e5534b;")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.editor.textChanged.connect(self._validate)
        self.resize(520, 420)
        self._validate()

    def _validate(self) -> None:
        self.value, problem = parse_pinned(self.editor.toPlainText(), self.ports)
        self.error.setText(problem or "")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None)

    def accept(self) -> None:
        """Close only with valid JSON."""
        if self.value is not None:
            super().accept()
