"""The queue of pending executions and the runner that works through it (DESIGN.md §7).

Everything that wants a run in the background (the editor's "run in background", a
webhook, a schedule) inserts a ``pending`` execution; agents claim and run them.

**Claiming and starting** are one statement (:func:`claim_and_start`): the oldest
``pending`` rows are selected with ``FOR UPDATE SKIP LOCKED`` and, in the same
statement, set ``running`` with ``started_at``, ``claimed_by`` (the agent's name) and
``process_id`` (its ``run_processes`` row, 0007); the workflow's name, version and trust
come back with them, and its document is read in the same transaction only when the
runner has not parsed that version yet. The runner claims only what it has room for
(``concurrency``), so every row it claims starts at once: there is no "claimed but not
started" state in the runner. A row is claimable while no live process holds it
(``claimed_by`` empty, or an old-style claim whose ``heartbeat_at`` is older than
``reclaim_after``). :func:`claim_pending` is the older two-step claim (rows stay
``pending`` until the run starts); :func:`hand_back` returns such rows to the queue.

**Overlap policy 'queue'.** An execution of a schedule whose ``overlap_policy`` is
``'queue'`` is claimed only when no other execution of that schedule is running or
claimed and none is pending from before it: such executions run one after the other,
oldest first, whichever agent runs them.

**Lost runs.** :func:`recover_lost_runs` (run by every agent at start and at least every
5 s) looks at every process that runs executions, not only agents: a ``run_processes``
row whose heartbeat is older than ``stale_after`` (default 25 s, so its runs fail within
30 s of the last heartbeat) belongs to a dead process. Its ``running`` executions are
marked ``failed`` ("the <kind> running it stopped ..."), its claimed-but-pending ones go
back to the queue, and the row is deleted. Rows from before 0007 (an agent name in
``claimed_by``, no process) follow the old rule: running with no heartbeat for
``stale_after``. A failed schedule or webhook run is queued again when its policy allows
(``retry_lost_runs`` of the schedule / webhook, default 1): the new ``pending`` row
carries ``attempt`` (2, 3, ...) and ``retry_of`` in its ``trigger_data``.

**Stopping** (:meth:`QueueRunner.run` when its stop event is set, e.g. SIGTERM): no
more claims; claimed-but-pending rows are handed back; running executions get
``stop_grace`` seconds (default 30, ``GLYPHIC_STOP_GRACE``) to finish; what still runs
then is cancelled and, for schedule and webhook runs, queued again under the same
bounded attempts.

**Writing.** Runs hand their log lines and final rows to one
:class:`~glyphic_desktop.agent.batch_writer.BatchWriter`: many runs per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session

from glyphic_desktop.agent import DEFAULT_CONCURRENCY
from glyphic_desktop.agent.processes import OutageMonitor
from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.agent.batch_writer import BatchWriter
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

#: A claim with no heartbeat for this long (seconds) may be taken by another agent.
DEFAULT_RECLAIM_AFTER = 60.0
DEFAULT_STALE_AFTER = 25.0
DEFAULT_STOP_GRACE = 30.0
STOP_GRACE_ENV = "GLYPHIC_STOP_GRACE"
RETRIED_TRIGGERS = ("schedule", "webhook")
_DOCUMENT_CACHE = 64
_POLICY_TTL = 2.0

_IDS = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))


def default_stop_grace() -> float:
    """Seconds running executions get to finish when the agent stops (default 30)."""
    from glyphic_desktop.agent.processes import _env_seconds

    return _env_seconds(STOP_GRACE_ENV, DEFAULT_STOP_GRACE)


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
    started_at: datetime | None = None
    workflow_version: int | None = None
    untrusted_nodes: tuple[str, ...] = ()
    untrusted_source: str | None = None
    resuming: bool = False  # a run that waited (0012): it goes on from its resume_state


_CLAIMABLE = """
        e.status = 'pending'
          AND (e.claimed_by IS NULL
               OR (e.process_id IS NULL
                   AND (e.heartbeat_at IS NULL
                        OR e.heartbeat_at < now() - make_interval(secs => :reclaim_after))))
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
"""


def _claimable(created_before: bool) -> str:
    return _CLAIMABLE.format(cutoff="AND e.created_at <= :created_before" if created_before else "")


def _claim_query(created_before: bool) -> Any:
    return text(
        f"""
        SELECT e.id, e.user_id, e.workflow_id,
               (SELECT w.name FROM workflows w WHERE w.id = e.workflow_id) AS workflow_name,
               e.trigger_type, e.trigger_data, e.input_data, e.schedule_id,
               e.scheduled_for, e.created_at
        FROM executions e
        WHERE {_claimable(created_before)}
        ORDER BY e.created_at, e.id
        LIMIT :limit
        FOR UPDATE OF e SKIP LOCKED
        """
    )


def _claim_and_start_query(created_before: bool) -> Any:
    return text(
        f"""
        WITH picked AS (
          SELECT e.id FROM executions e
          WHERE {_claimable(created_before)}
          ORDER BY e.created_at, e.id
          LIMIT :limit
          FOR UPDATE OF e SKIP LOCKED
        )
        UPDATE executions e
        SET status = 'running', started_at = now(), claimed_by = :agent,
            process_id = :process, heartbeat_at = now()
        FROM picked, workflows w
        WHERE e.id = picked.id AND w.id = e.workflow_id
        RETURNING e.id, e.user_id, e.workflow_id, w.name AS workflow_name,
                  w.version AS workflow_version, w.untrusted_nodes, w.untrusted_source,
                  e.trigger_type, e.trigger_data, e.input_data, e.schedule_id,
                  e.scheduled_for, e.created_at, e.started_at,
                  (e.resume_state IS NOT NULL) AS resuming
        """
    )


def _params(limit: int, reclaim_after: float, created_before: datetime | None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit, "reclaim_after": float(reclaim_after)}
    if created_before is not None:
        params["created_before"] = created_before
    return params


def claim_pending(
    db: Database,
    *,
    agent: str,
    limit: int,
    reclaim_after: float = DEFAULT_RECLAIM_AFTER,
    created_before: datetime | None = None,
    process_id: uuid.UUID | None = None,
) -> list[ClaimedExecution]:
    """Claim up to ``limit`` pending executions (oldest first) for ``agent``, in one transaction.

    The two-step claim: rows stay ``pending`` (claimed) until their run starts.
    ``created_before`` limits the claim to executions created by then.
    """
    if not agent:
        raise ValueError("claim_pending needs the agent's name")
    if limit <= 0:
        return []
    with db.session() as session:
        rows = session.execute(
            _claim_query(created_before is not None),
            _params(limit, reclaim_after, created_before),
        ).all()
        if not rows:
            return []
        session.execute(
            text(
                "UPDATE executions SET claimed_by = :agent, process_id = :process, "
                "heartbeat_at = now() WHERE id = ANY(:ids)"
            ).bindparams(_IDS),
            {"agent": agent, "process": process_id, "ids": [row.id for row in rows]},
        )
    return [_claimed(row, agent) for row in rows]


def _claimed(row: Any, agent: str, **started: Any) -> ClaimedExecution:
    """The claim of a queue row (``started``: what claim-and-start adds to it)."""
    return ClaimedExecution(
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
        **started,
    )


class _Documents:
    """Parsed workflow documents by (workflow id, version), most recent first."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[uuid.UUID, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[uuid.UUID, int]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[uuid.UUID, int], document: Any) -> None:
        with self._lock:
            self._items[key] = document
            self._items.move_to_end(key)
            while len(self._items) > _DOCUMENT_CACHE:
                self._items.popitem(last=False)


def claim_and_start(
    db: Database,
    *,
    agent: str,
    process_id: uuid.UUID | None,
    limit: int,
    reclaim_after: float = DEFAULT_RECLAIM_AFTER,
    created_before: datetime | None = None,
    documents: _Documents | None = None,
) -> tuple[list[ClaimedExecution], dict[tuple[uuid.UUID, int], Any]]:
    """Claim up to ``limit`` pending executions and mark them ``running``, in one transaction.

    Returns the claimed executions and the documents (by workflow id and version) the
    cache did not hold, parsed.
    """
    from glyphic_desktop.store.repositories.workflows import load_document

    if not agent:
        raise ValueError("claim_and_start needs the agent's name")
    if limit <= 0:
        return [], {}
    with db.session() as session:
        rows = session.execute(
            _claim_and_start_query(created_before is not None),
            {
                **_params(limit, reclaim_after, created_before),
                "agent": agent,
                "process": process_id,
            },
        ).all()
        if not rows:
            return [], {}
        wanted = {
            (row.workflow_id, row.workflow_version)
            for row in rows
            if documents is None or documents.get((row.workflow_id, row.workflow_version)) is None
        }
        loaded: dict[tuple[uuid.UUID, int], Any] = {}
        if wanted:
            texts = session.execute(
                text(
                    "SELECT id, version, name, workflow_data::text AS data FROM workflows "
                    "WHERE id = ANY(:ids)"
                ).bindparams(_IDS),
                {"ids": list({key[0] for key in wanted})},
            ).all()
            for each in texts:
                key = (each.id, each.version)
                if key in wanted:
                    loaded[key] = load_document(
                        each.data, where=f"stored workflow {each.name!r} ({each.id})"
                    )
    claimed = [
        _claimed(
            row,
            agent,
            started_at=row.started_at,
            workflow_version=row.workflow_version,
            untrusted_nodes=tuple(row.untrusted_nodes or ()),
            untrusted_source=row.untrusted_source,
            resuming=bool(row.resuming),
        )
        for row in rows
    ]
    return claimed, loaded


def hand_back(
    db: Database, *, process_id: uuid.UUID | None = None, agent: str | None = None
) -> int:
    """Return the claimed-but-not-started (``pending``) rows of a process to the queue."""
    held = []
    if process_id is not None:
        held.append("process_id = :process")
    if agent:
        held.append("claimed_by = :agent")
    if not held:
        return 0
    with db.session() as session:
        result = session.execute(
            text(
                "UPDATE executions SET claimed_by = NULL, process_id = NULL, heartbeat_at = NULL "
                f"WHERE status = 'pending' AND ({' OR '.join(held)})"
            ),
            {"process": process_id, "agent": agent},
        )
        return result.rowcount or 0


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


# -- retries of lost runs --------------------------------------------------------------------


def _attempt(trigger_data: Any) -> int:
    if isinstance(trigger_data, dict):
        value = trigger_data.get("attempt")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return 1


def _retry_limit(session: Session, trigger_type: str | None, row: Any) -> int:
    """How many retries the run's schedule / webhook allows (0 when it is gone)."""
    data = row.trigger_data if isinstance(row.trigger_data, dict) else {}
    if trigger_type == "schedule":
        schedule_id = row.schedule_id or data.get("schedule_id")
        if schedule_id is None:
            return 0
        found = session.execute(
            text("SELECT retry_lost_runs FROM schedules WHERE id = CAST(:id AS uuid)"),
            {"id": str(schedule_id)},
        ).scalar_one_or_none()
    elif trigger_type == "webhook":
        webhook_id = data.get("webhook_id")
        if webhook_id is None:
            return 0
        try:
            webhook_id = str(uuid.UUID(str(webhook_id)))
        except ValueError:
            return 0
        found = session.execute(
            text("SELECT retry_lost_runs FROM webhooks WHERE id = CAST(:id AS uuid)"),
            {"id": webhook_id},
        ).scalar_one_or_none()
    else:
        return 0
    return int(found or 0)


def queue_retry(session: Session, execution_id: uuid.UUID, reason: str) -> uuid.UUID | None:
    """Queue a new ``pending`` attempt of a lost schedule / webhook run, when its policy
    allows another; returns the new execution's id (None when none is due).

    A run that was lost after a wait (it holds ``resume_state``) passes that state on:
    the new attempt resumes after the Wait node instead of running the nodes before it
    a second time."""
    row = session.execute(
        text(
            "SELECT id, workflow_id, user_id, trigger_type, trigger_data, input_data, "
            "schedule_id, resume_state::text AS resume_state FROM executions WHERE id = :id"
        ),
        {"id": execution_id},
    ).one_or_none()
    if row is None or row.trigger_type not in RETRIED_TRIGGERS:
        return None
    attempt = _attempt(row.trigger_data)
    if attempt - 1 >= _retry_limit(session, row.trigger_type, row):
        log.warning(
            "execution %s (%s, attempt %d) is not retried: no attempts left",
            row.id,
            row.trigger_type,
            attempt,
        )
        return None
    data = dict(row.trigger_data) if isinstance(row.trigger_data, dict) else {}
    data.update({"attempt": attempt + 1, "retry_of": str(row.id), "retry_reason": reason})
    new_id = session.execute(
        text(
            "INSERT INTO executions (workflow_id, user_id, status, trigger_type, trigger_data, "
            "input_data, schedule_id, resume_state) VALUES (:wid, :uid, 'pending', :type, "
            "CAST(:data AS jsonb), CAST(:input AS jsonb), :sid, CAST(:resume AS jsonb)) "
            "RETURNING id"
        ),
        {
            "wid": row.workflow_id,
            "uid": row.user_id,
            "type": row.trigger_type,
            "data": json.dumps(data),
            "input": None if row.input_data is None else json.dumps(row.input_data),
            "sid": row.schedule_id,
            "resume": row.resume_state,
        },
    ).scalar_one()
    log.warning(
        "execution %s (%s) queued again as %s (attempt %d): %s",
        row.id,
        row.trigger_type,
        new_id,
        attempt + 1,
        reason,
    )
    return new_id


def retry_cancelled(db: Database, ids: list[uuid.UUID], reason: str) -> list[uuid.UUID]:
    """Queue retries of the ``cancelled`` schedule / webhook runs among ``ids``."""
    if not ids:
        return []
    created = []
    with db.session() as session:
        rows = session.execute(
            text(
                "SELECT id FROM executions WHERE id = ANY(:ids) AND status = 'cancelled' "
                "AND trigger_type IN ('schedule', 'webhook')"
            ).bindparams(_IDS),
            {"ids": list(ids)},
        ).scalars()
        for execution_id in list(rows):
            new_id = queue_retry(session, execution_id, reason)
            if new_id is not None:
                created.append(new_id)
    return created


# -- recovery ------------------------------------------------------------------------------------


@dataclass
class Recovery:
    """What one recovery pass did."""

    failed: list[uuid.UUID]
    released: list[uuid.UUID]
    retried: list[uuid.UUID]
    processes: list[str]  # descriptions of the dead processes removed


_LOST = text(
    """
    SELECT e.id, e.user_id, e.status, e.claimed_by, e.process_id,
           p.kind, p.name AS process_name, p.pid, p.host,
           coalesce(p.heartbeat_at, e.heartbeat_at, e.started_at) AS seen
    FROM executions e
    LEFT JOIN run_processes p ON p.id = e.process_id
    WHERE e.status IN ('pending', 'running')
      AND (CAST(:me AS uuid) IS NULL OR e.process_id IS DISTINCT FROM :me)
      AND (
        (e.process_id IS NOT NULL
         AND p.heartbeat_at < now() - make_interval(secs => :stale_after))
        OR (e.process_id IS NULL AND e.claimed_by IS NOT NULL AND e.status = 'running'
            AND coalesce(e.heartbeat_at, e.started_at, e.created_at)
                < now() - make_interval(secs => :stale_after))
      )
    ORDER BY e.created_at
    FOR UPDATE OF e SKIP LOCKED
    """
)


def recover_lost_runs(
    db: Database,
    *,
    stale_after: float,
    retry: bool = True,
    exclude: uuid.UUID | None = None,
) -> Recovery:
    """Fail the runs of dead processes (any kind), hand back their claims, retry what the
    policies allow, and remove the dead processes' rows (module docstring).

    ``exclude`` is the caller's own process: alive by definition, even when its heartbeat
    thread was held up (a loaded machine, a long pause of the interpreter).
    """
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    if stale_after <= 0:
        raise ValueError("stale_after must be a positive number of seconds")
    outcome = Recovery([], [], [], [])
    with db.session() as session:
        dead = session.execute(
            text(
                "SELECT id, kind, name, pid, host, heartbeat_at FROM run_processes "
                "WHERE heartbeat_at < now() - make_interval(secs => :stale_after) "
                "AND id IS DISTINCT FROM :me FOR UPDATE SKIP LOCKED"
            ).bindparams(bindparam("me", type_=UUID(as_uuid=True))),
            {"stale_after": float(stale_after), "me": exclude},
        ).all()
        rows = session.execute(
            _LOST.bindparams(bindparam("me", type_=UUID(as_uuid=True))),
            {"stale_after": float(stale_after), "me": exclude},
        ).all()
        for row in rows:
            if row.status == "pending":
                session.execute(
                    text(
                        "UPDATE executions SET claimed_by = NULL, process_id = NULL, "
                        "heartbeat_at = NULL WHERE id = :id"
                    ),
                    {"id": row.id},
                )
                outcome.released.append(row.id)
                continue
            who = (
                f"{row.kind} {row.process_name} (pid {row.pid} on {row.host})"
                if row.kind
                else f"agent {row.claimed_by}"
            )
            kind = row.kind or "agent"
            message = f"the {kind} running it stopped (no heartbeat since {_when(row.seen)}; {who})"
            ExecutionRepository(session, row.user_id).finish(
                row.id, "failed", error_message=message, return_record=False
            )
            outcome.failed.append(row.id)
            log.warning("execution %s marked failed: %s", row.id, message)
            if retry:
                new_id = queue_retry(session, row.id, f"the {kind} running it stopped")
                if new_id is not None:
                    outcome.retried.append(new_id)
        if dead:
            session.execute(
                text("DELETE FROM run_processes WHERE id = ANY(:ids)").bindparams(_IDS),
                {"ids": [each.id for each in dead]},
            )
            for each in dead:
                outcome.processes.append(f"{each.kind} {each.name} (pid {each.pid} on {each.host})")
                log.warning(
                    "%s %s (pid %d on %s) stopped heartbeating at %s: taken for dead",
                    each.kind,
                    each.name,
                    each.pid,
                    each.host,
                    _when(each.heartbeat_at),
                )
    return outcome


def recover_stale_runs(db: Database, *, stale_after: float) -> int:
    """:func:`recover_lost_runs`; returns how many executions were marked failed."""
    return len(recover_lost_runs(db, stale_after=stale_after).failed)


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
    cut_off: bool = False  # cancelled because the stop grace ran out
    executing: bool = True  # False once its nodes ran and only its final row is written


class QueueRunner:
    """Claims pending executions and runs them, at most ``concurrency`` at a time.

    ``process_id`` is the agent's ``run_processes`` row (its heartbeat keeps the runs'
    rows fresh). ``stale_after`` (default 25 s) is how long a process may go without a
    heartbeat before :func:`recover_lost_runs` (called at start and every
    ``heartbeat_interval`` seconds) fails its runs; old-style claims with no process are
    taken over after ``max(60, stale_after)``. ``stop_grace`` (default 30 s,
    ``GLYPHIC_STOP_GRACE``) is how long a stop lets running executions finish.
    ``registry`` defaults to the node catalog.
    """

    def __init__(
        self,
        db: Database,
        *,
        agent: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        poll_interval: float = 1.0,
        heartbeat_interval: float = 5.0,
        stale_after: float | None = None,
        shutdown_timeout: float = 10.0,
        stop_grace: float | None = None,
        registry: NodeRegistry | None = None,
        on_finished: Callable[[ClaimedExecution, str, str | None], None] | None = None,
        process_id: uuid.UUID | None = None,
        monitor: OutageMonitor | None = None,
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
        self.stale_after = stale_after or DEFAULT_STALE_AFTER
        self.reclaim_after = max(DEFAULT_RECLAIM_AFTER, self.stale_after)
        self.shutdown_timeout = shutdown_timeout
        self.stop_grace = default_stop_grace() if stop_grace is None else stop_grace
        self.registry = registry
        self.process_id = process_id
        self.monitor = monitor or OutageMonitor("agent")
        # Called on the loop with (execution, final status, error) after every run: the
        # tray notifies failures through it.
        self.on_finished = on_finished
        self.started = 0  # executions this runner has started running
        self.outcomes: dict[str, int] = {}  # final status (or 'error') -> count
        self.retried: list[uuid.UUID] = []  # retries queued when the grace ran out
        self.recovery_paused_until = 0.0  # monotonic: no recovery before (after an outage)
        self._jobs: dict[uuid.UUID, _Job] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claim_error: str | None = None
        self._documents = _Documents()
        from glyphic_desktop.engine.compiled import CompiledDocuments

        self._compiled = CompiledDocuments()  # checked and compiled once per stored version
        self._policies: dict[uuid.UUID, tuple[float, dict[str, str]]] = {}
        self._writer: BatchWriter | None = None
        self._claim_at = max(1, concurrency // 4)
        self.claims = 0  # claim transactions that found work
        self.flushes = 0  # batch writer transactions

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
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(event.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run pending executions until ``stop`` is set; then stop (see module)."""
        await self._serve(stop, once=False)

    async def run_pending(self, stop: asyncio.Event | None = None) -> int:
        """Run what is pending now (and what becomes claimable while doing so), then return.

        Executions created after the call are left for later. Returns how many
        executions this runner started.
        """
        return await self._serve(stop or asyncio.Event(), once=True)

    async def recover(self) -> Recovery | None:
        """One recovery pass (see :func:`recover_lost_runs`); None when it could not run."""
        try:
            outcome = await asyncio.to_thread(
                recover_lost_runs, self.db, stale_after=self.stale_after, exclude=self.process_id
            )
        except Exception as exc:
            if not self.monitor.failed(exc):
                log.warning("could not look for lost runs: %s", _one_line(exc))
            return None
        if outcome.failed or outcome.released:
            log.warning(
                "recovered lost runs: %d failed, %d back in the queue, %d queued again",
                len(outcome.failed),
                len(outcome.released),
                len(outcome.retried),
            )
        if outcome.retried or outcome.released:
            self.wake()
        return outcome

    # -- the loop ----------------------------------------------------------------------

    async def _serve(self, stop: asyncio.Event, *, once: bool) -> int:
        from glyphic_desktop.agent.batch_writer import BatchWriter

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._writer = BatchWriter(self.db, monitor=self.monitor)
        started_before = self.started
        watcher = asyncio.create_task(self._watch_stop(stop))
        beat = None
        if self.process_id is None:  # no registered process: touch the claims ourselves
            beat = asyncio.create_task(self._heartbeats())
        next_recovery = 0.0
        try:
            cutoff = await asyncio.to_thread(_database_now, self.db) if once else None
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_recovery and now >= self.recovery_paused_until:
                    await self.recover()
                    await self._promote_waits()
                    next_recovery = time.monotonic() + min(self.heartbeat_interval, 5.0)
                woken = self._wake.is_set()
                self._wake.clear()
                claimed = await self._fill(cutoff, eager=not woken)
                if once:
                    # a run that ended while the claim was in flight set the wake: its
                    # end may make more rows claimable (a 'queue' schedule's next run)
                    if not claimed and not self._jobs and not self._wake.is_set():
                        break
                    await self._wake.wait()  # a run ended (or stop): look again
                elif claimed == 0 or self._room() <= 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            try:
                await self._shutdown()
            finally:
                watcher.cancel()
                if beat is not None:
                    beat.cancel()
                writer, self._writer = self._writer, None
                await asyncio.to_thread(writer.close, self.shutdown_timeout)
                self.flushes += writer.flushes
        return self.started - started_before

    async def _promote_waits(self) -> None:
        """Due waiting runs (engine/waits.py) become pending: this or another agent runs them."""
        from glyphic_desktop.engine.waits import promote_due

        try:
            due = await asyncio.to_thread(promote_due, self.db)
        except Exception as exc:
            if not self.monitor.failed(exc):
                log.warning("could not resume waiting runs: %s", _one_line(exc))
            return
        if due:
            log.info("%d waiting run(s) due: resuming", len(due))

    async def _watch_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        assert self._wake is not None
        self._wake.set()

    def _policy(self, claimed: ClaimedExecution) -> Any:
        from glyphic_desktop.engine.trust import RunPolicy

        cached = self._policies.get(claimed.user_id)
        disabled = cached[1] if cached is not None else {}
        return RunPolicy(claimed.untrusted_nodes, claimed.untrusted_source, disabled)

    def _refresh_policies(self, user_ids: set[uuid.UUID]) -> None:
        """Read the disabled node types of users whose cached value is older than 2 s."""
        from glyphic_desktop.engine.disabled_nodes import disabled_node_types

        now = time.monotonic()
        stale = [u for u in user_ids if now - self._policies.get(u, (-1e9, {}))[0] > _POLICY_TTL]
        if not stale:
            return
        with self.db.session() as session:
            for user_id in stale:
                self._policies[user_id] = (now, disabled_node_types(session, user_id))

    def _claim(self, room: int, cutoff: datetime | None) -> list[tuple[ClaimedExecution, Any]]:
        claimed, loaded = claim_and_start(
            self.db,
            agent=self.agent,
            process_id=self.process_id,
            limit=room,
            reclaim_after=self.reclaim_after,
            created_before=cutoff,
            documents=self._documents,
        )
        for key, document in loaded.items():
            self._documents.put(key, document)
        if claimed:
            self._refresh_policies({each.user_id for each in claimed})
        out = []
        for each in claimed:
            key = (each.workflow_id, each.workflow_version)
            out.append((each, loaded.get(key) or self._documents.get(key)))
        return out

    def _room(self) -> int:
        """Free slots: runs whose nodes are done while the batch writer stores their final
        row hold no slot, but at most ``concurrency`` of them wait so (memory stays
        bounded while the database is slow)."""
        executing = sum(1 for job in self._jobs.values() if job.executing)
        return min(self.concurrency - executing, 2 * self.concurrency - len(self._jobs))

    def _executed(self, job: _Job) -> None:
        job.executing = False
        if self._wake is not None:
            self._wake.set()

    async def _fill(self, cutoff: datetime | None, *, eager: bool = True) -> int:
        room = self._room()
        if room <= 0 or (not eager and self._jobs and room < self._claim_at):
            # Busy: claim once a quarter of the slots are free, many rows per claim,
            # instead of one claim transaction per finished run.
            return 0
        try:
            claimed = await asyncio.to_thread(self._claim, room, cutoff)
        except Exception as exc:
            if self.monitor.failed(exc):
                return 0
            message = _one_line(exc)
            if message != self._claim_error:  # say it once, not every poll
                log.error("could not claim pending executions: %s", message)
                self._claim_error = message
            return 0
        self.monitor.succeeded()
        if claimed:
            self.claims += 1
        if self._claim_error is not None:
            log.info("claiming pending executions works again")
            self._claim_error = None
        for each, document in claimed:
            job = _Job(each, threading.Event())
            self._jobs[each.id] = job
            job.task = asyncio.create_task(
                self._run_one(job, document), name=f"execution {each.id}"
            )
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
                if not self.monitor.failed(exc):
                    log.warning("could not record the agent's heartbeat: %s", _one_line(exc))

    async def _run_one(self, job: _Job, document: Any) -> None:
        from glyphic_desktop.agent.run_log import run_log_listener
        from glyphic_desktop.engine.preflight import PreflightFailed
        from glyphic_desktop.engine.runner import ResolvedWorkflow, run_workflow_async

        claimed = job.claimed
        label = f"execution {claimed.id} of {claimed.workflow_name or claimed.workflow_id!s}"
        self.started += 1
        log.debug("%s: starting (%s)", label, claimed.trigger_type or "manual")
        workflow: Any = claimed.workflow_id
        if document is not None:
            workflow = ResolvedWorkflow(document, claimed.workflow_id, claimed.workflow_name or "")
        resume = None
        try:
            if claimed.resuming:  # a run that waited goes on from its stored outputs
                from glyphic_desktop.engine.waits import load_resume

                resume = await asyncio.to_thread(load_resume, self.db, claimed.id)
                log.info("%s: resuming after its wait", label)
            result = await run_workflow_async(
                self.db,
                claimed.user_id,
                workflow,
                execution_id=claimed.id,
                claimed_by=self.agent,
                process_id=self.process_id,
                started_at=claimed.started_at,
                policy=self._policy(claimed) if claimed.started_at is not None else None,
                writer=self._writer,
                trigger=claimed.trigger_type or "manual",
                trigger_data=claimed.trigger_data,
                input=claimed.input_data,
                cancel_event=job.cancel,
                heartbeat_interval=self.heartbeat_interval,
                registry=self.registry,
                listeners=[run_log_listener(label)],  # node lines into the agent log
                partial=resume,
                on_executed=lambda: self._executed(job),
                compiled=self._compiled if document is not None else None,
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
        elif result.status == "waiting":
            log.info("%s: waiting (stored; its agent slot is free)", label)
        else:
            log.warning("%s: failed: %s", label, result.error)
        self._finished(claimed, result.status, result.error, result.result)

    def _finished(
        self, claimed: ClaimedExecution, status: str, error: str | None, result: Any = None
    ) -> None:
        from glyphic_desktop.agent.responses import BOARD

        self.outcomes[status] = self.outcomes.get(status, 0) + 1
        # a webhook request waiting in this process for the run (response_mode
        # when_finished) gets the outcome now; costs a dict lookup when none waits
        BOARD.finished(claimed.id, status, error, result)
        if self.on_finished is not None:
            try:
                self.on_finished(claimed, status, error)
            except Exception:  # a listener's bug must not stop the runner
                log.exception("the on_finished listener failed")

    async def _shutdown(self) -> None:
        """Hand back claims, give running jobs ``stop_grace`` seconds, cancel the rest."""
        try:
            handed = await asyncio.to_thread(
                hand_back, self.db, process_id=self.process_id, agent=self.agent
            )
        except Exception as exc:
            log.warning("could not hand back claimed executions: %s", _one_line(exc))
            handed = 0
        if handed:
            log.info("stopping: %d claimed execution(s) handed back to the queue", handed)
        jobs = list(self._jobs.values())
        if not jobs:
            return
        tasks = [job.task for job in jobs if job.task is not None]
        if self.stop_grace > 0:
            log.info(
                "stopping: waiting up to %.0f s for %d running execution(s)",
                self.stop_grace,
                len(tasks),
            )
            _done, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
        else:
            pending = set(tasks)
        if not pending:
            return
        cut = [job for job in jobs if job.task in pending]
        log.warning("stopping: cancelling %d run(s) still going", len(cut))
        for job in cut:
            job.cut_off = True
            job.cancel.set()
        _done, still = await asyncio.wait(pending, timeout=self.shutdown_timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=self.shutdown_timeout)
        try:
            self.retried.extend(
                await asyncio.to_thread(
                    retry_cancelled,
                    self.db,
                    [job.claimed.id for job in cut],
                    "the agent stopped before it finished",
                )
            )
        except Exception as exc:
            log.warning("could not queue retries of cancelled runs: %s", _one_line(exc))
