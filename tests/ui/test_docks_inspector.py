"""The Inspector dock: the selected node's form and settings, every edit undoable."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel, Field
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.base import NodeType
from glyphic_desktop.nodes.registry import NodeRegistry, default_registry
from glyphic_desktop.ui.commands import add_node_command
from glyphic_desktop.ui.docks.inspector import InspectorDock
from glyphic_desktop.ui.graph_model import GraphModel


class MailFields(BaseModel):
    to: str = Field(min_length=1)
    subject: str = ""


class MailNode(NodeType):
    key = "test_mail"
    title = "Test mail"
    category = "Integrations"
    Fields = MailFields
    credential_type: ClassVar[str | None] = "smtp"

    async def run(self, ctx):
        return {"output": None}


@pytest.fixture
def registry():
    registry = NodeRegistry()
    registry.merge(default_registry())
    registry.register(MailNode)
    return registry


def _inspector(qtbot, registry, credentials=None):
    model = GraphModel(WorkflowDocument(), registry=registry)
    stack = QUndoStack()
    dock = InspectorDock(model, stack, credentials)
    qtbot.addWidget(dock)
    dock.resize(380, 700)
    with qtbot.waitActive(dock):
        dock.show()
        dock.activateWindow()
    return model, stack, dock


def _add(model, stack, key):
    command = add_node_command(model, key, (0, 0))
    stack.push(command)
    return command.node_ids[0]


def test_empty_state(qtbot, registry):
    _model, _stack, dock = _inspector(qtbot, registry)
    assert dock.panel.title.text() == "No node selected"
    assert dock.panel.settings_box.isHidden()


def test_field_edit_is_undoable(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry)
    node_id = _add(model, stack, "log")
    dock.show_node(node_id)
    editor = dock.panel.form.editors["message"].input
    assert editor.toPlainText() == "{{ input }}"
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "hello {{ input.name }}")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert model.node(node_id).data.fields["message"] == "hello {{ input.name }}"
    assert stack.count() == 2
    stack.undo()
    assert model.node(node_id).data.fields["message"] == "{{ input }}"
    assert editor.toPlainText() == "{{ input }}"
    stack.redo()
    assert editor.toPlainText() == "hello {{ input.name }}"


def test_choice_and_bool_fields_through_stack(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry)
    node_id = _add(model, stack, "log")
    dock.show_node(node_id)
    level = dock.panel.form.editors["level"].input
    level.setCurrentIndex(level.findData("error"))
    box = dock.panel.form.editors["include_input"].input
    box.click()
    fields = model.node(node_id).data.fields
    assert (fields["level"], fields["include_input"]) == ("error", True)
    stack.undo()
    stack.undo()
    assert (fields["level"], fields["include_input"]) == ("info", False)
    assert level.currentData() == "info" and not box.isChecked()


def test_label_and_settings_through_stack(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry)
    node_id = _add(model, stack, "log")
    dock.show_node(node_id)
    panel = dock.panel
    panel.label_edit.setFocus()
    panel.label_edit.selectAll()
    qtbot.keyClicks(panel.label_edit, "Say hi")
    qtbot.keyClick(panel.label_edit, Qt.Key.Key_Return)
    assert model.node(node_id).data.label == "Say hi"
    assert panel.title.text() == "Say hi"
    panel.disabled_box.click()
    panel.retries_spin.setValue(3)
    panel.timeout_spin.setValue(12.5)
    panel.on_error_combo.setCurrentIndex(panel.on_error_combo.findData("continue"))
    data = model.node(node_id).data
    assert (data.disabled, data.retries, data.timeout, data.onError) == (True, 3, 12.5, "continue")
    for _ in range(5):
        stack.undo()
    assert (data.label, data.disabled, data.retries, data.timeout, data.onError) == (
        "Log",
        False,
        0,
        None,
        "stop",
    )
    assert panel.label_edit.text() == "Log"
    assert panel.retries_spin.value() == 0
    assert panel.timeout_spin.text() == "none"


def test_inline_validation_of_required_field(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry)
    node_id = _add(model, stack, "http_request")
    dock.show_node(node_id)
    assert dock.panel.form.errors()["url"] == "Url is required"
    url = dock.panel.form.editors["url"].input
    url.setFocus()
    qtbot.keyClicks(url, "http://127.0.0.1:9/x")
    qtbot.keyClick(url, Qt.Key.Key_Return)
    assert "url" not in dock.panel.form.errors()
    assert model.node(node_id).data.fields["url"] == "http://127.0.0.1:9/x"


def test_credential_picker_lists_the_types_credentials(qtbot, registry):
    asked = []

    def lister(credential_type):
        asked.append(credential_type)
        return [("c-1", "Work"), ("c-2", "Home")]

    model, stack, dock = _inspector(qtbot, registry, lister)
    node_id = _add(model, stack, "test_mail")
    dock.show_node(node_id)
    combo = dock.panel.credential_combo
    assert not combo.isHidden() and asked == ["smtp"]
    assert [combo.itemText(i) for i in range(combo.count())][1:] == ["Work", "Home"]
    combo.setCurrentIndex(2)
    assert model.node(node_id).data.credential == {
        "integrationId": "c-2",
        "integration": {"type": "smtp", "name": "Home"},
    }
    stack.undo()
    assert model.node(node_id).data.credential is None
    assert combo.currentIndex() == 0


def test_picker_hidden_for_types_without_credentials(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry, lambda t: [])
    dock.show_node(_add(model, stack, "log"))
    assert dock.panel.credential_combo.isHidden()


def test_removed_node_clears_the_inspector(qtbot, registry):
    model, stack, dock = _inspector(qtbot, registry)
    node_id = _add(model, stack, "log")
    dock.show_node(node_id)
    stack.undo()
    assert dock.panel.node_id is None
    assert dock.panel.title.text() == "No node selected"


def test_unknown_type_shows_raw_fields(qtbot, registry):
    document = WorkflowDocument.model_validate(
        {"nodes": [{"id": "n1", "type": "gone", "data": {"fields": {"a": 1}}}]}
    )
    model = GraphModel(document, registry=registry)
    dock = InspectorDock(model, QUndoStack())
    qtbot.addWidget(dock)
    dock.show()
    dock.show_node("n1")
    assert dock.panel.form is None
    assert '"a": 1' in dock.panel.raw_fields.toPlainText()
    assert "unknown type" in dock.panel.hint.text()


def test_optional_credential_types_list_each_type(qtbot, registry):
    def lister(credential_type):
        return {"bearer": [("b-1", "API token")], "http_basic": [("h-1", "Intranet")]}.get(
            credential_type, []
        )

    model, stack, dock = _inspector(qtbot, registry, lister)
    node_id = _add(model, stack, "http_request")
    dock.show_node(node_id)
    combo = dock.panel.credential_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == ["— none —", "Intranet (http_basic)", "API token (bearer)"]
    combo.setCurrentIndex(2)
    assert model.node(node_id).data.credential == {
        "integrationId": "b-1",
        "integration": {"type": "bearer", "name": "API token"},
    }
    combo.setCurrentIndex(0)
    assert model.node(node_id).data.credential is None


def test_credentials_listed_from_the_database(qtbot, db):
    from glyphic_desktop.secrets.keys import Keyset, generate_key
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository
    from glyphic_desktop.store.repositories.users import current_user_id

    from .helpers import make_window

    with db.session() as session:
        IntegrationRepository(
            session, current_user_id(db), Keyset.from_keys(generate_key())
        ).create("smtp", "Work mail", {"host": "127.0.0.1", "password": "hunter2"})
    window = make_window(qtbot, db)
    node_id = window.add_node("gmail")
    combo = window.inspector_dock.panel.credential_combo
    assert not combo.isHidden()
    assert [combo.itemText(i) for i in range(combo.count())][1:] == ["Work mail"]
    combo.setCurrentIndex(1)
    binding = window.model.node(node_id).data.credential
    assert binding["integration"] == {"type": "smtp", "name": "Work mail"}
    assert "hunter2" not in str(binding)
