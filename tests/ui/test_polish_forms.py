"""Optional number fields (``float | None``, ``int | None``) can go back to empty (None),
by the clear button or by emptying the box, through the undo stack."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.base import NodeType
from glyphic_desktop.ui.commands import add_node_command
from glyphic_desktop.ui.docks.inspector import InspectorDock
from glyphic_desktop.ui.forms import FieldKind, NodeForm, field_specs
from glyphic_desktop.ui.graph_model import GraphModel

from .conftest import SmallRegistry

LEFT = Qt.MouseButton.LeftButton


class LimitFields(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=100)
    ratio: float | None = 0.5
    count: int = 3


class LimitNode(NodeType):
    key = "test.limit"
    title = "Limit"
    category = "Test"
    Fields = LimitFields


def _inspector(qtbot):
    model = GraphModel(WorkflowDocument(), registry=SmallRegistry(LimitNode))
    stack = QUndoStack()
    dock = InspectorDock(model, stack)
    qtbot.addWidget(dock)
    dock.resize(380, 600)
    with qtbot.waitActive(dock):
        dock.show()
        dock.activateWindow()
    command = add_node_command(model, "test.limit", (0, 0))
    stack.push(command)
    node_id = command.node_ids[0]
    dock.show_node(node_id)
    return model, stack, dock, node_id


def _type_into(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.lineEdit().selectAll()
    if text:
        qtbot.keyClicks(spin, text)
    else:
        qtbot.keyClick(spin, Qt.Key.Key_Delete)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_optional_numbers_get_a_clear_button_required_ones_do_not(qtbot) -> None:
    specs = {spec.name: spec for spec in field_specs(LimitFields)}
    assert (specs["limit"].kind, specs["limit"].optional) == (FieldKind.INTEGER, True)
    assert (specs["ratio"].kind, specs["ratio"].optional) == (FieldKind.NUMBER, True)
    form = NodeForm(LimitFields, {"limit": None, "ratio": 0.5, "count": 3})
    qtbot.addWidget(form)
    assert isinstance(form.editors["limit"].input, QSpinBox)
    assert isinstance(form.editors["ratio"].input, QDoubleSpinBox)
    assert form.editors["limit"].clear_button is not None
    assert form.editors["count"].clear_button is None
    # None shows as an empty box.
    assert form.editors["limit"].input.lineEdit().text() == ""
    assert form.editors["limit"].input.lineEdit().placeholderText() == "empty"
    assert form.editors["ratio"].input.lineEdit().text() != ""


def test_clear_button_sets_none_through_the_undo_stack(qtbot) -> None:
    model, stack, dock, node_id = _inspector(qtbot)
    fields = model.node(node_id).data.fields
    ratio = dock.panel.form.editors["ratio"]
    assert fields["ratio"] == 0.5
    entries = stack.count()
    qtbot.mouseClick(ratio.clear_button, LEFT)
    assert fields["ratio"] is None
    assert stack.count() == entries + 1
    assert ratio.input.lineEdit().text() == ""
    # A second click changes nothing more.
    qtbot.mouseClick(ratio.clear_button, LEFT)
    assert stack.count() == entries + 1
    stack.undo()
    assert fields["ratio"] == 0.5
    assert ratio.input.value() == 0.5 and ratio.input.lineEdit().text() != ""
    stack.redo()
    assert fields["ratio"] is None and ratio.input.lineEdit().text() == ""


def test_emptying_the_box_and_pressing_enter_means_none(qtbot) -> None:
    model, stack, dock, node_id = _inspector(qtbot)
    fields = model.node(node_id).data.fields
    limit = dock.panel.form.editors["limit"]
    spin = limit.input
    assert fields["limit"] is None and spin.lineEdit().text() == ""
    _type_into(qtbot, spin, "42")
    assert fields["limit"] == 42
    entries = stack.count()
    _type_into(qtbot, spin, "")
    assert fields["limit"] is None
    assert stack.count() == entries + 1
    assert spin.lineEdit().text() == ""
    # Typing the very number the empty box still holds underneath counts as an edit.
    _type_into(qtbot, spin, "42")
    assert fields["limit"] == 42
    stack.undo()
    assert fields["limit"] is None
    stack.undo()
    assert fields["limit"] == 42 and spin.lineEdit().text() == "42"


def test_emptying_the_box_and_leaving_it_means_none(qtbot) -> None:
    model, stack, dock, node_id = _inspector(qtbot)
    fields = model.node(node_id).data.fields
    spin = dock.panel.form.editors["ratio"].input
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClick(spin, Qt.Key.Key_Backspace)
    qtbot.keyClick(spin, Qt.Key.Key_Tab)  # focus moves on: the edit is finished
    assert fields["ratio"] is None
    assert spin.lineEdit().text() == ""
    stack.undo()
    assert fields["ratio"] == 0.5


def test_tabbing_through_an_empty_optional_box_keeps_it_empty(qtbot) -> None:
    model, stack, dock, node_id = _inspector(qtbot)
    fields = model.node(node_id).data.fields
    spin = dock.panel.form.editors["limit"].input
    entries = stack.count()
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    assert fields["limit"] is None and stack.count() == entries
    assert spin.lineEdit().text() == ""


@pytest.mark.parametrize("name", ["count"])
def test_a_required_number_cannot_be_emptied(qtbot, name) -> None:
    model, stack, dock, node_id = _inspector(qtbot)
    fields = model.node(node_id).data.fields
    spin = dock.panel.form.editors[name].input
    entries = stack.count()
    _type_into(qtbot, spin, "")
    assert fields[name] == 3 and stack.count() == entries
