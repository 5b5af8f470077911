"""The generated node form: one editor per field kind, inline validation, expressions."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from glyphic_desktop.ui.forms import (
    EXPRESSION_RE,
    ExpressionHighlighter,
    FieldKind,
    NodeForm,
    field_specs,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class SampleFields(BaseModel):
    url: str = Field(min_length=1, description="Where to send it")
    body: str = ""
    count: int = Field(default=3, ge=1, le=10)
    ratio: float = Field(default=0.5, ge=0, le=1)
    enabled: bool = True
    method: Literal["GET", "POST"] = "GET"
    color: Color = Color.RED
    headers: dict[str, str] = Field(default_factory=dict)
    recipients: list[str] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)
    note: str | None = Field(default=None, json_schema_extra={"widget": "textarea"})


def _form(qtbot, values=None):
    form = NodeForm(SampleFields, values or {"url": "https://example.test"})
    qtbot.addWidget(form)
    with qtbot.waitActive(form):
        form.show()
        form.activateWindow()
    edits: list[tuple[str, object]] = []
    form.fieldEdited.connect(lambda name, value: edits.append((name, value)))
    return form, edits


def test_specs_pick_one_kind_per_field():
    kinds = {spec.name: spec.kind for spec in field_specs(SampleFields)}
    assert kinds == {
        "url": FieldKind.TEXT,
        "body": FieldKind.MULTILINE,
        "count": FieldKind.INTEGER,
        "ratio": FieldKind.NUMBER,
        "enabled": FieldKind.BOOLEAN,
        "method": FieldKind.CHOICE,
        "color": FieldKind.CHOICE,
        "headers": FieldKind.JSON,
        "recipients": FieldKind.LIST,
        "ports": FieldKind.LIST,
        "note": FieldKind.MULTILINE,
    }
    count = next(spec for spec in field_specs(SampleFields) if spec.name == "count")
    assert (count.minimum, count.maximum, count.default) == (1, 10, 3)


def test_widgets_per_kind_and_ranges(qtbot):
    form, _ = _form(qtbot)
    assert isinstance(form.editors["count"].input, QSpinBox)
    assert form.editors["count"].input.minimum() == 1
    assert form.editors["count"].input.maximum() == 10
    assert isinstance(form.editors["ratio"].input, QDoubleSpinBox)
    assert isinstance(form.editors["enabled"].input, QCheckBox)
    method = form.editors["method"].input
    assert isinstance(method, QComboBox)
    assert [method.itemText(i) for i in range(method.count())] == ["GET", "POST"]
    color = form.editors["color"].input
    assert [color.itemData(i) for i in range(color.count())] == ["red", "blue"]
    assert form.editors["url"].input.toPlainText() == "https://example.test"


def test_text_edit_commits_on_enter(qtbot):
    form, edits = _form(qtbot)
    url = form.editors["url"].input
    url.setFocus()
    url.selectAll()
    qtbot.keyClicks(url, "https://other.test")
    assert edits == []  # nothing committed while typing
    qtbot.keyClick(url, Qt.Key.Key_Return)
    assert edits == [("url", "https://other.test")]


def test_required_text_shows_inline_error(qtbot):
    form, edits = _form(qtbot)
    url = form.editors["url"].input
    url.setFocus()
    url.selectAll()
    qtbot.keyClick(url, Qt.Key.Key_Delete)
    qtbot.keyClick(url, Qt.Key.Key_Return)
    assert edits == [("url", "")]
    assert form.errors() == {"url": "Url is required"}
    assert form.editors["url"].error_label.isVisible()
    qtbot.keyClicks(url, "x")
    qtbot.keyClick(url, Qt.Key.Key_Return)
    assert form.errors() == {}


def test_number_checkbox_and_choice_edits(qtbot):
    form, edits = _form(qtbot)
    spin = form.editors["count"].input
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    box = form.editors["enabled"].input
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    combo = form.editors["method"].input
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert edits == [("count", 4), ("enabled", False), ("method", "POST")]


def test_spin_box_clamps_to_range(qtbot):
    form, edits = _form(qtbot, {"url": "u", "count": 10})
    spin = form.editors["count"].input
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert spin.value() == 10
    assert edits == []


def test_json_field_rejects_bad_json_inline(qtbot):
    form, edits = _form(qtbot)
    editor = form.editors["headers"]
    assert editor.input.toPlainText() == "{}"
    editor.input.setFocus()
    editor.input.selectAll()
    qtbot.keyClicks(editor.input, '{"a": ')
    qtbot.keyClick(editor.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert edits == []
    assert "not valid JSON" in form.errors()["headers"]
    qtbot.keyClicks(editor.input, '"b"}')
    qtbot.keyClick(editor.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert edits == [("headers", {"a": "b"})]
    assert "headers" not in form.errors()


def test_json_field_type_error_is_inline(qtbot):
    form, edits = _form(qtbot)
    editor = form.editors["headers"]
    editor.input.setFocus()
    editor.input.selectAll()
    qtbot.keyClicks(editor.input, "[1, 2]")
    qtbot.keyClick(editor.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert edits == [("headers", [1, 2])]
    assert "valid dictionary" in form.errors()["headers"]


def test_list_fields_one_item_per_line(qtbot):
    form, edits = _form(qtbot)
    recipients = form.editors["recipients"].input
    recipients.setFocus()
    qtbot.keyClicks(recipients, "a@x.test")
    qtbot.keyClick(recipients, Qt.Key.Key_Return)
    qtbot.keyClicks(recipients, "b@x.test")
    qtbot.keyClick(recipients, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert edits == [("recipients", ["a@x.test", "b@x.test"])]
    ports = form.editors["ports"].input
    ports.setFocus()
    qtbot.keyClicks(ports, "80")
    qtbot.keyClick(ports, Qt.Key.Key_Return)
    qtbot.keyClicks(ports, "http")
    qtbot.keyClick(ports, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert form.errors()["ports"] == "Ports: item 2 ('http') is not a number"
    assert len(edits) == 1


def test_focus_out_commits_multiline(qtbot):
    form, edits = _form(qtbot)
    body = form.editors["body"].input
    body.setFocus()
    qtbot.keyClicks(body, "line one")
    qtbot.keyClick(body, Qt.Key.Key_Return)
    qtbot.keyClicks(body, "line two")
    form.editors["url"].input.setFocus()
    qtbot.waitUntil(lambda: edits == [("body", "line one\nline two")])


def test_expression_is_not_type_checked(qtbot):
    spec = next(spec for spec in field_specs(SampleFields) if spec.name == "headers")
    assert spec.validate("{{ input.headers }}") is None
    assert spec.validate("nope") is not None


def test_set_values_does_not_emit(qtbot):
    form, edits = _form(qtbot)
    form.set_values({"url": "b", "count": 7, "enabled": False, "method": "POST"})
    assert edits == []
    assert form.editors["count"].input.value() == 7
    assert form.editors["method"].input.currentText() == "POST"


def test_expression_highlighter_formats_expressions(qtbot):
    form, _ = _form(qtbot, {"url": "https://x.test/{{ input.id }}/y"})
    editor = form.editors["url"].input
    block = editor.document().firstBlock()
    ranges = block.layout().formats()
    assert [(r.start, r.length) for r in ranges] == [(15, 14)]
    assert any(isinstance(child, ExpressionHighlighter) for child in editor.document().children())
    assert EXPRESSION_RE.findall("a {{ b }} c {{d}}") == ["{{ b }}", "{{d}}"]


@pytest.mark.parametrize("value", [None, "", 0])
def test_optional_field_accepts_empty(value):
    note = next(spec for spec in field_specs(SampleFields) if spec.name == "note")
    assert note.optional
    assert note.validate(None) is None
