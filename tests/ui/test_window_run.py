"""Running from the window: a background thread, live logs and badges, Stop, preflight."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from .helpers import build_chain, make_window


def _saved_window(qtbot, db, steps, name="Run me"):
    window = make_window(qtbot, db)
    ids = build_chain(window, steps)
    window.prompts.text_answers = [name]
    assert window.save()
    return window, ids


def test_five_second_run_keeps_the_window_alive(qtbot, db):
    window, ids = _saved_window(
        qtbot,
        db,
        [
            ("manual", {}),
            ("delay", {"seconds": 5}),
            ("log", {"message": "after the wait: {{ input }}"}),
        ],
    )
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    started = time.monotonic()
    assert window.run()
    assert window.actions["stop"].isEnabled() and not window.actions["run"].isEnabled()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    timer.stop()
    elapsed = time.monotonic() - started
    assert elapsed >= 5
    assert window.last_run_result.status == "completed", window.last_run_error
    # counted, not timed: half the ticks a free window would see (a frozen one sees none)
    assert len(ticks) > elapsed / 0.02 * 0.5, "the timer stopped firing during the run"
    messages = [line.message for line in window.logs_dock.view.model.lines]
    assert any("after the wait" in m for m in messages)
    statuses = {node_id: window.scene.nodes[node_id].status for node_id in ids}
    assert statuses == {node_id: "done" for node_id in ids}
    assert window.run_label.text().startswith("Run completed")
    assert window.executions_dock.statuses() == ["completed"]


def test_stop_cancels_the_run(qtbot, db):
    window, ids = _saved_window(qtbot, db, [("manual", {}), ("delay", {"seconds": 60})])
    window.run()
    qtbot.waitUntil(lambda: window.scene.nodes[ids[1]].status == "running", timeout=15_000)
    started = time.monotonic()
    window.actions["stop"].trigger()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=15_000)
    assert time.monotonic() - started < 5
    outcome = window.last_run_result
    assert (outcome.status if outcome else "cancelled") == "cancelled"
    assert window.executions_dock.statuses() == ["cancelled"]


def test_failed_preflight_lists_problems_and_marks_nodes(qtbot, db):
    window = make_window(qtbot, db)
    ids = build_chain(window, [("manual", {}), ("http_request", {}), ("log", {})])
    assert window.run() is False
    assert not window.is_running()
    ((title, _text, details),) = window.prompts.errors()
    assert title == "The workflow cannot run"
    assert "HTTP request" in details and "url" in details
    lines = window.logs_dock.view.model.lines
    assert lines and all(line.level == "error" for line in lines)
    assert {line.node_id for line in lines} == {ids[1]}
    assert window.problem_nodes == [ids[1]]
    assert window.scene.nodes[ids[1]].status == "failed"
    assert window.scene.selected_node_ids() == [ids[1]]
    assert window.workflow_id is None  # nothing was stored for a run that cannot start


def test_preflight_problems_show_inline_in_the_inspector(qtbot, db):
    window = make_window(qtbot, db)
    ids = build_chain(window, [("manual", {}), ("log", {"message": "{{ input. }}"})])
    assert window.run() is False
    assert window.scene.selected_node_ids() == [ids[1]]
    assert window.inspector_dock.panel.node_id == ids[1]
    error = window.inspector_dock.panel.form.errors()["message"]
    assert "expression" in error.lower()


def test_log_lines_arrive_and_clicking_one_selects_its_node(qtbot, db):
    window, ids = _saved_window(
        qtbot, db, [("manual", {}), ("log", {"message": "hello from the log node"})]
    )
    window.run()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    view = window.logs_dock.view
    row = next(
        i
        for i, line in enumerate(view.visible_lines())
        if line.message == "hello from the log node"
    )
    window.scene.clearSelection()
    index = view.proxy.index(row, 3)
    view.table.scrollTo(index)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(
        view.table.viewport(), Qt.MouseButton.LeftButton, pos=view.table.visualRect(index).center()
    )
    assert window.scene.selected_node_ids() == [ids[1]]


def test_run_in_background_queues_a_pending_execution(qtbot, db):
    window, _ids = _saved_window(qtbot, db, [("manual", {})])
    assert window.run_in_background()
    assert window.executions_dock.statuses() == ["pending"]
