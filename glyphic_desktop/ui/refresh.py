"""Coalesced refreshes: whole-graph reactions run once per event-loop turn.

A command that adds 2,000 nodes changes 2,000 nodes at once; a dock whose
reaction looks at the whole graph (the Logs dock's node filter) must not rebuild 2,000
times. Listeners :meth:`DockRefresher.mark` a named refresh as due (O(1)); the refresh
runs once, from a zero-delay timer, however many marks came in.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class DockRefresher(QObject):
    """Named refresh callbacks, each run at most once per event-loop turn when marked.

    ``counts`` records how many times each refresh ran (tests check that a bulk edit
    of N nodes refreshes a bounded number of times, whatever N is).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callbacks: dict[str, Callable[[], None]] = {}
        self._due: set[str] = set()
        self.counts: dict[str, int] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)

    def add(self, name: str, callback: Callable[[], None]) -> None:
        """Register ``callback`` under ``name``."""
        self._callbacks[name] = callback
        self.counts.setdefault(name, 0)

    def mark(self, name: str) -> None:
        """``name`` needs to run: once, at the next turn of the event loop."""
        self._due.add(name)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run every due refresh now."""
        self._timer.stop()
        due, self._due = self._due, set()
        for name in sorted(due):
            callback = self._callbacks.get(name)
            if callback is not None:
                self.counts[name] += 1
                callback()
