"""The Data dock, run badges and wire counts, viewing a past run, pins, partial runs,
Fixed / Expression fields with completion and a live preview, dragging a field in.

Real windows over the test database, real runs on the run thread, real events.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QTabBar, QTableView

from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.node_data import node_records
from glyphic_desktop.ui.data_models import BATCH, ItemTableModel, JsonTreeModel

from .helpers import build_chain, make_window

PEOPLE = [
    {"name": "Ada", "age": 36, "tags": ["math", "engines"], "address": {"city": "London"}},
    {"name": "Grace", "age": 45, "tags": ["navy"], "address": {"city": "New York"}},
    {"name": "Linus", "age": 21, "tags": [], "address": None},
]


def _run(qtbot, window):
    assert window.run(), window.prompts.asked
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    assert window.last_run_result is not None, window.last_run_error
    assert window.last_run_result.status == "completed"


def _saved(qtbot, db, steps, name):
    window = make_window(qtbot, db)
    ids = build_chain(window, steps)
    window.prompts.text_answers = [name]
    assert window.save()
    return window, ids


def _click_node(qtbot, window, node_id, button=Qt.MouseButton.LeftButton):
    item = window.scene.nodes[node_id]
    window.view.centerOn(item)
    point = window.view.mapFromScene(item.sceneBoundingRect().center() + QPointF(0, 6))
    qtbot.mouseClick(window.view.viewport(), button, pos=point)
    return point


def _click_tab(qtbot, bar: QTabBar, index: int) -> None:
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())


def _latest_execution(db, user_id, workflow_id):
    with db.session() as session:
        runs = ExecutionRepository(session, user_id).list_for_workflow(workflow_id)
        return ExecutionRepository(session, user_id).get(runs[0].id)


def _ran(db, execution_id) -> set[str]:
    return {n for n, r in node_records(db, execution_id).items() if r.origin == "run"}


def test_selecting_a_node_after_a_run_fills_the_panel(qtbot, db):
    window, ids = _saved(
        qtbot, db, [("manual", {"data": PEOPLE}), ("log", {"message": "hi"})], "Data panel"
    )
    _run(qtbot, window)
    manual, log = ids
    # Canvas: node states and the items each wire carried.
    assert window.scene.nodes[manual].status == "done"
    assert window.scene.nodes[manual].status_text == "3 items"
    (edge,) = window.scene.edges.values()
    assert edge.item_count_text() == "3 items"

    _click_node(qtbot, window, log)
    panel = window.data_dock.panel
    qtbot.waitUntil(lambda: panel.node_id == log)
    assert "success" in panel.header.text()
    assert panel.inputs.ports.currentText() == "input · 3 items"
    assert panel.outputs.ports.currentText() == "output · 3 items"
    table = panel.inputs.table_model
    assert sorted(table.columns) == ["address", "age", "name", "tags"]
    assert table.rowCount() == 3
    name, address = table.columns.index("name"), table.columns.index("address")
    assert table.data(table.index(0, name)) == "Ada"
    assert table.data(table.index(0, address)) == "{city: London}"
    assert panel.inputs.stack.currentWidget() is panel.inputs.table

    _click_tab(qtbot, panel.views, 1)
    assert panel.view_name() == "json"
    assert panel.inputs.stack.currentWidget() is panel.inputs.tree
    tree = panel.inputs.tree_model
    assert tree.rowCount() == 3
    first = tree.index(0, 0)
    assert tree.hasChildren(first) and tree.rowCount(first) == 4
    keys = [tree.data(tree.index(row, 0, first)) for row in range(4)]
    assert tree.data(tree.index(keys.index("name"), 1, first)) == "Ada"

    _click_tab(qtbot, panel.views, 2)
    assert panel.outputs.stack.currentWidget() is panel.outputs.schema
    rows = {
        panel.outputs.schema.topLevelItem(i).text(0): panel.outputs.schema.topLevelItem(i).text(1)
        for i in range(panel.outputs.schema.topLevelItemCount())
    }
    assert rows[".name"] == "string"
    assert rows[".age"] == "number"
    assert rows[".address"] == "null | object"
    assert rows[".address.city"] == "string"

    # Re-opening the workflow in a new window shows the last run again.
    other = make_window(qtbot, db)
    assert other.open_workflow(window.workflow_id, ask=False)
    assert other.scene.nodes[manual].status == "done"
    assert next(iter(other.scene.edges.values())).item_count_text() == "3 items"
    other.scene.select_nodes([manual])
    qtbot.waitUntil(lambda: other.data_dock.panel.node_id == manual)
    assert other.data_dock.panel.outputs.table_model.total == 3


def test_a_large_output_is_fetched_lazily(qtbot):
    items = [{"id": i, "name": f"item {i}", "nested": {"n": i}} for i in range(100_000)]
    model = ItemTableModel(items)
    assert model.total == 100_000
    assert model.rowCount() == BATCH  # not all at once
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    QApplication.processEvents()
    grown = model.rowCount()
    assert BATCH < grown < 100_000  # the view asked for more, batch by batch
    assert model.data(model.index(grown - 1, 2)) == f"{{n: {grown - 1}}}"
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 100_000

    tree = JsonTreeModel(items)
    assert tree.rowCount() == BATCH and tree.canFetchMore(QModelIndex())
    tree.fetchMore(QModelIndex())
    assert tree.rowCount() == 2 * BATCH
    first = tree.index(0, 0)
    assert tree.rowCount(first) == 3  # children made when asked for
    path = tree.data(tree.index(2, 0, first), Qt.ItemDataRole.UserRole + 1)
    assert path == "[0].nested"
    assert tree.mimeData([tree.index(2, 0, first)]).text() == "{{ input[0].nested }}"


def test_pin_and_unpin_are_undoable(qtbot, db):
    window, ids = _saved(
        qtbot, db, [("manual", {"data": PEOPLE}), ("log", {"message": "x"})], "Pins"
    )
    _run(qtbot, window)
    manual = ids[0]
    _click_node(qtbot, window, manual)
    panel = window.data_dock.panel
    qtbot.waitUntil(lambda: panel.node_id == manual)
    assert panel.pin_button.isEnabled() and not panel.unpin_button.isEnabled()
    qtbot.mouseClick(panel.pin_button, Qt.MouseButton.LeftButton)
    node = window.model.node(manual)
    assert node.data.pinnedData == {"output": PEOPLE}
    assert window.scene.nodes[manual].visual.pinned
    assert "pinned" in panel.header.text()
    assert panel.unpin_button.isEnabled()
    window.actions["undo"].trigger()
    assert window.model.node(manual).data.pinnedData is None
    assert not window.scene.nodes[manual].visual.pinned
    window.actions["redo"].trigger()
    assert window.model.node(manual).data.pinnedData == {"output": PEOPLE}
    qtbot.mouseClick(panel.unpin_button, Qt.MouseButton.LeftButton)
    assert window.model.node(manual).data.pinnedData is None
    window.actions["undo"].trigger()
    assert window.model.node(manual).data.pinnedData == {"output": PEOPLE}

    # Typed JSON: refused while invalid, pinned when valid.
    seen = {}

    def answer():
        dialog = window.run_data.last_dialog
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        dialog.editor.setPlainText('{"output": [1, 2')
        seen["invalid"] = (ok.isEnabled(), dialog.error.text())
        dialog.editor.setPlainText('[{"typed": true}]')
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(50, answer)
    qtbot.mouseClick(panel.edit_pin_button, Qt.MouseButton.LeftButton)
    assert seen["invalid"][0] is False and "line 1" in seen["invalid"][1]
    assert window.model.node(manual).data.pinnedData == {"output": [{"typed": True}]}
    window.actions["undo"].trigger()
    assert window.model.node(manual).data.pinnedData == {"output": PEOPLE}


def test_partial_runs_from_the_menu_and_keys(qtbot, db, user_id):
    window, ids = _saved(
        qtbot,
        db,
        [("manual", {"data": PEOPLE}), ("log", {"message": "a"}), ("log", {"message": "b"})],
        "Partial",
    )
    manual, first, second = ids
    _run(qtbot, window)

    # Right-click the last node: Run This Node.
    point = _click_node(qtbot, window, second)
    menu = window.context_menus.menu_at(QPointF(point))
    action = next(a for a in menu.actions() if a.objectName() == "ctx_run_node")
    action.trigger()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    execution = _latest_execution(db, user_id, window.workflow_id)
    assert execution.trigger_data["partial"]["mode"] == "only"
    assert _ran(db, execution.id) == {second}

    # F7 on the middle node: run to here (its ancestors and itself).
    _click_node(qtbot, window, first)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F7)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    execution = _latest_execution(db, user_id, window.workflow_id)
    assert execution.trigger_data["partial"]["mode"] == "to"
    assert _ran(db, execution.id) == {manual, first}

    # F8 on the middle node: run from here (itself and downstream; the trigger re-used).
    qtbot.keyClick(window.view, Qt.Key.Key_F8)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    execution = _latest_execution(db, user_id, window.workflow_id)
    assert execution.trigger_data["partial"]["mode"] == "from"
    records = node_records(db, execution.id)
    assert _ran(db, execution.id) == {first, second}
    assert records[manual].origin == "reused"
    assert window.scene.nodes[manual].status_text == "3 items (reused)"

    # F6 on the first node: run this node alone.
    qtbot.keyClick(window.view, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    execution = _latest_execution(db, user_id, window.workflow_id)
    assert _ran(db, execution.id) == {first}


def test_viewing_a_past_run_is_read_only(qtbot, db):
    window, ids = _saved(
        qtbot, db, [("manual", {"data": [{"v": 1}]}), ("log", {"message": "x"})], "Past runs"
    )
    manual = ids[0]
    _run(qtbot, window)
    from glyphic_desktop.ui.commands import SetFieldCommand

    window.undo_stack.push(SetFieldCommand(window.model, manual, "data", [{"v": 2}, {"v": 3}]))
    assert window.save()
    _run(qtbot, window)
    edge = next(iter(window.scene.edges.values()))
    assert edge.item_count_text() == "2 items"

    dock = window.executions_dock
    dock.refresh()
    dock.tree.setCurrentItem(dock.tree.topLevelItem(1))  # the older run
    viewer = dock.open_selected()
    viewer.close()
    bar = window.run_data.bar
    assert bar.isVisible() and bar.label.text().startswith("Viewing run")
    assert edge.item_count_text() == "1 item"
    assert not window.actions["delete"].isEnabled()
    position = window.model.node(manual).pos
    point = _click_node(qtbot, window, manual)
    qtbot.mousePress(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseMove(window.view.viewport(), point + QPoint(80, 40))
    qtbot.mouseRelease(
        window.view.viewport(), Qt.MouseButton.LeftButton, pos=point + QPoint(80, 40)
    )
    assert window.model.node(manual).pos == position  # nothing moves
    panel = window.data_dock.panel
    assert panel.node_id == manual
    assert panel.outputs.table_model.items == [{"v": 1}]
    assert not panel.pin_button.isEnabled()

    qtbot.mouseClick(bar.back, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    assert edge.item_count_text() == "2 items"
    assert window.actions["delete"].isEnabled()
    assert panel.outputs.table_model.items == [{"v": 2}, {"v": 3}]


def _select_for_inspector(qtbot, window, node_id):
    _click_node(qtbot, window, node_id)
    qtbot.waitUntil(lambda: window.inspector_dock.panel.node_id == node_id)
    return window.inspector_dock.panel.form


def test_fixed_and_expression_modes_with_undo(qtbot, db):
    window, ids = _saved(qtbot, db, [("manual", {}), ("delay", {"seconds": 2})], "Modes")
    delay = ids[1]
    form = _select_for_inspector(qtbot, window, delay)
    seconds = form.editors["seconds"]
    assert seconds.mode_button.text() == "Fixed" and not seconds.is_expression()
    assert seconds.input.isVisible() and not seconds.expression.isVisible()
    qtbot.mouseClick(seconds.mode_button, Qt.MouseButton.LeftButton)
    assert window.model.node(delay).data.fields["seconds"] == "{{ 2 }}"
    seconds = window.inspector_dock.panel.form.editors["seconds"]
    assert seconds.is_expression() and seconds.mode_button.text() == "Expression"
    assert seconds.expression.isVisible() and not seconds.input.isVisible()
    window.actions["undo"].trigger()
    assert window.model.node(delay).data.fields["seconds"] == 2
    seconds = window.inspector_dock.panel.form.editors["seconds"]
    assert not seconds.is_expression()
    window.actions["redo"].trigger()
    seconds = window.inspector_dock.panel.form.editors["seconds"]
    assert seconds.is_expression()
    # Back to fixed: the rendered value when it fits (no run yet: the default).
    qtbot.mouseClick(seconds.mode_button, Qt.MouseButton.LeftButton)
    value = window.model.node(delay).data.fields["seconds"]
    assert isinstance(value, int | float) and not isinstance(value, bool)


def test_live_preview_completion_and_drag_from_the_panel(qtbot, db):
    window, ids = _saved(
        qtbot,
        db,
        [("manual", {"data": PEOPLE}), ("log", {"message": "x"}), ("delay", {"seconds": 0})],
        "Preview",
    )
    manual, log, delay = ids
    _run(qtbot, window)
    form = _select_for_inspector(qtbot, window, log)
    message = form.editors["message"]
    qtbot.mouseClick(message.mode_button, Qt.MouseButton.LeftButton)
    assert message.is_expression()
    box = message.input
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "{{ input[0].")
    words = message.expression.completer.model().stringList()
    assert sorted(words) == ["address", "age", "name", "tags"]
    assert message.expression.completer.popup().isVisible()
    qtbot.keyClick(message.expression.completer.popup(), Qt.Key.Key_Escape)
    qtbot.keyClicks(box, "name }}")
    assert message.expression.preview_text() == "= Ada"
    assert message.expression.preview_ok
    box.selectAll()
    qtbot.keyClicks(box, "{{ nodes.")
    labels = message.expression.completer.model().stringList()
    assert window.model.node(manual).label in labels
    box.selectAll()
    qtbot.keyClicks(box, "{{ input[0].missing }}")
    assert not message.expression.preview_ok
    assert message.expression.preview_text().startswith("⚠ ")
    assert "column 1" in message.expression.preview_text()
    assert "#e5534b" in message.expression.preview_label.styleSheet()
    box.selectAll()
    qtbot.keyClicks(box, "{{ input[0")
    assert "line 1" in message.expression.preview_text()

    # Drag a cell of the Data dock's table onto the delay's number field.
    _click_node(qtbot, window, log)
    panel = window.data_dock.panel
    qtbot.waitUntil(lambda: panel.node_id == log)
    model = panel.outputs.table_model
    mime = model.mimeData([model.index(1, model.columns.index("age"))])
    label = window.model.node(log).label
    assert mime.text().startswith("{{ nodes") and mime.text().endswith(".output[1].age }}")
    assert label in mime.text()
    form = _select_for_inspector(qtbot, window, delay)
    target = form.editors["seconds"]
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    pos = target.rect().center()
    enter = QDragEnterEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0))
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(pos), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(target, drop)
    assert window.model.node(delay).data.fields["seconds"] == mime.text()
    assert window.inspector_dock.panel.form.editors["seconds"].is_expression()


def test_secrets_stay_masked_and_files_are_listed(qtbot, db, user_id, monkeypatch):
    from glyphic_desktop.engine.runner import run_workflow
    from glyphic_desktop.secrets.masking import SecretMasker
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository
    from glyphic_desktop.ui.docks import executions

    window, ids = _saved(
        qtbot,
        db,
        [("manual", {}), ("write_file", {"path": "panel/notes.txt", "content": "{{ input }}"})],
        "Masked",
    )
    manual, writer = ids
    with db.session() as session:
        record = WorkflowRepository(session, user_id).get(window.workflow_id)
    result = run_workflow(
        db,
        user_id,
        record,
        masker=SecretMasker(["hunter2-secret"]),
        input={"user": "ada", "token": "hunter2-secret"},
    )
    assert result.status == "completed", result.error
    other = make_window(qtbot, db)
    assert other.open_workflow(window.workflow_id, ask=False)
    panel = other.data_dock.panel
    other.scene.select_nodes([manual])
    qtbot.waitUntil(lambda: panel.node_id == manual)
    table = panel.outputs.table_model
    row = table.items[0]
    assert row["user"] == "ada" and row["token"] != "hunter2-secret"
    assert "hunter2" not in repr(table.items)
    shown = table.data(table.index(0, table.columns.index("token")))
    assert "hunter2" not in shown
    # The writer's file is listed under it and opens with the system's application.
    opened = []
    monkeypatch.setattr(executions, "open_with_system", lambda url: opened.append(url) or True)
    other.scene.select_nodes([writer])
    qtbot.waitUntil(lambda: panel.node_id == writer)
    assert panel.file_list.count() == 1
    assert panel.file_list.item(0).text().startswith("notes.txt")
    item = panel.file_list.item(0)
    rect = panel.file_list.visualItemRect(item)
    qtbot.mouseClick(panel.file_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.file_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [url.toLocalFile().endswith("panel/notes.txt") for url in opened] == [True]
    # The live preview reads the masked record too.
    form = _select_for_inspector(qtbot, other, writer)
    content = form.editors["content"]
    assert content.is_expression()
    assert "hunter2" not in content.expression.preview_text()
    assert "ada" in content.expression.preview_text()


def test_a_new_run_starts_without_the_last_runs_wire_counts(qtbot, db):
    window, ids = _saved(
        qtbot, db, [("manual", {"data": PEOPLE}), ("log", {"message": "hi"})], "Run twice"
    )
    _run(qtbot, window)
    (edge,) = window.scene.edges.values()
    assert edge.item_count_text() == "3 items"
    at_start = []
    window.session.run_started.connect(
        lambda: at_start.append((edge.item_count_text(), window.scene.nodes[ids[0]].status))
    )
    _run(qtbot, window)
    assert at_start == [("", None)]  # no badge or count of the last run on the new one
    assert edge.item_count_text() == "3 items"  # this run's count, once it ended
