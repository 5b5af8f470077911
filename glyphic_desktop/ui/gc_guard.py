"""Run Python's cyclic garbage collector on the GUI thread only, in short steps.

A Qt object whose Python wrapper sits in a reference cycle is destroyed when the cycle
collector runs, and the collector runs in whichever thread happens to allocate at that
moment: the run thread's asyncio loop, the log sink's writer. A QObject destroyed on
the wrong thread cannot stop its timers ("Timers cannot be stopped from another
thread"), and the next timer event is delivered to freed memory — a segfault seen
in this project's UI tests. So the automatic collector is switched off while the
application runs, and a timer on the GUI thread collects instead.

A collection walks every object of the generations it collects, so the timer keeps
each step short:

- the young generations are collected with Python's thresholds, checked every
  :data:`CHECK_INTERVAL_MS`;
- a burst of new objects (a loaded document, a paste: more than :data:`BULK_OBJECTS`
  since the last step) is not walked at all: ``gc.freeze()`` moves it, as every
  object that survives a generation-2 collection, to the permanent generation, which
  only a full collection walks;
- a full collection (every object: about half a second at 10,000 nodes) happens only
  when the objects that may have reached the older generations since the last one
  (counted from above) are a quarter of those it left (Python's own rule for full
  collections) and the application is idle (it allocated almost nothing during
  the last :data:`IDLE_CHECKS` checks, 3 s), or when they tripled (memory stays bounded
  while the application is never idle).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 100
BULK_OBJECTS = 20_000
IDLE_CHECKS = 30
IDLE_OBJECTS = 2_000
FULL_GROWTH = 0.25
FORCED_GROWTH = 2.0
MIN_GROWTH = 50_000


class MainThreadGarbageCollector(QObject):
    """Disables automatic collection and collects from a GUI-thread timer instead.

    ``full_collections`` counts the collections that walked every object.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.full_collections = 0
        # gc.get_freeze_count() walks the whole permanent generation (tens of ms at
        # 10,000 nodes), so it is read only after a full collection; in between, the
        # objects that may have reached the older generations are counted from above
        # (the young objects at each young collection and each freeze).
        self.baseline = gc.get_freeze_count()  # frozen objects after the last full collection
        self.pending = 0
        self._quiet_checks = 0
        self._last_young = gc.get_count()[0]
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def _idle(self, young: int) -> bool:
        """Whether almost nothing was allocated during the last few checks."""
        quiet = young - self._last_young < IDLE_OBJECTS
        self._quiet_checks = self._quiet_checks + 1 if quiet else 0
        return self._quiet_checks >= IDLE_CHECKS

    def check(self) -> None:
        """One short step: freeze a burst, collect a young generation, or (rarely, when
        idle) collect everything."""
        counts = gc.get_count()
        idle = self._idle(counts[0])
        due = max(MIN_GROWTH, self.baseline * FULL_GROWTH)
        forced = max(MIN_GROWTH, self.baseline * FORCED_GROWTH)
        if (self.pending > due and idle) or self.pending > forced:
            self.collect_fully()
        elif counts[0] > BULK_OBJECTS:
            self.pending += counts[0]
            gc.freeze()  # a burst of new objects: moved without walking them
        elif counts[2] > self.thresholds[2]:
            gc.collect(2)  # what was frozen is not walked
            gc.freeze()
        elif counts[1] > self.thresholds[1]:
            gc.collect(1)
        elif counts[0] > self.thresholds[0]:
            self.pending += counts[0]
            gc.collect(0)
        self._last_young = gc.get_count()[0]

    def collect_fully(self) -> None:
        """Collect every object (the frozen ones too), then freeze the survivors."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.baseline = gc.get_freeze_count()
        self.pending = 0
        self.full_collections += 1

    def stop(self) -> None:
        """Stop collecting from the timer and give the collector back to Python."""
        self.timer.stop()
        gc.unfreeze()
        if self.was_enabled:
            gc.enable()


_installed: MainThreadGarbageCollector | None = None


def install(parent: QObject) -> MainThreadGarbageCollector:
    """Install the GUI-thread collector once per process (parented to the application)."""
    global _installed
    if _installed is None:
        _installed = MainThreadGarbageCollector(parent)
    return _installed


def installed() -> MainThreadGarbageCollector | None:
    """The collector :func:`install` installed, if any."""
    return _installed
