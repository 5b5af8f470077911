"""Undo that matches intent, with real keys: undo inside a multi-line field never goes
past text already committed to the model (then Ctrl+Z undoes the model's edits); saving
without changes writes no version and says so; each version gets a change summary."""

from __future__ import annotations

from PySide6.QtCore import Qt

from glyphic_desktop.store.repositories.versions import VersionRepository

from .helpers import make_window

CTRL = Qt.KeyboardModifier.ControlModifier


def message_editor(qtbot, window, node_id):
    window.scene.select_nodes([node_id])
    window.activateWindow()
    editor = window.inspector_dock.panel.form.editors["message"].input
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    return editor


def test_undo_in_a_multiline_field_stops_at_committed_text(qtbot, db):
    window = make_window(qtbot, db)
    node_id = window.add_node("log")
    default = window.model.node(node_id).data.fields["message"]
    editor = message_editor(qtbot, window, node_id)
    editor.selectAll()
    qtbot.keyClicks(editor, "first line")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)  # commit
    assert window.model.node(node_id).data.fields["message"] == "first line"

    qtbot.keyClicks(editor, " and more")
    assert editor.toPlainText() == "first line and more"
    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)  # the field's own typing
    assert editor.toPlainText() == "first line"
    assert window.model.node(node_id).data.fields["message"] == "first line"

    qtbot.keyClick(editor, Qt.Key.Key_Z, CTRL)  # nothing of its own left: the model's undo
    assert window.model.node(node_id).data.fields["message"] == default
    assert editor.toPlainText() == default  # field and model agree

    qtbot.keyClick(
        editor,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.model.node(node_id).data.fields["message"] == "first line"
    assert editor.toPlainText() == "first line"


def test_ctrl_s_without_changes_writes_no_version_and_says_so(qtbot, db, user_id):
    window = make_window(qtbot, db)
    node_id = window.add_node("log")
    window.prompts.text_answers = ["Once"]
    window.view.setFocus()
    qtbot.keyClick(window.view.viewport(), Qt.Key.Key_S, CTRL)
    assert window.base_version == 1
    editor = message_editor(qtbot, window, node_id)
    editor.selectAll()
    qtbot.keyClicks(editor, "changed")
    window.view.setFocus()  # leaving the field commits
    qtbot.keyClick(window.view.viewport(), Qt.Key.Key_S, CTRL)
    assert window.base_version == 2
    qtbot.keyClick(window.view.viewport(), Qt.Key.Key_S, CTRL)
    assert window.base_version == 2
    assert window.statusBar().currentMessage() == "No changes to save: version 2 is current"
    with db.session() as session:
        versions = VersionRepository(session, user_id).list(window.workflow_id)
    assert [(v.version, v.change_summary) for v in versions] == [
        (2, "1 field changed"),
        (1, "created"),
    ]
    assert window.versions_dock.tree.topLevelItem(0).text(2) == "1 field changed"


def test_save_with_a_summary_the_user_writes(qtbot, db, user_id):
    window = make_window(qtbot, db)
    node_id = window.add_node("log")
    assert window.save_as("Summarised")
    editor = message_editor(qtbot, window, node_id)
    editor.selectAll()
    qtbot.keyClicks(editor, "new text")
    window.view.setFocus()
    window.prompts.text_answers = ["reworded the greeting"]
    qtbot.keyClick(
        window.view.viewport(),
        Qt.Key.Key_S,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier,
    )
    assert window.base_version == 2
    assert ("ask_text", "Save with summary") in window.prompts.asked
    with db.session() as session:
        versions = VersionRepository(session, user_id).list(window.workflow_id)
    assert versions[0].change_summary == "reworded the greeting"
