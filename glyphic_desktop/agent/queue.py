"""The queue of pending executions and the runner that works through it (DESIGN.md §7).

Everything that wants a run in the background (the editor's "run in background", a
webhook, a schedule) inserts a ``pending`` execution; agents claim and run them.

**Claiming.** :func:`claim_pending` selects the oldest ``pending`` rows with
``FOR UPDATE SKIP LOCKED`` and, in the same transaction, stamps them with
``claimed_by`` = the agent and ``heartbeat_at`` = now. The status stays ``pending``:
:func:`~glyphic_desktop.engine.runner.run_workflow_async` moves it to ``running`` after
preflight (or straight to ``failed`` when preflight fails), so a claimed row goes
through exactly the same steps as any other run. A row is claimable only while
``claimed_by`` is empty, so once one agent's claim is committed no other agent can
take it; two agents claiming at the same moment never see each other's locked rows
(``SKIP LOCKED``), and PostgreSQL re-checks ``claimed_by IS NULL`` on the newest row
version before it locks a row another agent has just claimed. A claim whose
``heartbeat_at`` is older than ``reclaim_after`` seconds (the agent died between
claiming and starting) is claimable again. While an agent holds a claim it touches
``heartbeat_at`` every ``heartbeat_interval`` seconds (pending and running alike),
so a live agent's claim never looks stale.

**Overlap policy 'queue'.** An execution of a schedule whose ``overlap_policy`` is
``'queue'`` is claimed only when no other execution of that schedule is running or
claimed and none is pending from before it: such executions run one after the other,
oldest first, whichever agent runs them.

**Stale runs.** :func:`recover_stale_runs` marks ``failed`` every execution an agent
claimed that is still ``running`` with no heartbeat (or, without one, no start) for
``stale_after`` seconds. Runs started without an agent (``glyphic run``, the editor's
Run) have no heartbeat and are left alone.

**Running.** :class:`QueueRunner` claims what it has room for (``concurrency``),
runs each claimed execution with ``run_workflow_async`` as the row's user and stops
cleanly: every run gets its cancel event set and ends ``cancelled``. Polling every
``poll_interval`` seconds finds new work; :meth:`QueueRunner.wake` makes it look at
once (the agent calls it after the scheduler created executions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

#: A claim with no heartbeat for this long (seconds) may be taken by another agent.
DEFAULT_RECLAIM_AFTER = 60.0

_IDS = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))


@dataclass(frozen=True)
class ClaimedExecution:
    """A pending execution an agent claimed: what it needs to run it."""

    id: uuid.UUID
    user_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str | None
    trigger_type: str | None
    trigger_data: Any
    input_data: Any
    schedule_id: uuid.UUID | None
    scheduled_for: datetime | None
    created_at: datetime | None
    claimed_by: str


def _claim_query(created_before: bool) -> Any:
    cutoff = "AND e.created_at <= :created_before" if created_before else ""
    return text(
        f"""
        SELECT e.id, e.user_id, e.workflow_id,
               (SELECT w.name FROM workflows w WHERE w.id = e.workflow_id) AS workflow_name,
               e.trigger_type, e.trigger_data, e.input_data, e.schedule_id,
               e.scheduled_for, e.created_at
        FROM executions e
        WHERE e.status = 'pending'
          AND (e.claimed_by IS NULL
               OR e.heartbeat_at IS NULL
               OR e.heartbeat_at < now() - make_interval(secs => :reclaim_after))
          {cutoff}
          AND NOT EXISTS (
            SELECT 1 FROM schedules s
            WHERE s.id = e.schedule_id
              AND s.overlap_policy = 'queue'
              AND EXISTS (
                SELECT 1 FROM executions o
                WHERE o.schedule_id = e.schedule_id
                  AND o.id <> e.id
                  AND (o.status = 'running'
                       OR (o.status = 'pending' AND o.claimed_by IS NOT NULL)
                       OR (o.status = 'pending' AND (o.created_at, o.id) < (e.created_at, e.id)))
              )
          )
        ORDER BY e.created_at, e.id
        LIMIT :limit
        FOR UPDATE OF e SKIP LOCKED
        """
    )


def claim_pending(
    db: Database,
    *,
    agent: str,
    limit: int,
    reclaim_after: float = DEFAULT_RECLAIM_AFTER,
    created_before: datetime | None = None,
) -> list[ClaimedExecution]:
    """Claim up to ``limit`` pending executions (oldest first) for ``agent``, in one transaction.

    ``created_before`` limits the claim to executions created by then (``--once``).
    Returns the claimed executions; their status is still ``pending`` (see the module
    docstring).
    """
    if not agent:
        raise ValueError("claim_pending needs the agent's name")
    if limit <= 0:
        return []
    params: dict[str, Any] = {"limit": limit, "reclaim_after": float(reclaim_after)}
    if created_before is not None:
        params["created_before"] = created_before
    with db.session() as session:
        rows = session.execute(_claim_query(created_before is not None), params).all()
        if not rows:
            return []
        session.execute(
            text(
                "UPDATE executions SET claimed_by = :agent, heartbeat_at = now() "
                "WHERE id = ANY(:ids)"
            ).bindparams(_IDS),
            {"agent": agent, "ids": [row.id for row in rows]},
        )
    return [
        ClaimedExecution(
            id=row.id,
            user_id=row.user_id,
            workflow_id=row.workflow_id,
            workflow_name=row.workflow_name,
            trigger_type=row.trigger_type,
            trigger_data=row.trigger_data,
            input_data=row.input_data,
            schedule_id=row.schedule_id,
            scheduled_for=row.scheduled_for,
            created_at=row.created_at,
            claimed_by=agent,
        )
        for row in rows
    ]


def touch_claims(db: Database, *, agent: str, ids: list[uuid.UUID]) -> int:
    """Touch ``heartbeat_at`` of the unfinished executions in ``ids`` that ``agent`` holds."""
    if not ids:
        return 0
    with db.session() as session:
        result = session.execute(
            text(
                "UPDATE executions SET heartbeat_at = now() "
                "WHERE id = ANY(:ids) AND claimed_by = :agent "
                "AND status IN ('pending', 'running')"
            ).bindparams(_IDS),
            {"agent": agent, "ids": list(ids)},
        )
        return result.rowcount or 0


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "an unknown time"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def recover_stale_runs(db: Database, *, stale_after: float) -> int:
    """Mark ``failed`` the agent-claimed runs left ``running`` with no recent heartbeat.

    A run is stale when its last heartbeat is older than ``stale_after`` seconds.

    The age is that of ``heartbeat_at``, or of ``started_at`` when there is no
    heartbeat. Each row is finished like any run (timings, the workflow's counters),
    with the error message "the agent running it stopped (no heartbeat since ...)".
    Returns how many executions were marked failed.
    """
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    if stale_after <= 0:
        raise ValueError("stale_after must be a positive number of seconds")
    with db.session() as session:
        rows = session.execute(
            text(
                """
                SELECT id, user_id, claimed_by, coalesce(heartbeat_at, started_at) AS seen
                FROM executions
                WHERE status = 'running'
                  AND claimed_by IS NOT NULL
                  AND coalesce(heartbeat_at, started_at, created_at)
                      < now() - make_interval(secs => :stale_after)
                ORDER BY created_at
                FOR UPDATE SKIP LOCKED
                """
            ),
            {"stale_after": float(stale_after)},
        ).all()
        for row in rows:
            message = (
                f"the agent running it stopped (no heartbeat since {_when(row.seen)}; "
                f"agent {row.claimed_by})"
            )
            ExecutionRepository(session, row.user_id).finish(
                row.id, "failed", error_message=message, return_record=False
            )
            log.warning("execution %s marked failed: %s", row.id, message)
    return len(rows)


def _fail_unfinished(db: Database, claimed: ClaimedExecution, message: str) -> bool:
    """Finish ``claimed`` as failed when it is still unfinished and held by its agent."""
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    with db.session() as session:
        held = session.execute(
            text(
                "SELECT 1 FROM executions WHERE id = :id AND claimed_by = :agent "
                "AND status IN ('pending', 'running') FOR UPDATE"
            ),
            {"id": claimed.id, "agent": claimed.claimed_by},
        ).first()
        if held is None:
            return False
        ExecutionRepository(session, claimed.user_id).finish(
            claimed.id, "failed", error_message=message, return_record=False
        )
        return True


def _database_now(db: Database) -> datetime:
    with db.session() as session:
        return session.execute(text("SELECT clock_timestamp()")).scalar_one()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GlyphicError):
        return exc.message
    first = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {first[0]}" if first else exc.__class__.__name__


@dataclass
class _Job:
    claimed: ClaimedExecution
    cancel: threading.Event
    task: asyncio.Task[Any] | None = None


class QueueRunner:
    """Claims pending executions and runs them, at most ``concurrency`` at a time.

    ``stale_after`` (default ``max(60, 6 × heartbeat_interval)``) is both how old a
    claim must be before another agent may take it and how long a running execution
    may go without a heartbeat before :func:`recover_stale_runs` (called at start and
    every ``stale_after / 2`` seconds) marks it failed. ``shutdown_timeout`` bounds how
    long a stop waits for cancelled runs to record themselves before their tasks are
    cancelled outright. ``registry`` defaults to the node catalog.
    """

    def __init__(
        self,
        db: Database,
        *,
        agent: str,
        concurrency: int = 4,
        poll_interval: float = 1.0,
        heartbeat_interval: float = 10.0,
        stale_after: float | None = None,
        shutdown_timeout: float = 10.0,
        registry: NodeRegistry | None = None,
        on_finished: Callable[[ClaimedExecution, str, str | None], None] | None = None,
    ) -> None:
        if not agent:
            raise ValueError("the queue runner needs the agent's name")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if poll_interval <= 0 or heartbeat_interval <= 0:
            raise ValueError("poll_interval and heartbeat_interval must be positive")
        self.db = db
        self.agent = agent
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after or max(DEFAULT_RECLAIM_AFTER, 6 * heartbeat_interval)
        self.shutdown_timeout = shutdown_timeout
        self.registry = registry
        # Called on the loop with (execution, final status, error) after every run: the
        # tray notifies failures through it.
        self.on_finished = on_finished
        self.started = 0  # executions this runner has started running
        self.outcomes: dict[str, int] = {}  # final status (or 'error') -> count
        self._jobs: dict[uuid.UUID, _Job] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claim_error: str | None = None

    # -- public ------------------------------------------------------------------------

    @property
    def active(self) -> list[uuid.UUID]:
        """The ids of the executions this runner holds right now."""
        return list(self._jobs)

    def wake(self) -> None:
        """Look for pending executions now instead of at the next poll (thread-safe)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None:
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        loop.call_soon_threadsafe(event.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run pending executions until ``stop`` is set; then cancel what runs."""
        await self._serve(stop, once=False)

    async def run_pending(self, stop: asyncio.Event | None = None) -> int:
        """Run what is pending now (and what becomes claimable while doing so), then return.

        Executions created after the call are left for later. Returns how many
        executions this runner started.
        """
        return await self._serve(stop or asyncio.Event(), once=True)

    # -- the loop ----------------------------------------------------------------------

    async def _serve(self, stop: asyncio.Event, *, once: bool) -> int:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        started_before = self.started
        watcher = asyncio.create_task(self._watch_stop(stop))
        beat = asyncio.create_task(self._heartbeats())
        next_recovery = 0.0
        try:
            cutoff = await asyncio.to_thread(_database_now, self.db) if once else None
            while not stop.is_set():
                if time.monotonic() >= next_recovery:
                    await self._recover()
                    next_recovery = time.monotonic() + self.stale_after / 2
                self._wake.clear()
                claimed = await self._fill(cutoff)
                if once:
                    if not claimed and not self._jobs:
                        break
                    await self._wake.wait()  # a run ended (or stop): look again
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            await self._shutdown()
            watcher.cancel()
            beat.cancel()
        return self.started - started_before

    async def _watch_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        assert self._wake is not None
        self._wake.set()

    async def _recover(self) -> None:
        try:
            count = await asyncio.to_thread(
                recover_stale_runs, self.db, stale_after=self.stale_after
            )
        except Exception as exc:
            log.warning("could not look for stale runs: %s", _one_line(exc))
            return
        if count:
            log.warning("marked %d stale run(s) failed", count)

    async def _fill(self, cutoff: datetime | None) -> int:
        room = self.concurrency - len(self._jobs)
        if room <= 0:
            return 0
        try:
            claimed = await asyncio.to_thread(
                claim_pending,
                self.db,
                agent=self.agent,
                limit=room,
                reclaim_after=self.stale_after,
                created_before=cutoff,
            )
        except Exception as exc:
            message = _one_line(exc)
            if message != self._claim_error:  # say it once, not every poll
                log.error("could not claim pending executions: %s", message)
                self._claim_error = message
            return 0
        if self._claim_error is not None:
            log.info("claiming pending executions works again")
            self._claim_error = None
        for each in claimed:
            job = _Job(each, threading.Event())
            self._jobs[each.id] = job
            job.task = asyncio.create_task(self._run_one(job), name=f"execution {each.id}")
            job.task.add_done_callback(lambda _task, key=each.id: self._job_done(key))
        return len(claimed)

    def _job_done(self, key: uuid.UUID) -> None:
        self._jobs.pop(key, None)
        if self._wake is not None:
            self._wake.set()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            ids = list(self._jobs)
            if not ids:
                continue
            try:
                await asyncio.to_thread(touch_claims, self.db, agent=self.agent, ids=ids)
            except Exception as exc:
                log.warning("could not record the agent's heartbeat: %s", _one_line(exc))

    async def _run_one(self, job: _Job) -> None:
        from glyphic_desktop.engine.preflight import PreflightFailed
        from glyphic_desktop.engine.runner import run_workflow_async

        claimed = job.claimed
        label = f"execution {claimed.id} of {claimed.workflow_name or claimed.workflow_id!s}"
        self.started += 1
        log.info("%s: starting (%s)", label, claimed.trigger_type or "manual")
        try:
            result = await run_workflow_async(
                self.db,
                claimed.user_id,
                claimed.workflow_id,
                execution_id=claimed.id,
                claimed_by=self.agent,
                trigger=claimed.trigger_type or "manual",
                trigger_data=claimed.trigger_data,
                input=claimed.input_data,
                cancel_event=job.cancel,
                heartbeat_interval=self.heartbeat_interval,
                registry=self.registry,
            )
        except PreflightFailed as failure:
            log.warning("%s: failed preflight: %s", label, failure.message)
            self._finished(claimed, "failed", failure.message)
            return
        except Exception as exc:
            log.error("%s: could not run: %s", label, _one_line(exc), exc_info=True)
            try:
                await asyncio.to_thread(
                    _fail_unfinished, self.db, claimed, f"the agent could not run it: {exc}"
                )
            except Exception as again:
                log.error("%s: could not record the failure: %s", label, _one_line(again))
            self._finished(claimed, "error", _one_line(exc))
            return
        if result.status == "completed":
            log.info("%s: completed in %.0f ms", label, result.duration_ms)
        elif result.status == "cancelled":
            log.info("%s: cancelled", label)
        else:
            log.warning("%s: failed: %s", label, result.error)
        self._finished(claimed, result.status, result.error)

    def _finished(self, claimed: ClaimedExecution, status: str, error: str | None) -> None:
        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        if self.on_finished is not None:
            try:
                self.on_finished(claimed, status, error)
            except Exception:  # a listener's bug must not stop the runner
                log.exception("the on_finished listener failed")

    async def _shutdown(self) -> None:
        jobs = list(self._jobs.values())
        if not jobs:
            return
        log.info("stopping: cancelling %d run(s)", len(jobs))
        for job in jobs:
            job.cancel.set()
        tasks = [job.task for job in jobs if job.task is not None]
        _done, pending = await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=self.shutdown_timeout)
