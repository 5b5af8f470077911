"""The main window: opens and closes, layout restored, title and unsaved mark, closing asks."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt

from glyphic_desktop.ui import app as ui_app
from glyphic_desktop.ui.main_window import MainWindow

from .helpers import ScriptedPrompts, make_window

EXPECTED_ACTIONS = {
    "new",
    "open",
    "save",
    "save_as",
    "import",
    "export",
    "undo",
    "redo",
    "cut",
    "copy",
    "paste",
    "duplicate",
    "delete",
    "select_all",
    "fit",
    "zoom_in",
    "zoom_out",
    "run",
    "stop",
    "run_background",
}


def test_window_opens_with_docks_menus_and_closes(qtbot, db):
    window = make_window(qtbot, db)
    assert window.windowTitle() == "Untitled — Glyphic"
    assert set(window.actions) >= EXPECTED_ACTIONS
    for name, dock in {
        "Palette": window.palette_dock,
        "Inspector": window.inspector_dock,
        "Logs": window.logs_dock,
        "Executions": window.executions_dock,
        "Versions": window.versions_dock,
    }.items():
        assert dock.windowTitle() == name
    assert window.centralWidget().isAncestorOf(window.editor.widget)
    assert window.start_page_shown()  # no workflow open yet
    assert window.editor.view is window.view
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Run", "&Help"]
    assert window.actions["save"].shortcut().toString() == "Ctrl+S"
    assert window.actions["undo"].shortcut().toString() == "Ctrl+Z"
    assert window.actions["stop"].isEnabled() is False
    assert window.close()


def test_title_marks_unsaved_and_clears_after_save(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    assert window.windowTitle() == "Untitled • — Glyphic"
    assert window.is_dirty()
    window.prompts.text_answers = ["My flow"]
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.windowTitle() == "My flow — Glyphic"
    assert not window.is_dirty()
    window.undo_stack.undo()
    assert window.windowTitle() == "My flow • — Glyphic"
    window.undo_stack.redo()
    assert window.windowTitle() == "My flow — Glyphic"


def test_save_as_cancelled_keeps_unsaved(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    window.prompts.text_answers = [None]
    assert window.save() is False
    assert window.is_dirty()


def test_geometry_and_dock_state_come_back(qtbot, db):
    settings_path = ui_app.settings().fileName()
    window = make_window(qtbot, db)
    window.resize(701, 523)
    window.move(40, 30)
    window.removeDockWidget(window.palette_dock)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.palette_dock)
    window.versions_dock.hide()
    assert window.close()
    assert QSettings(settings_path, QSettings.Format.IniFormat).contains("window/state")

    again = make_window(qtbot, db)
    assert (again.width(), again.height()) == (701, 523)
    assert again.dockWidgetArea(again.palette_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert again.versions_dock.isHidden()


def test_closing_with_unsaved_changes_asks(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    window.prompts.unsaved_answer = "cancel"
    assert window.close() is False
    assert window.isVisible()
    assert window.prompts.kinds() == ["unsaved_changes"]
    window.prompts.unsaved_answer = "save"
    window.prompts.text_answers = ["Kept"]
    assert window.close() is True
    again = make_window(qtbot, db)
    assert again.open_reference("Kept")
    assert [n.type for n in again.model.doc.nodes] == ["manual"]


def test_closing_clean_window_does_not_ask(qtbot, db):
    window = make_window(qtbot, db)
    assert window.close()
    assert window.prompts.asked == []


def test_new_asks_before_dropping_changes(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    window.prompts.unsaved_answer = "cancel"
    window.actions["new"].trigger()
    assert len(window.model.doc.nodes) == 1
    window.prompts.unsaved_answer = "discard"
    window.actions["new"].trigger()
    assert window.model.doc.nodes == []
    assert not window.is_dirty()


def test_theme_switch_is_remembered(qtbot, db):
    window = make_window(qtbot, db)
    window.actions["theme_light"].trigger()
    assert ui_app.current_theme() == "light"
    assert window.scene.theme.name == "light" if hasattr(window.scene.theme, "name") else True
    window.actions["theme_dark"].trigger()
    assert ui_app.current_theme() == "dark"


def test_window_api_without_prompts_replacement(qtbot, db):
    window = MainWindow(db)
    qtbot.addWidget(window)
    assert window.prompts is not None and not isinstance(window.prompts, ScriptedPrompts)
    assert window.title_text() == "Untitled — Glyphic"


def test_save_commits_a_half_typed_inspector_field(qtbot, db):
    window = make_window(qtbot, db)
    node_id = window.add_node("log")
    window.activateWindow()
    editor = window.inspector_dock.panel.form.editors["message"].input
    editor.setFocus()
    qtbot.waitUntil(editor.hasFocus)
    editor.selectAll()
    qtbot.keyClicks(editor, "typed, never committed")
    window.prompts.text_answers = ["Half typed"]
    qtbot.keyClick(editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.workflow_name == "Half typed"
    assert window.model.node(node_id).data.fields["message"] == "typed, never committed"
    assert not window.is_dirty()


def test_paste_garbage_says_so_and_changes_nothing(qtbot, db):
    from PySide6.QtGui import QGuiApplication

    window = make_window(qtbot, db)
    window.add_node("manual")
    before = window.model.doc.to_data()
    QGuiApplication.clipboard().setText("this is not a workflow")
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.model.doc.to_data() == before
    assert window.statusBar().currentMessage()


def test_copy_and_paste_nodes_through_the_clipboard(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert [n.type for n in window.model.doc.nodes] == ["manual", "manual"]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.model.doc.nodes) == 1


def test_ctrl_c_in_the_logs_copies_log_lines(qtbot, db):
    from datetime import datetime

    from PySide6.QtGui import QGuiApplication

    from glyphic_desktop.ui.docks.logs import LogLine

    window = make_window(qtbot, db)
    window.logs_dock.append_lines([LogLine(datetime(2026, 1, 1, 9), "info", None, "", "hello")])
    table = window.logs_dock.view.table
    table.setFocus()
    table.selectRow(0)
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "09:00:00.000 INFO hello"
