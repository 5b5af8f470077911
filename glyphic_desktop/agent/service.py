"""The agent process: one asyncio loop holding the queue runner, the scheduler and webhooks.

:class:`Agent` runs, on the loop it is awaited on (plain asyncio headless; Qt's loop
through qasync once the tray exists):

- its registration (:class:`~glyphic_desktop.agent.processes.ProcessHeartbeat`): a
  ``run_processes`` row heartbeating every ``heartbeat_interval`` seconds (default 5),
  which also keeps the rows of its runs fresh;
- lost-run recovery at start and every few seconds (the runs of any process, agent,
  editor or ``glyphic run``, whose heartbeat stopped ``stale_after`` seconds ago);
- the :class:`~glyphic_desktop.agent.queue.QueueRunner` (pending executions);
- the scheduler, aligned to the next due time: after each pass it sleeps until the
  earliest active schedule's ``next_run_at`` (at most ``tick_interval`` seconds,
  default 30), woken early by ``NOTIFY glyphic_schedules`` (a schedule added, changed,
  paused or fired elsewhere); skipped while ``schedules_paused``;
- with ``webhook_port``, the listener :func:`~glyphic_desktop.agent.webhooks.serve_webhooks`.

Database outages are logged once when they start and once when they end, with their
length (:class:`~glyphic_desktop.agent.processes.OutageMonitor`, ``agent.monitor``); after
one, recovery waits two heartbeats so live processes can heartbeat before anyone is
taken for dead. ``glyphic db stop --force`` stops the agent (its ``stop_requested``).

Nothing here imports Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING

from glyphic_desktop.agent import DEFAULT_CONCURRENCY
from glyphic_desktop.agent.notify import SCHEDULES_CHANNEL, Listener
from glyphic_desktop.agent.processes import (
    STOP_CHANNEL,
    OutageMonitor,
    ProcessHeartbeat,
)
from glyphic_desktop.agent.processes import heartbeat_interval as default_heartbeat_interval
from glyphic_desktop.agent.processes import stale_after as default_stale_after
from glyphic_desktop.agent.queue import ClaimedExecution, QueueRunner, Recovery
from glyphic_desktop.agent.scheduler import fire_due_schedules, seconds_until_next_due
from glyphic_desktop.agent.webhooks import serve_webhooks
from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

#: The longest the scheduler sleeps without looking (a change made without NOTIFY).
DEFAULT_TICK_INTERVAL = 30.0
#: Past the due time, so the database clock has reached it when the pass starts.
_DUE_MARGIN = 0.002


def describe_schedules(db: Database) -> str:
    """``3 schedules active, next due 2026-01-02 03:04:05 UTC (Nightly)`` (every user's
    active schedules of active workflows: what this agent will fire), for its start line."""
    from sqlalchemy import text

    with db.session() as session:
        count = session.execute(
            text(
                "SELECT count(*) FROM schedules s JOIN workflows w ON w.id = s.workflow_id "
                "WHERE s.is_active AND w.is_active"
            )
        ).scalar_one()
        first = session.execute(
            text(
                "SELECT s.name, s.next_run_at FROM schedules s "
                "JOIN workflows w ON w.id = s.workflow_id "
                "WHERE s.is_active AND w.is_active AND s.next_run_at IS NOT NULL "
                "ORDER BY s.next_run_at LIMIT 1"
            )
        ).first()
    text_ = f"{count} schedule{'' if count == 1 else 's'} active"
    if first is not None:
        due = first.next_run_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text_ += f", next due {due} ({first.name})"
    return text_


def default_agent_name() -> str:
    """``hostname:pid``, the name an agent records in ``executions.claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def settle_startup_heap() -> None:
    """Load what runs need (the first run no longer stalls the loop importing the node
    types), collect once, and put everything start-up built beyond the garbage
    collector's full passes (:func:`gc.freeze`).

    A full collection walks every live object: modules, the node catalog, pydantic and
    SQLAlchemy internals. Under webhook load that was a 40–80 ms pause of every answer
    and run a few times a minute (the agent's p99). Called once, by the agent process
    (``glyphic agent``), not by a library user whose objects it would pin.
    """
    import gc

    from glyphic_desktop.engine import runner  # noqa: F401 (loaded before the freeze)
    from glyphic_desktop.nodes.registry import default_registry

    default_registry()  # the built-in nodes and plugins, not on the first run (160 ms)
    gc.collect()
    gc.freeze()


class Agent:
    """The tray agent's work, headless: queue runner, scheduler, webhook listener.

    ``name`` defaults to ``hostname:pid``. ``heartbeat_interval`` / ``stale_after``
    default to ``GLYPHIC_HEARTBEAT_INTERVAL`` / ``GLYPHIC_STALE_AFTER`` (5 s / 25 s);
    ``stop_grace`` to ``GLYPHIC_STOP_GRACE`` (30 s). ``tick_interval`` is the longest
    the scheduler sleeps. The caller owns ``db`` and installs signal handlers that set
    the ``stop`` event. ``settle_heap`` (the ``glyphic agent`` process sets it) freezes
    the start-up heap once running (:func:`settle_startup_heap`).
    """

    def __init__(
        self,
        db: Database,
        *,
        name: str | None = None,
        webhook_port: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        webhook_host: str = "127.0.0.1",
        poll_interval: float = 1.0,
        heartbeat_interval: float | None = None,
        stale_after: float | None = None,
        stop_grace: float | None = None,
        tick_interval: float = DEFAULT_TICK_INTERVAL,
        registry: NodeRegistry | None = None,
        on_finished: Callable[[ClaimedExecution, str, str | None], None] | None = None,
        settle_heap: bool = False,
    ) -> None:
        self.db = db
        self.settle_heap = settle_heap
        self.name = name or default_agent_name()
        self.webhook_port = webhook_port
        self.webhook_host = webhook_host
        self.tick_interval = tick_interval
        self.heartbeat_interval = heartbeat_interval or default_heartbeat_interval()
        self.monitor = OutageMonitor(f"agent {self.name}")
        self.runner = QueueRunner(
            db,
            agent=self.name,
            concurrency=concurrency,
            poll_interval=poll_interval,
            heartbeat_interval=self.heartbeat_interval,
            stale_after=stale_after or default_stale_after(),
            stop_grace=stop_grace,
            registry=registry,
            on_finished=on_finished,
            monitor=self.monitor,
        )
        self.process: ProcessHeartbeat | None = None
        # The tray's "Pause schedules": no schedule fires while set; missed times are
        # handled by each schedule's misfire policy once resumed.
        self._schedules_paused = False
        self.stop_requested = False  # glyphic db stop --force asked this agent to stop
        self.ticks = 0
        self._tick_error: str | None = None
        self._schedules_changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.monitor.listeners.append(self._outage_changed)

    @property
    def schedules_paused(self) -> bool:
        """The tray's "Pause schedules": no schedule fires while set (resuming wakes the
        scheduler; missed times follow each schedule's misfire policy)."""
        return self._schedules_paused

    @schedules_paused.setter
    def schedules_paused(self, paused: bool) -> None:
        self._schedules_paused = bool(paused)
        if not paused:
            self._call_soon(self._wake_scheduler)

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a process counts as dead."""
        return self.runner.stale_after

    async def recover(self) -> int:
        """Fail the runs of dead processes (see ``recover_lost_runs``); returns how many."""
        outcome: Recovery | None = await self.runner.recover()
        return len(outcome.failed) if outcome else 0

    def _outage_changed(self, down: bool, _since: object, _seconds: float) -> None:
        if down:
            return
        # Give live processes two heartbeats to show themselves before judging anyone.
        self.runner.recovery_paused_until = time.monotonic() + 2 * self.heartbeat_interval
        if self.process is not None:
            self.process.beat_now()
        self._call_soon(self._wake_scheduler)
        self.runner.wake()

    def _call_soon(self, callback: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback)

    def _wake_scheduler(self) -> None:
        if self._schedules_changed is not None:
            self._schedules_changed.set()

    async def _register(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()

        def asked_to_stop() -> None:
            self.stop_requested = True
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

        self.process = ProcessHeartbeat(
            self.db,
            "agent",
            name=self.name,
            interval=self.heartbeat_interval,
            monitor=self.monitor,
            on_stop_requested=asked_to_stop,
        )
        self.runner.process_id = await asyncio.to_thread(self.process.start)

    async def _unregister(self) -> None:
        if self.process is not None:
            await asyncio.to_thread(self.process.stop)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then stop cleanly (see the queue runner's stop).

        Raises :class:`GlyphicError` when the webhook listener cannot run (e.g. its port
        is taken); the other parts are stopped first.
        """
        self._loop = asyncio.get_running_loop()
        self._schedules_changed = asyncio.Event()
        inner = asyncio.Event()  # stops every part: set by ``stop`` or by a failing part
        await self._register(inner)
        try:
            schedules = await asyncio.to_thread(describe_schedules, self.db)
        except Exception as exc:  # the start line must not stop the agent
            schedules = f"schedules unknown ({str(exc).strip().splitlines()[0][:200]})"
        log.info(
            "agent %s started (concurrency %d, webhooks %s; %s)",
            self.name,
            self.runner.concurrency,
            f"on {self.webhook_host}:{self.webhook_port}" if self.webhook_port else "off",
            schedules,
        )
        listener = Listener(
            self.db,
            {
                SCHEDULES_CHANNEL: lambda: self._call_soon(self._wake_scheduler),
                STOP_CHANNEL: lambda: self.process.beat_now() if self.process else None,
            },
            monitor=self.monitor,
        )
        listener.start()
        failure: list[BaseException] = []
        try:
            await self.recover()

            async def relay() -> None:
                await stop.wait()
                inner.set()

            tasks = [
                asyncio.create_task(relay(), name="agent stop relay"),
                asyncio.create_task(self.runner.run(inner), name="queue runner"),
                asyncio.create_task(self._ticks(inner), name="scheduler"),
            ]
            if self.webhook_port:
                tasks.append(
                    asyncio.create_task(self._webhooks(inner, failure), name="webhook listener")
                )
            if self.settle_heap:
                settle_startup_heap()
            try:
                await inner.wait()
            finally:
                inner.set()
                tasks[0].cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                for task, result in zip(tasks, results, strict=True):
                    if isinstance(result, Exception):
                        log.error("%s ended with an error: %r", task.get_name(), result)
        finally:
            await asyncio.to_thread(listener.stop)
            await self._unregister()
            log.info("agent %s stopped", self.name)
        if failure:
            raise GlyphicError(
                f"the webhook listener on {self.webhook_host}:{self.webhook_port} "
                f"failed: {failure[0]}"
            )

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Recover lost runs, fire due schedules once, run what is pending now; then return.

        Returns how many executions were started.
        """
        stop = stop or asyncio.Event()
        await self._register(stop)
        try:
            await self.recover()
            await self.tick()
            return await self.runner.run_pending(stop)
        finally:
            await self._unregister()

    # -- the scheduler -----------------------------------------------------------------

    async def tick(self) -> float | None:
        """One scheduler pass: fire due schedules (in a thread); wake the runner on news.

        Returns the seconds until the next due time (None: nothing scheduled, or the
        pass failed).
        """
        if self.schedules_paused:
            return None
        self.ticks += 1
        try:
            created = await asyncio.to_thread(fire_due_schedules, self.db, agent=self.name)
            if created:
                self.runner.wake()
            wait = await asyncio.to_thread(seconds_until_next_due, self.db)
        except Exception as exc:
            if self.monitor.failed(exc):
                return None
            message = f"{exc.__class__.__name__}: {exc}"
            if message != self._tick_error:  # once per distinct error, not every pass
                log.error("the scheduler tick failed: %s", message, exc_info=True)
                self._tick_error = message
            return None
        self.monitor.succeeded()
        self._tick_error = None
        return wait

    async def _ticks(self, stop: asyncio.Event) -> None:
        changed = self._schedules_changed or asyncio.Event()
        while not stop.is_set():
            changed.clear()
            wait = await self.tick()
            if wait is None:
                wait = self.tick_interval if not self.monitor.down else 1.0
                if self._tick_error is not None:
                    wait = min(wait, 1.0)
            else:
                wait = min(self.tick_interval, wait + (_DUE_MARGIN if wait > 0 else 0.0))
            if wait <= 0:  # due, but another agent holds it right now: look again soon
                wait = 0.05
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(changed.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    # -- webhooks ----------------------------------------------------------------------

    async def _webhooks(self, stop: asyncio.Event, failure: list[BaseException]) -> None:
        try:
            server = await serve_webhooks(
                self.db,
                self.webhook_host,
                self.webhook_port,
                on_queued=lambda _execution: self.runner.wake(),
            )
        except Exception as exc:  # could not listen (the port is taken, say)
            failure.append(exc)
            log.error("the webhook listener failed: %s", exc)
            stop.set()
            return
        try:
            await stop.wait()
        finally:
            await server.cleanup()
