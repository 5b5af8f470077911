"""LISTEN for the agent: wake the scheduler when schedules change, see stop requests at once.

:class:`Listener` is a daemon thread holding one connection in autocommit mode that
``LISTEN``\\ s on ``glyphic_schedules`` (sent by a trigger of 0007 whenever a schedule's
next run or state changes) and ``glyphic_process_stop`` (``glyphic db stop --force``).
Each notification calls the channel's handler from the thread. When the connection
drops, the thread reports the outage to the monitor, reconnects every second, and calls
every handler once on reconnecting (anything may have changed meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glyphic_desktop.agent.processes import OutageMonitor

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

SCHEDULES_CHANNEL = "glyphic_schedules"


class Listener:
    """A LISTEN thread calling ``handlers[channel]()`` for each notification."""

    def __init__(
        self,
        db: Database,
        handlers: dict[str, Callable[[], Any]],
        *,
        monitor: OutageMonitor | None = None,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.monitor = monitor or OutageMonitor("agent")
        self.received = 0
        self._stop = threading.Event()
        self._connection: Any = None
        self._thread = threading.Thread(target=self._run, name="glyphic-listen", daemon=True)

    def start(self) -> None:
        """Start listening (in the background)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close its connection."""
        self._stop.set()
        self._thread.join(3)

    def _call(self, channel: str) -> None:
        handler = self.handlers.get(channel)
        if handler is None:
            return
        try:
            handler()
        except Exception:
            log.exception("the %s handler failed", channel)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            connection = None
            try:
                engine = getattr(self.db, "engine", self.db)
                connection = engine.raw_connection()
                driver = connection.driver_connection
                driver.commit()
                driver.autocommit = True
                for channel in self.handlers:
                    driver.execute(f"LISTEN {channel}")
                self.monitor.succeeded()
                if not first:  # things may have changed while we were away
                    for channel in self.handlers:
                        self._call(channel)
                first = False
                while not self._stop.is_set():
                    for note in driver.notifies(timeout=0.5):
                        self.received += 1
                        self._call(note.channel)
            except Exception as exc:
                if not self.monitor.failed(exc):
                    log.warning("listening for notifications failed: %s", exc)
                self._stop.wait(1.0)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.invalidate()
