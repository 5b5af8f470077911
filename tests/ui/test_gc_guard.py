"""The GUI-thread garbage collector: automatic collection off, cycles still collected."""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref

from glyphic_desktop.ui.gc_guard import MainThreadGarbageCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_by_the_gui_timer_not_by_other_threads(qtbot, qapp):
    gc.enable()  # the UI test session disables it; start from Python's default here
    guard = MainThreadGarbageCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        collected_in: list[str] = []

        class Tracked(_Cycle):
            def __del__(self) -> None:
                collected_in.append(threading.current_thread().name)

        ref = weakref.ref(Tracked())
        # Allocation in a worker thread must not trigger collection there.
        worker = threading.Thread(target=lambda: [[] for _ in range(50_000)], name="worker")
        worker.start()
        worker.join()
        assert ref() is not None
        guard.thresholds = (0, 0, 0)
        qtbot.waitUntil(lambda: ref() is None, timeout=2000)
        assert collected_in == [threading.main_thread().name]
    finally:
        guard.stop()
        guard.deleteLater()
    assert gc.isenabled()
    gc.disable()


def test_bulk_edits_never_walk_every_object_and_cycles_go_once_idle(qtbot, qapp):
    """A long editing session on a large heap: bursts of new objects between the timer's
    checks. No collection walks the whole heap while the edits go on (with Python's
    thresholds applied blindly, every 121st check would); garbage cycles made during the
    edits are collected once the application is idle."""
    gc.enable()
    heap = [[i] for i in range(400_000)]  # a loaded document's objects
    guard = MainThreadGarbageCollector(interval_ms=5)
    whole_heap_walks: list[int] = []

    def watch(phase: str, info: dict) -> None:
        # a generation-2 collection with nothing frozen walks every object
        if phase == "start" and info["generation"] == 2 and gc.get_freeze_count() == 0:
            whole_heap_walks.append(1)

    try:
        guard.collect_fully()  # as after a load, once idle: the heap is now frozen
        fulls_before = guard.full_collections
        gc.callbacks.append(watch)
        edits: list[list[list[int]]] = []
        cycles = [_Cycle() for _ in range(5)]  # e.g. undo entries that later go away
        cycle_refs = [weakref.ref(cycle) for cycle in cycles]
        for tick in range(250):
            edits.append([[tick] for _ in range(2_500)])  # objects that stay
            if tick == 200:
                cycles.clear()  # garbage now, in cycles that reached the old generations
            qtbot.wait(6)
        assert whole_heap_walks == []
        assert guard.full_collections == fulls_before
        qtbot.waitUntil(lambda: all(ref() is None for ref in cycle_refs), timeout=10_000)
        assert guard.full_collections == fulls_before + 1
    finally:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(watch)
        guard.stop()
        guard.deleteLater()
        del heap
    gc.disable()
