"""Run Python's cyclic garbage collector on the GUI thread only.

A Qt object whose Python wrapper sits in a reference cycle is destroyed when the cycle
collector runs, and the collector runs in whichever thread happens to allocate at that
moment: the run thread's asyncio loop, the log sink's writer. A QObject destroyed on
the wrong thread cannot stop its timers ("Timers cannot be stopped from another
thread"), and the next timer event is delivered to freed memory — a segfault seen
in this project's UI tests. So the automatic collector is switched off while the
application runs, and a timer on the GUI thread collects with the same thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class MainThreadGarbageCollector(QObject):
    """Disables automatic collection and collects from a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        """Collect the oldest generation whose allocation count passed its threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return

    def stop(self) -> None:
        """Stop collecting from the timer and give the collector back to Python."""
        self.timer.stop()
        if self.was_enabled:
            gc.enable()


_installed: MainThreadGarbageCollector | None = None


def install(parent: QObject) -> MainThreadGarbageCollector:
    """Install the GUI-thread collector once per process (parented to the application)."""
    global _installed
    if _installed is None:
        _installed = MainThreadGarbageCollector(parent)
    return _installed
