"""The run thread: its own asyncio loop, batched queued events, cancellation, progress."""

from __future__ import annotations

import asyncio
import threading
import time

from PySide6.QtCore import QThread, QTimer

from glyphic_desktop.engine import events as ev
from glyphic_desktop.ui.run_thread import RunProgress, RunThread, count_items, describe_failure


def _job_emitting(lines: int):
    async def run(listeners, cancel_event):
        (listen,) = listeners
        listen(ev.RunStarted("x1", workflow_id="w", node_count=1))
        listen(ev.NodeStarted("x1", node_id="1", node_type="log", label="Log"))
        for i in range(lines):
            listen(ev.LogLine("x1", node_id="1", node_type="log", label="Log", message=f"m{i}"))
            if i % 1000 == 999:
                await asyncio.sleep(0.1)  # 10,000 lines a second
        listen(
            ev.NodeOutput(
                "x1", node_id="1", node_type="log", label="Log", outputs={"output": [1, 2, 3]}
            )
        )
        listen(ev.NodeFinished("x1", node_id="1", node_type="log", label="Log"))
        listen(ev.RunFinished("x1", status="completed", duration_ms=12))
        return "done"

    return run


def test_events_arrive_batched_on_the_gui_thread(qtbot):
    thread = RunThread(_job_emitting(10_000))
    batches: list[tuple[int, bool]] = []
    thread.eventsReady.connect(
        lambda batch: batches.append((len(batch), QThread.currentThread() is thread.thread()))
    )
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    ended: list[float] = []
    thread.runFinished.connect(lambda _result: ended.append(time.monotonic()))
    started = time.monotonic()
    with qtbot.waitSignal(thread.runFinished, timeout=10_000) as finished:
        thread.start()
    thread.wait()
    qtbot.wait(20)
    timer.stop()
    assert finished.args == ["done"]
    assert sum(n for n, _ in batches) == 10_005
    assert all(on_gui for _, on_gui in batches)
    assert 5 <= len(batches) < 200  # batched, not one signal per line
    # The GUI thread kept serving its timer while the run (at least 1 s of it) went on:
    # counted, not timed, so a loaded machine's odd long pause does not fail it (a CI
    # run once saw one gap of 0.56 s among a hundred 10 ms ones).
    during = [tick for tick in ticks if started <= tick <= ended[0]]
    assert len(during) >= 20, f"{len(during)} timer ticks during a {ended[0] - started:.1f} s run"


def test_stop_cancels_through_the_event(qtbot):
    seen = threading.Event()

    async def run(listeners, cancel_event):
        seen.set()
        while not cancel_event.is_set():
            await asyncio.sleep(0.01)
        return "cancelled"

    thread = RunThread(run)
    with qtbot.waitSignal(thread.runFinished, timeout=5000) as finished:
        thread.start()
        assert seen.wait(5)
        thread.stop()
    thread.wait()
    assert finished.args == ["cancelled"]


def test_exception_is_reported(qtbot):
    async def run(listeners, cancel_event):
        raise RuntimeError("engine exploded")

    thread = RunThread(run)
    with qtbot.waitSignal(thread.runFailed, timeout=5000) as failed:
        thread.start()
    thread.wait()
    assert str(failed.args[0]) == "engine exploded"
    assert describe_failure(failed.args[0]) == ("engine exploded", [])


def test_progress_folds_events():
    progress = RunProgress()
    lines, changed = progress.apply(
        [
            ev.RunStarted("x"),
            ev.NodeStarted("x", node_id="1", node_type="t", label="One"),
            ev.LogLine("x", node_id="1", node_type="t", label="One", level="warning", message="hm"),
            ev.NodeOutput("x", node_id="1", node_type="t", label="One", outputs={"output": [1, 2]}),
            ev.NodeFinished("x", node_id="1", node_type="t", label="One"),
            ev.NodeFailed("x", node_id="2", node_type="t", label="Two", error="boom"),
            ev.NodeSkipped(
                "x", node_id="3", node_type="t", label="Three", reason="branch not taken"
            ),
            ev.RunFinished("x", status="failed", error="boom", duration_ms=1500),
        ]
    )
    assert changed == {"1", "2", "3"}
    assert {k: (v.status, v.items) for k, v in progress.nodes.items()} == {
        "1": ("done", 2),
        "2": ("failed", 0),
        "3": ("skipped", 0),
    }
    assert [(line.level, line.node_label, line.message) for line in lines] == [
        ("info", "", "run started"),
        ("warn", "One", "hm"),
        ("debug", "One", "done in 0 ms"),
        ("error", "Two", "failed: boom"),
        ("debug", "Three", "skipped: branch not taken"),
        ("error", "", "run failed in 1.50 s: boom"),
    ]
    assert progress.status == "failed" and progress.execution_id == "x"
    assert count_items({"a": [1], "b": {"x": 1}, "c": None}) == 2
