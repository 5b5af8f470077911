"""Forms generated from a node type's pydantic ``Fields`` model (the inspector's body).

:func:`field_specs` reads a model into :class:`FieldSpec` records (one per field: its
kind, range, choices, default, help); :class:`NodeForm` builds one editor widget per
spec, shows each field's validation message inline under it, and emits
``fieldEdited(name, value)`` once per finished edit (Enter / focus out for text, each
change for checkboxes, choices and spin boxes). The form never writes the document: the
inspector turns each ``fieldEdited`` into an undoable command.

Every field can be switched between a fixed value and an expression (its ``Fixed`` /
``Expression`` toggle, ``mode-<name>``); a value holding ``{{ ... }}`` shows in
Expression mode, in an :class:`~glyphic_desktop.ui.expression_editor.ExpressionEditor`
(completion and a live preview from the last run's data, given by
:meth:`NodeForm.set_expression_context`). :class:`ExpressionHighlighter` colours
expressions. A value holding an expression is not type-checked here (the engine renders
it first and checks the type at run time), so ``{{ input.count }}`` is a valid value for
a number field. Dropping a field from the Data dock onto a field inserts the expression
that reads it.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

EXPRESSION_RE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
MULTILINE_NAMES = frozenset(
    {"body", "code", "script", "message", "messagebody", "template", "text", "command", "query"}
)
INT_LIMIT = 2**31 - 1
MISSING_VALUE = object()


class FieldKind(enum.StrEnum):
    """Which editor a field gets."""

    TEXT = "text"
    MULTILINE = "multiline"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    JSON = "json"
    LIST = "list"


@dataclass
class FieldSpec:
    """What the form needs to know about one field of a ``Fields`` model."""

    name: str
    kind: FieldKind
    title: str
    annotation: Any
    required: bool = False
    default: Any = None
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] = field(default_factory=list)
    optional: bool = False

    def validate(self, value: Any) -> str | None:
        """The one-line problem with ``value`` for this field, or None when it is valid."""
        if has_expression(value):
            return None
        if value is None or value == "":
            if self.required and not self.optional:
                return f"{self.title} is required"
            return None
        try:
            TypeAdapter(self.annotation).validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            return f"{self.title}: {first['msg']}"
        except Exception as exc:  # annotations pydantic cannot adapt alone
            return f"{self.title}: {exc}"
        return None


def has_expression(value: Any) -> bool:
    """Whether ``value`` is a string holding a ``{{ ... }}`` expression."""
    return isinstance(value, str) and "{{" in value


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(annotation)):
            return args[0], True
    return annotation, False


def _unwrap_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    minimum = maximum = None
    for meta in info.metadata:
        for attr, is_min, delta in (
            ("ge", True, 0),
            ("gt", True, 1),
            ("le", False, 0),
            ("lt", False, -1),
        ):
            value = getattr(meta, attr, None)
            if value is None:
                continue
            if is_min:
                minimum = value + delta if isinstance(value, int) and delta else value
            else:
                maximum = value + delta if isinstance(value, int) and delta else value
    return minimum, maximum


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _kind(name: str, annotation: Any, info: FieldInfo) -> tuple[FieldKind, list[Any]]:
    extra = _extra(info)
    widget = str(extra.get("widget", "")).lower()
    if widget == "json":
        return FieldKind.JSON, []
    if typing.get_origin(annotation) is Literal:
        return FieldKind.CHOICE, list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return FieldKind.CHOICE, [member.value for member in annotation]
    if annotation is bool:
        return FieldKind.BOOLEAN, []
    if annotation is int:
        return FieldKind.INTEGER, []
    if annotation is float:
        return FieldKind.NUMBER, []
    if annotation is str:
        multiline = widget in {"textarea", "multiline", "code"} or extra.get("multiline")
        if multiline or name.lower() in MULTILINE_NAMES:
            return FieldKind.MULTILINE, []
        return FieldKind.TEXT, []
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        if args and _unwrap_annotated(args[0]) in (str, int, float):
            return FieldKind.LIST, []
    return FieldKind.JSON, []


def field_specs(model: type[BaseModel]) -> list[FieldSpec]:
    """One :class:`FieldSpec` per field of ``model``, in declaration order."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        annotation, optional = _strip_optional(_unwrap_annotated(info.annotation))
        annotation = _unwrap_annotated(annotation)
        kind, choices = _kind(name, annotation, info)
        minimum, maximum = _bounds(info)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        specs.append(
            FieldSpec(
                name=name,
                kind=kind,
                title=info.title or name.replace("_", " ").capitalize(),
                annotation=info.annotation,
                required=info.is_required(),
                default=default,
                description=info.description or "",
                minimum=minimum,
                maximum=maximum,
                choices=choices,
                optional=optional,
            )
        )
    return specs


class ExpressionHighlighter(QSyntaxHighlighter):
    """Colours ``{{ ... }}`` expressions in a text document."""

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.format = QTextCharFormat()
        self.format.setForeground(QColor("#d08cff"))
        self.format.setBackground(QColor(208, 140, 255, 40))
        self.format.setFontWeight(QFont.Weight.Bold)

    def highlightBlock(self, text: str) -> None:
        """Format every expression in one block (line)."""
        for match in EXPRESSION_RE.finditer(text):
            self.setFormat(match.start(), match.end() - match.start(), self.format)


class _CommittingTextEdit(QPlainTextEdit):
    """A text editor that commits (``committed``) on Enter and when it loses focus.

    Where Enter is part of the text (``commit_needs_ctrl``), only Ctrl+Enter commits.
    Its own undo history holds only the typing since the last commit (the field clears
    it when it commits or loads a value): Ctrl+Z undoes that typing, and once there is
    none left it goes to the window's Undo (the model's history) instead of going back
    past text the model already has.
    """

    committed = Signal()
    commit_needs_ctrl: ClassVar[bool] = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)

    def event(self, event: Any) -> bool:
        """Let Undo / Redo reach the window when this field has nothing of its own."""
        if event.type() == QEvent.Type.ShortcutOverride:
            document = self.document()
            keys = QKeySequence.StandardKey
            undo = event.matches(keys.Undo) and not document.isUndoAvailable()
            redo = event.matches(keys.Redo) and not document.isRedoAvailable()
            if undo or redo:
                event.ignore()
                return False
        return super().event(event)

    def keyPressEvent(self, event: Any) -> None:
        """Enter (Ctrl+Enter where a newline is text) commits instead of inserting one."""
        completer = getattr(self, "completer", None)  # set in Expression mode
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Tab)
        if completer is not None and completer.popup().isVisible() and event.key() in keys:
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
            not self.commit_needs_ctrl or event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.committed.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        """Leaving the field commits (not when focus went to the completion list)."""
        completer = getattr(self, "completer", None)
        if completer is None or not completer.popup().isVisible():
            self.committed.emit()
        super().focusOutEvent(event)

    def dropEvent(self, event: Any) -> None:
        """A dropped expression goes in at the drop point and commits."""
        super().dropEvent(event)
        self.committed.emit()


class _LineEdit(_CommittingTextEdit):
    """A one-line text editor that can host a syntax highlighter (Enter commits)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        height = self.fontMetrics().height() + 12
        self.setFixedHeight(height)


class _MultiLineEdit(_CommittingTextEdit):
    """A multi-line editor committing on focus out or Ctrl+Enter."""

    commit_needs_ctrl = True

    def event(self, event: Any) -> bool:
        """Claim Ctrl+Enter before any window shortcut does."""
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
        ):
            event.accept()
            return True
        return super().event(event)  # Undo / Redo: see _CommittingTextEdit.event

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(self.fontMetrics().height() * 5)


class FieldEditor(QWidget):
    """One field's editor plus its inline error line.

    ``edited(value)`` is emitted when a finished edit changes the value; a JSON or list
    text that does not parse shows its error and emits nothing.

    An optional number (``int | None``, ``float | None``) shows an empty box for None and
    can be set back to None with its clear button (``clear_button``) or by emptying the
    text and pressing Enter or leaving the box.
    """

    edited = Signal(object)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._value: Any = None
        self._loading = False
        self._typed = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.clear_button: QToolButton | None = None
        self.input = self._build()
        self.input.setObjectName(f"field-{spec.name}")
        if spec.description:
            self.input.setToolTip(spec.description)
        from glyphic_desktop.ui.expression_editor import ExpressionEditor

        multiline = spec.kind in (FieldKind.MULTILINE, FieldKind.JSON, FieldKind.LIST)
        #: Text fields keep their own box in Expression mode (it adds completion and
        #: the preview); number, yes/no and choice fields get an expression box.
        self.text_kind = multiline or spec.kind is FieldKind.TEXT
        shared = self.input if self.text_kind else None
        self.expression = ExpressionEditor(multiline, self, text_box=shared)
        self.expression.setObjectName(f"expr-{spec.name}")
        self.expression.hide()
        self.expression.committed.connect(self._commit_expression)
        self.mode_button = QToolButton(self)
        self.mode_button.setObjectName(f"mode-{spec.name}")
        self.mode_button.setCheckable(True)
        self.mode_button.setText("Fixed")
        self.mode_button.setToolTip("Fixed value or expression: click to switch")
        self.mode_button.toggled.connect(self._mode_toggled)
        if not self.text_kind:
            self.setAcceptDrops(True)  # a dropped expression switches the field's mode
            self.input.setAcceptDrops(False)
            line_edit = getattr(self.input, "lineEdit", None)
            inner = line_edit() if callable(line_edit) else None
            if inner is not None:
                inner.setAcceptDrops(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.input, 1)
        if not self.text_kind:
            row.addWidget(self.expression, 1)
        if self._optional_number():
            self.clear_button = QToolButton(self)
            self.clear_button.setObjectName(f"clear-{spec.name}")
            self.clear_button.setText("×")
            self.clear_button.setToolTip(f"Clear {spec.title} (no value)")
            self.clear_button.clicked.connect(self.clear)
            row.addWidget(self.clear_button)
        row.addWidget(self.mode_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(row)
        if self.text_kind:
            layout.addWidget(self.expression)  # the preview line under the text
        self.error_label = QLabel(self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #e5534b;")
        self.error_label.hide()
        layout.addWidget(self.error_label)

    # -- construction ----------------------------------------------------------

    def _build(self) -> QWidget:
        kind = self.spec.kind
        if kind is FieldKind.BOOLEAN:
            box = QCheckBox(self)
            box.toggled.connect(lambda checked: self._commit(bool(checked)))
            return box
        if kind is FieldKind.CHOICE:
            combo = QComboBox(self)
            if self.spec.optional and None not in self.spec.choices:
                combo.addItem("—", None)
            for choice in self.spec.choices:
                combo.addItem(str(choice), choice)
            combo.currentIndexChanged.connect(lambda _i: self._commit(combo.currentData()))
            return combo
        if kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            spin: QSpinBox | QDoubleSpinBox
            if kind is FieldKind.INTEGER:
                spin = QSpinBox(self)
                spin.setRange(
                    int(self.spec.minimum) if self.spec.minimum is not None else -INT_LIMIT,
                    int(self.spec.maximum) if self.spec.maximum is not None else INT_LIMIT,
                )
            else:
                spin = QDoubleSpinBox(self)
                spin.setDecimals(3)
                spin.setRange(
                    float(self.spec.minimum) if self.spec.minimum is not None else -1e12,
                    float(self.spec.maximum) if self.spec.maximum is not None else 1e12,
                )
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(lambda value: self._commit(value))
            if self.spec.optional:
                spin.lineEdit().setPlaceholderText("empty")
                spin.lineEdit().textEdited.connect(self._mark_typed)
                spin.installEventFilter(self)
                spin.editingFinished.connect(self._commit_spin_text)
            return spin
        if kind is FieldKind.MULTILINE or kind is FieldKind.JSON or kind is FieldKind.LIST:
            edit = _MultiLineEdit(self)
            if kind is FieldKind.LIST:
                edit.setPlaceholderText("one item per line")
            elif kind is FieldKind.JSON:
                edit.setPlaceholderText("JSON")
            ExpressionHighlighter(edit.document())
            edit.committed.connect(self._commit_text)
            return edit
        line = _LineEdit(self)
        ExpressionHighlighter(line.document())
        line.committed.connect(self._commit_text)
        return line

    # -- optional numbers --------------------------------------------------------

    def _mark_typed(self, _text: str) -> None:
        self._typed = True

    def _optional_number(self) -> bool:
        return self.spec.optional and self.spec.kind in (FieldKind.INTEGER, FieldKind.NUMBER)

    def _spin_text(self) -> str:
        return self.input.lineEdit().text().strip()

    def clear(self) -> None:
        """Set an optional number to None (empty box); emits ``edited(None)`` if it changed."""
        if not self._optional_number():
            return
        self._typed = False
        self.input.lineEdit().clear()
        self._commit(None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """An optional number box emptied by the user commits None on Enter / focus out."""
        if watched is self.input and not self._loading and not self._spin_text():
            kind = event.type()
            if kind == QEvent.Type.KeyPress and event.key() in (
                Qt.Key.Key_Return,
                Qt.Key.Key_Enter,
            ):
                self.clear()
                return True
            if kind == QEvent.Type.FocusOut and self._typed:
                self.clear()
        return super().eventFilter(watched, event)

    def _commit_spin_text(self) -> None:
        """After Enter / focus out: a number typed into an empty optional box counts even
        when it equals the box's hidden value; an untouched empty box stays empty (Qt
        refills the text from the hidden value, so it is emptied again)."""
        if self._value is None:
            if self._typed and self._spin_text():
                self._commit(self.input.value())
            else:
                self.input.lineEdit().clear()
        self._typed = False

    # -- values ----------------------------------------------------------------

    def value(self) -> Any:
        """The value last set or committed."""
        return self._value

    # -- fixed / expression ----------------------------------------------------------

    def is_expression(self) -> bool:
        """Whether the field is in Expression mode."""
        return self.mode_button.isChecked()

    def _show_mode(self, expression: bool) -> None:
        self.mode_button.blockSignals(True)
        self.mode_button.setChecked(expression)
        self.mode_button.blockSignals(False)
        self.mode_button.setText("Expression" if expression else "Fixed")
        self.input.setVisible(not expression or self.text_kind)
        self.expression.setVisible(expression)
        if expression:
            self.expression.update_preview()
        if self.clear_button is not None:
            self.clear_button.setVisible(not expression)

    def set_mode(self, expression: bool) -> None:
        """Switch to Expression mode (the value becomes ``{{ value }}``) or back to a fixed
        value (the expression's previewed value when it fits the field, else the default);
        the new value is committed (one undo step)."""
        if expression == self.is_expression():
            return
        self._show_mode(expression)
        if expression:
            text = self._as_expression(self._value)
            if self.text_kind and text == self._value:
                self.expression.text_box.setFocus()  # text stays; completion and preview on
                return
            self.expression.set_text(text)
            self.expression.text_box.setFocus()
            self._commit(text)
            return
        value = self._fixed_from_expression()
        self.set_value(value)
        self._show_mode(False)
        self._value = MISSING_VALUE  # commit even when equal to the old text
        self._commit(value)

    def _mode_toggled(self, checked: bool) -> None:
        self._show_mode(not checked)  # set_mode switches for real
        self.set_mode(checked)

    def _as_expression(self, value: Any) -> str:
        if has_expression(value):
            return value
        if value is None or value == "":
            return "{{  }}"
        if self.text_kind and isinstance(value, str):
            return value
        return "{{ " + json.dumps(value) + " }}"

    def _fixed_from_expression(self) -> Any:
        context = self.expression.context()
        if context is not None and has_expression(self._value):
            from glyphic_desktop.engine.expressions import render_string

            try:
                rendered = render_string(self._value, context, self.spec.name)
            except Exception:
                rendered = None
            else:
                if self.spec.validate(rendered) is None and not has_expression(rendered):
                    return rendered
        if self.spec.kind in (FieldKind.TEXT, FieldKind.MULTILINE):
            return "" if self.spec.default is None else self.spec.default
        return self.spec.default

    def _commit_expression(self, text: str) -> None:
        if self._loading or not self.is_expression() or self.text_kind:
            return
        self._commit(text)

    def set_expression_context(self, provider: Any) -> None:
        """Where the live preview and completion get the run's data (``() -> names``)."""
        self.expression.context_provider = provider
        if self.is_expression():
            self.expression.update_preview()

    def dragEnterEvent(self, event: Any) -> None:
        """Accept a field dragged from the Data dock."""
        if event.mimeData().hasText() and "{{" in event.mimeData().text():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:
        """A dropped field switches a number / yes-no / choice field to that expression."""
        text = event.mimeData().text()
        if "{{" not in text:
            return
        event.acceptProposedAction()
        self._show_mode(True)
        self.expression.set_text(text)
        self._commit(text)

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting ``edited``."""
        self._loading = True
        try:
            self._value = value
            self._typed = False
            expression = has_expression(value) or (
                self.text_kind and self.is_expression() and isinstance(value, str)
            )
            self._show_mode(expression)
            if expression and not self.text_kind:
                self.expression.set_text(value)
                self.show_error(None)
                return
            widget = self.input
            kind = self.spec.kind
            if kind is FieldKind.BOOLEAN:
                widget.setChecked(bool(value))
            elif kind is FieldKind.CHOICE:
                index = widget.findData(value)
                widget.setCurrentIndex(index if index >= 0 else 0)
            elif kind in (FieldKind.INTEGER, FieldKind.NUMBER):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    widget.setValue(value)
                    if not widget.lineEdit().text():
                        widget.lineEdit().setText(widget.textFromValue(widget.value()))
                elif value is None and self.spec.optional:
                    widget.lineEdit().clear()
                elif value is None and self.spec.minimum is not None:
                    widget.setValue(self.spec.minimum)
            else:
                text = self._to_text(value)
                if widget.toPlainText() != text:
                    widget.setPlainText(text)
                widget.document().clearUndoRedoStacks()  # nothing before the model's text
            self.show_error(self.spec.validate(value))
        finally:
            self._loading = False

    def _to_text(self, value: Any) -> str:
        if value is None:
            return ""
        if self.spec.kind is FieldKind.JSON:
            return value if has_expression(value) else json.dumps(value, indent=2)
        if self.spec.kind is FieldKind.LIST:
            if isinstance(value, list | tuple):
                return "\n".join(str(item) for item in value)
            return str(value)
        return str(value)

    def _commit_text(self) -> None:
        if self._loading:
            return
        text = self.input.toPlainText()
        kind = self.spec.kind
        value: Any = text
        if kind is FieldKind.JSON and not has_expression(text):
            if not text.strip():
                value = None
            else:
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    self.show_error(
                        f"{self.spec.title}: not valid JSON "
                        f"(line {exc.lineno}, column {exc.colno}: {exc.msg})"
                    )
                    return
        elif kind is FieldKind.LIST:
            items = [line.strip() for line in text.splitlines() if line.strip()]
            value = self._coerce_list(items)
            if isinstance(value, str):
                self.show_error(value)
                return
        self._commit(value)
        if self._value == value:  # committed: undo in the field stops here
            self.input.document().clearUndoRedoStacks()

    def _coerce_list(self, items: list[str]) -> list[Any] | str:
        args = typing.get_args(_strip_optional(_unwrap_annotated(self.spec.annotation))[0])
        item_type = _unwrap_annotated(args[0]) if args else str
        if item_type in (int, float):
            out: list[Any] = []
            for index, item in enumerate(items):
                try:
                    out.append(item_type(item))
                except ValueError:
                    return f"{self.spec.title}: item {index + 1} ({item!r}) is not a number"
            return out
        return items

    def _commit(self, value: Any) -> None:
        if self._loading:
            return
        self.show_error(self.spec.validate(value))
        if value == self._value and type(value) is type(self._value):
            return
        self._value = value
        self.edited.emit(value)

    def show_error(self, message: str | None) -> None:
        """Show (or hide, with None) the inline validation message."""
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))
        self.input.setProperty("invalid", bool(message))
        self.input.style().unpolish(self.input)
        self.input.style().polish(self.input)

    def error(self) -> str | None:
        """The message shown under the field, or None."""
        return self.error_label.text() or None


class NodeForm(QWidget):
    """The generated form of one node's fields; emits ``fieldEdited(name, value)``."""

    fieldEdited = Signal(str, object)

    def __init__(
        self,
        model: type[BaseModel],
        values: dict[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.specs = field_specs(model)
        self.editors: dict[str, FieldEditor] = {}
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setContentsMargins(0, 0, 0, 0)
        for spec in self.specs:
            editor = FieldEditor(spec, self)
            editor.edited.connect(lambda value, name=spec.name: self.fieldEdited.emit(name, value))
            self.editors[spec.name] = editor
            label = QLabel(spec.title + (" *" if spec.required else ""), self)
            label.setBuddy(editor.input)
            layout.addRow(label, editor)
        self.set_values(values or {})

    def set_expression_context(self, provider: Any) -> None:
        """Give every field's expression editor the run data it previews with."""
        for editor in self.editors.values():
            editor.set_expression_context(provider)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (missing fields show their defaults) without emitting edits."""
        for spec in self.specs:
            self.editors[spec.name].set_value(values.get(spec.name, spec.default))

    def errors(self) -> dict[str, str]:
        """Every field's current inline message, by field name."""
        return {
            name: message
            for name, editor in self.editors.items()
            if (message := editor.error()) is not None
        }
