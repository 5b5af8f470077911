"""The expression editor of a field in Expression mode: completion and a live preview.

:class:`ExpressionEditor` is a one-line (or multi-line) text box with the ``{{ … }}``
highlighter, a :class:`QCompleter` that offers the names an expression sees (``input``,
``inputs``, ``nodes``, …), node labels after ``nodes.`` and the keys of the recorded data
after ``input.`` / ``nodes.<label>.<port>.`` (from the run shown: its schema), and a
preview line under it: the value the expression renders to against that run's data,
or the error in red with where it is. Rendering uses the engine's renderer
(``engine/expressions.py``) under a short budget of its own, so a heavy expression
cannot hold the window. ``committed`` is emitted on Enter (Ctrl+Enter when multi-line),
on focus out and after a drop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCompleter,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.ui.data_models import compact, completion_keys

#: The names every expression sees (``engine/expressions.py``).
TOP_NAMES = ("input", "inputs", "nodes", "execution", "now", "env")
PREVIEW_BUDGET_S = 0.25
_PATH_BEFORE = re.compile(
    r"(?P<base>\b(?:input|inputs|nodes|execution|env)"
    r"(?:\.[A-Za-z_]\w*|\[[^\[\]]*\])*)\.(?P<part>\w*)$"
)
_NAME_BEFORE = re.compile(r"(?:\{\{|[\s(,+\-*/])\s*(?P<part>[A-Za-z_]\w*)$")
ContextProvider = Callable[[], Mapping[str, Any] | None]


def preview(text: str, context: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(ok, what ``text`` renders to against ``context`` or the error) in one line."""
    if context is None:
        return True, "Run the workflow to preview with its data"
    from glyphic_desktop.engine.expressions import make_budget, render_string
    from glyphic_desktop.engine.limits import activate

    previous = activate(make_budget(timeout=PREVIEW_BUDGET_S))
    try:
        value = render_string(text, context, "preview")
    except Exception as exc:
        return False, _error_text(text, exc)
    finally:
        activate(previous)
    if isinstance(value, str):
        return True, value if len(value) <= 200 else value[:199] + "…"
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        shown = compact(value, 200)
    return True, shown if len(shown) <= 200 else shown[:199] + "…"


def _error_text(text: str, exc: BaseException) -> str:
    """The error with its position: the line and column of a syntax error."""
    message = str(exc).replace("field 'preview': ", "")
    from jinja2 import Environment, TemplateSyntaxError

    try:
        Environment().parse(text)
    except TemplateSyntaxError as syntax:
        line = syntax.lineno or 1
        start = text.find("{{")
        lines = text.splitlines() or [text]
        column = (lines[line - 1].find("{{") + 1) if line <= len(lines) else start + 1
        return f"line {line}, column {max(column, 1)}: {syntax.message}"
    except Exception:  # the render's own message stands
        pass
    if "{{" in text:
        return f"at column {text.find('{{') + 1}: {message}"
    return message


def completions(text: str, context: Mapping[str, Any] | None) -> tuple[str, list[str]]:
    """(the partial word before the cursor, what may complete it) for ``text`` (the text
    up to the cursor), from the names an expression sees and the keys of ``context``'s data."""
    start = text.rfind("{{")
    if start < 0 or "}}" in text[start:]:
        return "", []
    match = _PATH_BEFORE.search(text)
    if match:
        base, part = match.group("base"), match.group("part")
        if context is None:
            return part, []
        if base == "nodes":
            nodes = context.get("nodes")
            by_label = getattr(nodes, "_by_label", {}) or {}
            return part, sorted(by_label)
        value = _evaluate(base, context)
        return part, completion_keys(value)
    match = _NAME_BEFORE.search(text)
    if match:
        return match.group("part"), list(TOP_NAMES)
    if text.rstrip().endswith("{{"):
        return "", list(TOP_NAMES)
    return "", []


def _evaluate(path: str, context: Mapping[str, Any]) -> Any:
    from glyphic_desktop.engine.expressions import make_budget, render_string
    from glyphic_desktop.engine.limits import activate

    previous = activate(make_budget(timeout=PREVIEW_BUDGET_S))
    try:
        return render_string("{{ " + path + " }}", context, "completion")
    except Exception:
        return None
    finally:
        activate(previous)


class _ExpressionText(QPlainTextEdit):
    """The text box: Enter commits unless the completer's list is open."""

    committed = Signal()

    def __init__(self, multiline: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.multiline = multiline
        self.completer: QCompleter | None = None
        self.setTabChangesFocus(True)
        if not multiline:
            self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setFixedHeight(self.fontMetrics().height() + 12)
        else:
            self.setMinimumHeight(self.fontMetrics().height() * 4)

    def keyPressEvent(self, event: Any) -> None:
        """Keys for the completer while its list is open; Enter commits otherwise."""
        popup = self.completer.popup() if self.completer is not None else None
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Tab)
        if popup is not None and popup.isVisible() and event.key() in keys:
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            not self.multiline or event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.committed.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        """Leaving the box commits (not when focus went to the completer's list)."""
        popup = self.completer.popup() if self.completer is not None else None
        if popup is None or not popup.isVisible():
            self.committed.emit()
        super().focusOutEvent(event)

    def dropEvent(self, event: Any) -> None:
        """A dropped field (from the Data dock) goes in at the drop point and commits."""
        super().dropEvent(event)
        self.setFocus()
        self.committed.emit()


class ExpressionEditor(QWidget):
    """An expression's text box with completion and a live preview (see the module)."""

    committed = Signal(str)

    def __init__(
        self,
        multiline: bool = False,
        parent: QWidget | None = None,
        text_box: QPlainTextEdit | None = None,
    ) -> None:
        super().__init__(parent)
        from glyphic_desktop.ui.forms import ExpressionHighlighter

        self.context_provider: ContextProvider | None = None
        #: ``text_box`` given: a text field's own box (already highlighted and
        #: committing); this widget adds the completion and the preview line under it.
        self.shared_box = text_box is not None
        if text_box is None:
            text_box = _ExpressionText(multiline, self)
            text_box.setObjectName("expressionText")
            ExpressionHighlighter(text_box.document())
        self.text_box = text_box
        self.preview_label = QLabel(self)
        self.preview_label.setObjectName("expressionPreview")
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_ok = True
        self.completer = QCompleter(QStringListModel([], self), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setWidget(self.text_box)
        self.completer.activated.connect(self.insert_completion)
        self.text_box.completer = self.completer  # type: ignore[attr-defined]
        self._partial = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        if not self.shared_box:
            layout.addWidget(self.text_box)
            self.text_box.committed.connect(lambda: self.committed.emit(self.text()))
        layout.addWidget(self.preview_label)
        self.text_box.textChanged.connect(self._changed)

    # -- text ----------------------------------------------------------------------------

    def text(self) -> str:
        """The expression text."""
        return self.text_box.toPlainText()

    def set_text(self, text: str) -> None:
        """Show ``text`` (no commit) and preview it."""
        if self.text_box.toPlainText() != text:
            self.text_box.blockSignals(True)
            self.text_box.setPlainText(text)
            self.text_box.blockSignals(False)
            self.text_box.moveCursor(QTextCursor.MoveOperation.End)
        self.text_box.document().clearUndoRedoStacks()
        self.update_preview()

    def context(self) -> Mapping[str, Any] | None:
        """The names the preview renders with (None: no run to preview with)."""
        provider = self.context_provider
        if provider is None:
            return None
        try:
            return provider()
        except Exception:  # a broken provider must not break typing
            return None

    # -- preview and completion ----------------------------------------------------------

    def _changed(self) -> None:
        if self.shared_box and self.isHidden():
            return  # a text field in Fixed mode
        self.update_preview()
        if self.text_box.hasFocus():
            self.update_completions()

    def update_preview(self) -> None:
        """Render the text against the run's data and show the value or the error."""
        ok, shown = preview(self.text(), self.context())
        self.preview_ok = ok
        self.preview_label.setText(("= " if ok else "⚠ ") + shown)
        self.preview_label.setStyleSheet("color: #8b949e;" if ok else "color: #e5534b;")

    def preview_text(self) -> str:
        """The preview line as shown (``= value`` or ``⚠ error``)."""
        return self.preview_label.text()

    def update_completions(self) -> list[str]:
        """Offer what may follow the cursor (the list opens when there is something)."""
        cursor = self.text_box.textCursor()
        before = self.text()[: cursor.position()]
        partial, words = completions(before, self.context())
        self._partial = partial
        model = self.completer.model()
        model.setStringList(words)  # type: ignore[attr-defined]
        if not words:
            self.completer.popup().hide()
            return []
        self.completer.setCompletionPrefix(partial)
        if self.completer.completionCount() == 0:
            self.completer.popup().hide()
            return []
        rect = self.text_box.cursorRect()
        rect.setWidth(220)
        self.completer.complete(rect)
        return words

    def insert_completion(self, word: str) -> None:
        """Replace the partial word before the cursor by ``word``."""
        cursor = self.text_box.textCursor()
        for _ in range(len(self._partial)):
            cursor.deletePreviousChar()
        if not (word.isidentifier()):
            cursor.deletePreviousChar()  # the dot: ``nodes['odd label']``
            word = f"[{json.dumps(word)}]"
        cursor.insertText(word)
        self.text_box.setTextCursor(cursor)
        self._partial = ""
