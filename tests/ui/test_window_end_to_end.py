"""End to end with real widgets: palette drags, mouse wiring, inspector, run, save, reopen."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt

from .helpers import make_window
from .helpers_dnd import drop_palette_item

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


def _vpos(window, scene_point: QPointF) -> QPoint:
    return window.view.mapFromScene(scene_point)


def _port(window, node_id, name, output):
    return _vpos(window, window.scene.nodes[node_id].port_scene_pos(name, output))


def _drag(qtbot, window, start: QPoint, end: QPoint, steps: int = 5) -> None:
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, LEFT, NO_MOD, start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(viewport, start + (end - start) * (i / steps))
    qtbot.mouseRelease(viewport, LEFT, NO_MOD, end)


def _click_node(qtbot, window, node_id):
    item = window.scene.nodes[node_id]
    qtbot.mouseClick(
        window.view.viewport(), LEFT, NO_MOD, _vpos(window, item.pos() + QPointF(60, 12))
    )


def test_build_run_save_reopen_undo_redo(qtbot, db):
    window = make_window(qtbot, db)
    window.resize(1400, 900)
    window.view.set_zoom(0.8)
    window.view.centerOn(300, 100)
    qtbot.wait(20)

    # 1. three nodes dragged from the palette
    for key, x in (("manual", 120), ("set", 360), ("log", 600)):
        assert drop_palette_item(window, key, QPoint(x, 200))
    ids = window.model.node_ids()
    assert [window.model.node(i).type for i in ids] == ["manual", "set", "log"]
    trigger, setter, logger = ids

    # 2. wire them with the mouse
    _drag(
        qtbot, window, _port(window, trigger, "output", True), _port(window, setter, "input", False)
    )
    _drag(
        qtbot, window, _port(window, setter, "output", True), _port(window, logger, "input", False)
    )
    edges = [(e.source, e.target) for e in window.model.doc.edges]
    assert edges == [(trigger, setter), (setter, logger)]

    # 3. set the log message in the inspector (select the node with a click)
    _click_node(qtbot, window, logger)
    assert window.inspector_dock.panel.node_id == logger
    window.activateWindow()
    editor = window.inspector_dock.panel.form.editors["message"].input
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, "greeting is {{ input.greeting }}")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.model.node(logger).data.fields["message"] == "greeting is {{ input.greeting }}"
    _click_node(qtbot, window, setter)
    fields = window.inspector_dock.panel.form.editors["fields"].input
    fields.setFocus()
    fields.selectAll()
    qtbot.keyClicks(fields, '[{"name": "greeting", "value": "hello"}]')
    qtbot.keyClick(fields, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.model.node(setter).data.fields["fields"] == [
        {"name": "greeting", "value": "hello"}
    ]

    # 4. save (Ctrl+S asks a name) and run (Ctrl+Enter); the line arrives in Logs
    window.prompts.text_answers = ["End to end"]
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.workflow_name == "End to end" and not window.is_dirty()
    window.actions["run"].trigger()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    assert window.last_run_result is not None, window.last_run_error
    assert window.last_run_result.status == "completed"
    messages = [line.message for line in window.logs_dock.view.model.lines]
    assert "greeting is hello" in messages
    assert window.scene.nodes[logger].status == "done"
    undo_depth = window.undo_stack.count()

    # 5. reopen from the store in a fresh window; undo and redo there
    workflow_id = window.workflow_id
    assert window.close()
    again = make_window(qtbot, db)
    assert again.open_workflow(workflow_id)
    assert again.windowTitle() == "End to end — Glyphic"
    assert [n.type for n in again.model.doc.nodes] == ["manual", "set", "log"]
    assert again.model.node(logger).data.fields["message"] == "greeting is {{ input.greeting }}"
    assert again.executions_dock.statuses() == ["completed"]
    assert undo_depth > 0 and again.undo_stack.count() == 0  # a fresh history

    _click_node(qtbot, again, logger)
    again.view.setFocus()
    qtbot.keyClick(again.view, Qt.Key.Key_Delete)
    assert logger not in again.model.node_ids()
    assert again.is_dirty()
    qtbot.keyClick(again, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert logger in again.model.node_ids() and not again.is_dirty()
    assert [(e.source, e.target) for e in again.model.doc.edges] == edges
    qtbot.keyClick(
        again, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert logger not in again.model.node_ids() and again.is_dirty()
