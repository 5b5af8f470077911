"""Runs a workflow on a background ``QThread`` that owns its own asyncio loop.

:class:`RunThread` runs one *job*: a callable ``job(listeners, cancel_event)`` returning
the engine's coroutine (normally ``engine.runner.run_workflow(...)``). Engine events
are collected by a listener on the run's thread and cross to the GUI thread as the
queued signal ``eventsReady(list)``, at most one batch every ``batch_ms`` (50 ms), so
10,000 log lines a second arrive as ~20 batches. ``stop()`` sets the cancel event (the
engine polls it and ends the run as ``cancelled``). ``runFinished(result)`` carries
what the job returned; ``runFailed(exc)`` the exception it raised (a preflight failure
carries its problems).

:class:`RunProgress` folds events into what the window shows: log lines for the Logs
dock, each node's status (``running``, ``done``, ``failed``, ``skipped``) and item count.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from glyphic_desktop.engine.node_data import STOPPED_REASONS
from glyphic_desktop.ui.docks.logs import LogLine, normalise_level

#: ``job(listeners, cancel_event)`` → the engine's coroutine (or its result).
RunJob = Callable[[list[Callable[[Any], None]], threading.Event], Awaitable[Any] | Any]
BATCH_MS = 50


class RunThread(QThread):
    """One run on its own thread and asyncio loop; events batched to the GUI thread."""

    eventsReady = Signal(list)
    runFinished = Signal(object)
    runFailed = Signal(object)

    def __init__(
        self, job: RunJob, *, batch_ms: int = BATCH_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.job = job
        self.batch_s = batch_ms / 1000
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self.result: Any = None
        self.error: BaseException | None = None

    # -- GUI side ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the run to cancel (returns at once; ``runFinished`` follows)."""
        self.cancel_event.set()

    # -- run side ----------------------------------------------------------------------

    def _listen(self, event: Any) -> None:
        with self._lock:
            self._pending.append(event)

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self.eventsReady.emit(batch)

    async def _pump(self) -> None:
        while True:
            await asyncio.sleep(self.batch_s)
            self._flush()

    async def _main(self) -> Any:
        pump = asyncio.create_task(self._pump())
        try:
            outcome = self.job([self._listen], self.cancel_event)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            return outcome
        finally:
            pump.cancel()
            self._flush()

    def run(self) -> None:  # the QThread body
        """Run the job to its end on a fresh event loop, then report."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.result = loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the GUI, never lost
            self.error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
        if self.error is not None:
            self.runFailed.emit(self.error)
        else:
            self.runFinished.emit(self.result)


@dataclass
class NodeProgress:
    """What a node's badge shows."""

    status: str = "running"
    items: int = 0
    error: str = ""


def count_items(outputs: Any) -> int:
    """Items in a node's outputs: a list counts its length, any other value one."""
    if not isinstance(outputs, dict):
        return 0
    total = 0
    for value in outputs.values():
        total += len(value) if isinstance(value, list | tuple) else (0 if value is None else 1)
    return total


@dataclass
class RunProgress:
    """Folds engine events into log lines and node statuses (no Qt state)."""

    labels: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, NodeProgress] = field(default_factory=dict)
    status: str = "idle"
    error: str | None = None
    execution_id: str | None = None
    started: float = field(default_factory=time.monotonic)

    def apply(self, events: Iterable[Any]) -> tuple[list[LogLine], set[str]]:
        """Fold ``events``; returns the new log lines and the ids of nodes whose badge changed."""
        lines: list[LogLine] = []
        changed: set[str] = set()
        for event in events:
            kind = getattr(event, "kind", "")
            node_id = getattr(event, "node_id", None) or None
            if getattr(event, "execution_id", None):
                self.execution_id = event.execution_id
            if node_id is not None and getattr(event, "label", None):
                self.labels.setdefault(node_id, event.label)
            when = datetime.fromtimestamp(getattr(event, "time", time.time()))
            label = self.labels.get(node_id, node_id or "") if node_id else ""
            if kind == "log":
                lines.append(
                    LogLine(when, normalise_level(event.level), node_id, label, str(event.message))
                )
            elif kind == "run_started":
                self.status = "running"
                lines.append(LogLine(when, "info", None, "", "run started"))
            elif kind == "node_started":
                progress = self.nodes.setdefault(node_id, NodeProgress())
                progress.status = "running"
                changed.add(node_id)
            elif kind == "node_output":
                progress = self.nodes.setdefault(node_id, NodeProgress())
                progress.items += count_items(dict(event.outputs))
                changed.add(node_id)
            elif kind == "node_finished":
                self.nodes.setdefault(node_id, NodeProgress()).status = "done"
                changed.add(node_id)
                duration = getattr(event, "duration_ms", 0.0) or 0.0
                lines.append(LogLine(when, "debug", node_id, label, f"done in {duration:.0f} ms"))
            elif kind == "node_failed":
                progress = self.nodes.setdefault(node_id, NodeProgress())
                progress.status = "failed"
                progress.error = str(event.error)
                changed.add(node_id)
                lines.append(LogLine(when, "error", node_id, label, f"failed: {event.error}"))
            elif kind == "node_skipped":
                reason = getattr(event, "reason", "") or "branch not taken"
                # Skipped because the run stopped while it ran: the canvas says cancelled.
                stopped = reason in STOPPED_REASONS
                self.nodes.setdefault(node_id, NodeProgress()).status = (
                    "cancelled" if stopped else "skipped"
                )
                changed.add(node_id)
                lines.append(LogLine(when, "debug", node_id, label, f"skipped: {reason}"))
            elif kind == "run_finished":
                self.status = event.status
                self.error = event.error
                seconds = (event.duration_ms or 0) / 1000
                text = f"run {event.status} in {seconds:.2f} s"
                if event.error:
                    text += f": {event.error}"
                level = "info" if event.status in ("completed", "waiting") else "error"
                lines.append(LogLine(when, level, None, "", text))
        return lines, changed


def describe_failure(exc: BaseException) -> tuple[str, list[Any]]:
    """A one-line message for a failed run and its preflight problems (empty if none)."""
    problems: Sequence[Any] = getattr(exc, "problems", None) or []
    message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return message.splitlines()[0] if message else "", list(problems)


class WorkerThread(QThread):
    """Runs one blocking call (a save, a draft write) off the GUI thread.

    ``result`` / ``error`` hold the outcome once ``finished`` is emitted. The call must
    not touch Qt widgets; it may take a database session and serialise a document
    snapshot (:meth:`GraphModel.snapshot`).
    """

    def __init__(self, call: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:  # the QThread body
        """Make the call, keeping its result or exception.

        The cyclic collector is paused meanwhile: a collection started by this thread's
        allocations would hold the interpreter (and so the GUI thread) for its whole
        pass over every object of the process.
        """
        from glyphic_desktop.perf import gc_paused

        try:
            with gc_paused():
                self.result = self.call()
        except BaseException as exc:  # reported to the GUI thread, never lost
            self.error = exc


def call_in_worker(call: Callable[[], Any]) -> Any:
    """Make ``call`` on a :class:`WorkerThread` while the GUI thread keeps processing
    events (a local event loop, like a modal dialog's); its result, or its exception
    raised here."""
    from PySide6.QtCore import QEventLoop

    worker = WorkerThread(call)
    loop = QEventLoop()
    worker.finished.connect(loop.quit)
    worker.start()
    if not worker.isFinished():
        loop.exec()
    worker.wait()
    if worker.error is not None:
        raise worker.error
    return worker.result
