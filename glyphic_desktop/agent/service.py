"""The agent process: one asyncio loop holding the queue runner, the scheduler and webhooks.

:class:`Agent` runs, on the loop it is awaited on (plain asyncio headless; Qt's loop
through qasync once the tray exists):

- stale-run recovery at start (an execution left ``running`` by an agent that died is
  marked failed before anything else looks at it), then periodically in the runner;
- the :class:`~glyphic_desktop.agent.queue.QueueRunner` (pending executions);
- a scheduler tick every second: :func:`~glyphic_desktop.agent.scheduler.fire_due_schedules`
  in a worker thread (skipped while ``schedules_paused``); when it creates executions the
  runner is woken at once;
- with ``webhook_port``, the listener :func:`~glyphic_desktop.agent.webhooks.serve_webhooks`.

Nothing here imports Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from glyphic_desktop.agent.queue import ClaimedExecution, QueueRunner, recover_stale_runs
from glyphic_desktop.agent.scheduler import fire_due_schedules
from glyphic_desktop.agent.webhooks import serve_webhooks
from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)


def default_agent_name() -> str:
    """``hostname:pid``, the name an agent records in ``executions.claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Agent:
    """The tray agent's work, headless: queue runner, scheduler tick, webhook listener.

    ``name`` defaults to ``hostname:pid``. ``tick_interval`` is the scheduler's period.
    The caller owns ``db`` and installs signal handlers that set the ``stop`` event.
    """

    def __init__(
        self,
        db: Database,
        *,
        name: str | None = None,
        webhook_port: int | None = None,
        concurrency: int = 4,
        webhook_host: str = "127.0.0.1",
        poll_interval: float = 1.0,
        heartbeat_interval: float = 10.0,
        stale_after: float | None = None,
        tick_interval: float = 1.0,
        registry: NodeRegistry | None = None,
        on_finished: Callable[[ClaimedExecution, str, str | None], None] | None = None,
    ) -> None:
        self.db = db
        self.name = name or default_agent_name()
        self.webhook_port = webhook_port
        self.webhook_host = webhook_host
        self.tick_interval = tick_interval
        self.runner = QueueRunner(
            db,
            agent=self.name,
            concurrency=concurrency,
            poll_interval=poll_interval,
            heartbeat_interval=heartbeat_interval,
            stale_after=stale_after,
            registry=registry,
            on_finished=on_finished,
        )
        # The tray's "Pause schedules": no schedule fires while set; missed times are
        # handled by each schedule's misfire policy once resumed.
        self.schedules_paused = False
        self._tick_error: str | None = None

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a run counts as abandoned."""
        return self.runner.stale_after

    async def recover(self) -> int:
        """Mark abandoned runs failed (see :func:`recover_stale_runs`); returns how many."""
        count = await asyncio.to_thread(recover_stale_runs, self.db, stale_after=self.stale_after)
        if count:
            log.warning("marked %d run(s) of stopped agents failed", count)
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then stop cleanly (running executions end cancelled).

        Raises :class:`GlyphicError` when the webhook listener cannot run (e.g. its port
        is taken); the other parts are stopped first.
        """
        log.info(
            "agent %s started (concurrency %d, webhooks %s)",
            self.name,
            self.runner.concurrency,
            f"on {self.webhook_host}:{self.webhook_port}" if self.webhook_port else "off",
        )
        await self.recover()
        failure: list[BaseException] = []
        inner = asyncio.Event()  # stops every part: set by ``stop`` or by a failing part

        async def relay() -> None:
            await stop.wait()
            inner.set()

        tasks = [
            asyncio.create_task(relay(), name="agent stop relay"),
            asyncio.create_task(self.runner.run(inner), name="queue runner"),
            asyncio.create_task(self._ticks(inner), name="scheduler tick"),
        ]
        if self.webhook_port:
            tasks.append(
                asyncio.create_task(self._webhooks(inner, failure), name="webhook listener")
            )
        try:
            await inner.wait()
        finally:
            inner.set()
            tasks[0].cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for task, result in zip(tasks, results, strict=True):
                if isinstance(result, Exception):
                    log.error("%s ended with an error: %r", task.get_name(), result)
            log.info("agent %s stopped", self.name)
        if failure:
            raise GlyphicError(
                f"the webhook listener on {self.webhook_host}:{self.webhook_port} "
                f"failed: {failure[0]}"
            )

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Recover stale runs, fire due schedules once, run what is pending now; then return.

        Returns how many executions were started.
        """
        await self.recover()
        await self.tick()
        return await self.runner.run_pending(stop)

    # -- the scheduler -----------------------------------------------------------------

    async def tick(self) -> None:
        """One scheduler pass: fire due schedules (in a thread); wake the runner on news."""
        if self.schedules_paused:
            return
        try:
            created = await asyncio.to_thread(fire_due_schedules, self.db, agent=self.name)
        except Exception as exc:
            message = f"{exc.__class__.__name__}: {exc}"
            if message != self._tick_error:  # once per distinct error, not every second
                log.error("the scheduler tick failed: %s", message, exc_info=True)
                self._tick_error = message
            return
        self._tick_error = None
        if created:
            self.runner.wake()

    async def _ticks(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.tick_interval)

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
