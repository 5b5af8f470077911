"""The GUI-thread garbage collector: automatic collection off, cycles still collected."""

from __future__ import annotations

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
