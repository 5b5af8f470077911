"""The Logs dock: batches, filters, search, copy, clear, click-to-select, 10,000-line bursts."""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from glyphic_desktop.ui.docks.logs import LogLine, LogsDock, normalise_level


def _line(i: int, level: str = "info", node: str | None = "1", message: str | None = None):
    return LogLine(
        timestamp=datetime(2026, 1, 1, 12, 0, 0, i % 1000 * 1000),
        level=level,
        node_id=node,
        node_label=f"Node {node}" if node else "",
        message=message or f"line {i}",
    )


def _dock(qtbot):
    dock = LogsDock()
    qtbot.addWidget(dock)
    dock.resize(700, 300)
    dock.show()
    dock.set_nodes([("1", "Node 1"), ("2", "Node 2")])
    return dock


def _mixed():
    return [
        _line(0, "debug", "1", "starting up"),
        _line(1, "info", "1", "fetched 3 items"),
        _line(2, "warn", "2", "slow response"),
        _line(3, "error", "2", "HTTP 500 from server"),
        _line(4, "info", None, "run finished"),
    ]


def test_filter_by_level_and_node(qtbot):
    dock = _dock(qtbot)
    view = dock.view
    dock.append_lines(_mixed())
    assert view.proxy.rowCount() == 5
    view.level_combo.setCurrentIndex(view.level_combo.findData("warn"))
    assert [line.message for line in view.visible_lines()] == [
        "slow response",
        "HTTP 500 from server",
    ]
    view.set_min_level("debug")
    view.node_combo.setCurrentIndex(view.node_combo.findData("1"))
    assert [line.message for line in view.visible_lines()] == ["starting up", "fetched 3 items"]
    view.set_node_filter(None)
    assert view.proxy.rowCount() == 5


def test_text_search_typed(qtbot):
    dock = _dock(qtbot)
    dock.append_lines(_mixed())
    qtbot.keyClicks(dock.view.search, "http 500")
    assert [line.message for line in dock.view.visible_lines()] == ["HTTP 500 from server"]
    dock.view.search.clear()
    assert dock.view.proxy.rowCount() == 5


def test_filters_apply_to_lines_arriving_later(qtbot):
    dock = _dock(qtbot)
    dock.view.set_min_level("error")
    dock.append_lines(_mixed())
    dock.append_lines([_line(9, "error", "1", "late failure")])
    assert [line.message for line in dock.view.visible_lines()] == [
        "HTTP 500 from server",
        "late failure",
    ]


def test_copy_selected_or_all_shown(qtbot):
    dock = _dock(qtbot)
    dock.append_lines(_mixed())
    text = dock.view.copy()
    assert QGuiApplication.clipboard().text() == text
    assert text.count("\n") == 4
    assert "ERROR [Node 2] HTTP 500 from server" in text
    dock.view.table.selectRow(1)
    text = dock.view.copy_button.click() or QGuiApplication.clipboard().text()
    assert text == "12:00:00.001 INFO [Node 1] fetched 3 items"


def test_clear_button_empties(qtbot):
    dock = _dock(qtbot)
    dock.append_lines(_mixed())
    qtbot.mouseClick(dock.view.clear_button, Qt.MouseButton.LeftButton)
    assert dock.view.model.rowCount() == 0


def test_clicking_a_line_emits_its_node(qtbot):
    dock = _dock(qtbot)
    dock.append_lines(_mixed())
    table = dock.view.table
    rect = table.visualRect(dock.view.proxy.index(2, 3))
    with qtbot.waitSignal(dock.nodeActivated) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["2"]


def test_burst_of_10000_lines_keeps_timers_firing(qtbot):
    dock = _dock(qtbot)
    ticks: list[float] = []
    timer = QTimer(dock)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    batches = [[_line(b * 500 + i) for i in range(500)] for b in range(20)]
    feeder = QTimer(dock)
    feeder.setInterval(50)

    def feed() -> None:
        if batches:
            dock.append_lines(batches.pop(0))
        else:
            feeder.stop()

    feeder.timeout.connect(feed)
    feeder.start()
    qtbot.waitUntil(lambda: not batches, timeout=10_000)
    qtbot.wait(50)
    timer.stop()
    assert dock.view.model.rowCount() == 10_000
    assert dock.view.proxy.rowCount() == 10_000
    # the timer kept firing through the burst (about 1 s): counted, not timed, so one odd
    # pause of a loaded machine does not fail it
    assert len(ticks) > 40, f"only {len(ticks)} timer ticks during the burst"


def test_model_caps_lines():
    from glyphic_desktop.ui.docks.logs import LogModel

    app = QApplication.instance()
    assert app is not None
    model = LogModel(max_lines=100)
    model.append([_line(i) for i in range(80)])
    model.append([_line(i) for i in range(80, 150)])
    assert model.rowCount() == 100
    assert model.lines[0].message == "line 50"
    model.append([_line(i) for i in range(1000)])
    assert model.rowCount() == 100
    assert model.lines[-1].message == "line 999"


def test_normalise_level():
    assert normalise_level("WARNING") == "warn"
    assert normalise_level(None) == "info"
    assert normalise_level("bogus") == "info"
