"""The processes that run executions: registered, heartbeating, and found when they die.

Every process that runs executions (an agent, an editor window, a ``glyphic run``)
has one ``run_processes`` row (0007): kind, name, host, pid, ``heartbeat_at``. A
:class:`ProcessHeartbeat` thread touches that row every ``heartbeat_interval`` seconds
(default 5, ``GLYPHIC_HEARTBEAT_INTERVAL``) and, in the same statement, the
``heartbeat_at`` of the unfinished executions the process holds. A live agent's
recovery (:func:`glyphic_desktop.agent.queue.recover_lost_runs`) fails the runs of a
process whose heartbeat is older than ``stale_after`` (default 25 s,
``GLYPHIC_STALE_AFTER``).

``glyphic db stop --force`` sets ``stop_requested_at`` on the live rows and sends
``NOTIFY glyphic_process_stop``; a heartbeat that sees the flag calls its
``on_stop_requested`` (the agent stops; ``glyphic run`` cancels its run).

:class:`OutageMonitor` turns the many failures of a database outage into two log
lines: one when it starts, one when it ends, with its length.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

HEARTBEAT_ENV = "GLYPHIC_HEARTBEAT_INTERVAL"
STALE_ENV = "GLYPHIC_STALE_AFTER"
DEFAULT_HEARTBEAT_INTERVAL = 5.0
#: 25 s: with recovery every 5 s at most, a dead process's runs fail within 30 s.
DEFAULT_STALE_AFTER = 25.0
STOP_CHANNEL = "glyphic_process_stop"
KINDS = ("agent", "editor", "cli")


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", name, raw, default)
        return default
    if value <= 0:
        log.warning("%s must be positive, not %r; using %s", name, raw, default)
        return default
    return value


def heartbeat_interval() -> float:
    """Seconds between heartbeats (``GLYPHIC_HEARTBEAT_INTERVAL``, default 5)."""
    return _env_seconds(HEARTBEAT_ENV, DEFAULT_HEARTBEAT_INTERVAL)


def stale_after() -> float:
    """Seconds without a heartbeat after which a process counts as dead (default 25)."""
    return _env_seconds(STALE_ENV, DEFAULT_STALE_AFTER)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (not a bad query)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from glyphic_desktop.errors import DatabaseUnavailable

    if isinstance(exc, DatabaseUnavailable | OperationalError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)
    except ImportError:  # pragma: no cover
        return False


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    source = orig if orig is not None else exc
    lines = str(source).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


class OutageMonitor:
    """Logs a database outage once when it starts and once when it ends (with its length).

    Anything that talks to the database reports to it: :meth:`failed` with the
    exception, :meth:`succeeded` after a round trip that worked. Thread-safe.
    ``listeners`` are called with ``(down, since, seconds)`` on every change.

    A success within ``settle`` seconds (default 0.5) of the failure that began an
    outage does not end it: a round trip already under way when a server began to shut
    down can still come back, and the outage would be logged as over (after 0.0 s) and
    begun again. The next success after that ends it.
    """

    def __init__(
        self,
        who: str = "agent",
        *,
        settle: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.who = who
        self.settle = settle
        self._clock = clock
        self._lock = threading.Lock()
        self.since: datetime | None = None  # when the current outage began (None: up)
        self._began = 0.0
        self.last: tuple[datetime, float] | None = None  # (start, seconds) of the last one
        self.listeners: list[Callable[[bool, datetime | None, float], None]] = []

    @property
    def down(self) -> bool:
        """Whether the database is unreachable right now (as far as we know)."""
        return self.since is not None

    def failed(self, exc: BaseException) -> bool:
        """Record a failure; True when it is a connection error (an outage)."""
        if not is_connection_error(exc):
            return False
        with self._lock:
            if self.since is not None:
                return True
            self.since = datetime.now(UTC)
            self._began = self._clock()
            since = self.since
        log.warning("%s: the database is unreachable: %s", self.who, _one_line(exc))
        self._tell(True, since, 0.0)
        return True

    def succeeded(self) -> None:
        """Record a round trip that worked (ends an outage)."""
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            seconds = self._clock() - self._began
            if seconds < self.settle:  # perhaps begun before the outage: not proof
                return
            since = self.since
            self.since = None
            self.last = (since, seconds)
        log.warning(
            "%s: the database is reachable again after an outage of %.1f s (since %s)",
            self.who,
            seconds,
            since.strftime("%H:%M:%S UTC"),
        )
        self._tell(False, since, seconds)

    def _tell(self, down: bool, since: datetime | None, seconds: float) -> None:
        for listener in list(self.listeners):
            try:
                listener(down, since, seconds)
            except Exception:  # a listener's bug must not break the caller
                log.exception("an outage listener failed")


@dataclass(frozen=True)
class ProcessInfo:
    """One ``run_processes`` row and how old its heartbeat is."""

    id: uuid.UUID
    kind: str
    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stop_requested_at: datetime | None
    age: float  # seconds since the last heartbeat

    def describe(self) -> str:
        """``agent host:1234 (pid 1234 on host)``, for messages."""
        return f"{self.kind} {self.name} (pid {self.pid} on {self.host})"


def register_process(
    db: Database, kind: str, *, name: str | None = None, process_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Insert (or revive) this process's row; returns its id."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    host = socket.gethostname()
    pid = os.getpid()
    with db.session() as session:
        return session.execute(
            text(
                "INSERT INTO run_processes (id, kind, name, host, pid) "
                "VALUES (coalesce(:id, gen_random_uuid()), :kind, :name, :host, :pid) "
                "ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING id"
            ),
            {
                "id": process_id,
                "kind": kind,
                "name": name or f"{host}:{pid}",
                "host": host,
                "pid": pid,
            },
        ).scalar_one()


def beat(db: Database, process_id: uuid.UUID) -> tuple[bool, bool]:
    """Touch the process row and its unfinished executions in one transaction.

    Returns (the row still exists, a stop was requested).
    """
    with db.session() as session:
        row = session.execute(
            text(
                "UPDATE run_processes SET heartbeat_at = now() WHERE id = :id "
                "RETURNING stop_requested_at"
            ),
            {"id": process_id},
        ).first()
        if row is None:
            return False, False
        session.execute(
            text(
                "UPDATE executions SET heartbeat_at = now() WHERE process_id = :id "
                "AND status IN ('pending', 'running')"
            ),
            {"id": process_id},
        )
        return True, row.stop_requested_at is not None


def unregister_process(db: Database, process_id: uuid.UUID) -> None:
    """Delete the process row (its finished executions keep their history)."""
    with db.session() as session:
        session.execute(text("DELETE FROM run_processes WHERE id = :id"), {"id": process_id})


def list_processes(db: Database) -> list[ProcessInfo]:
    """Every registered process, with the age of its heartbeat (oldest start first)."""
    with db.session() as session:
        rows = session.execute(
            text(
                "SELECT id, kind, name, host, pid, started_at, heartbeat_at, stop_requested_at, "
                "extract(epoch FROM clock_timestamp() - heartbeat_at) AS age "
                "FROM run_processes ORDER BY started_at, id"
            )
        ).all()
    return [ProcessInfo(*row[:8], age=float(row.age)) for row in rows]


def live_processes(db: Database, *, within: float | None = None) -> list[ProcessInfo]:
    """The registered processes whose heartbeat is younger than ``within`` (stale_after)."""
    limit = stale_after() if within is None else within
    return [each for each in list_processes(db) if each.age < limit]


def request_stop(db: Database, ids: list[uuid.UUID]) -> int:
    """Ask the processes ``ids`` to stop (flag + NOTIFY); returns how many rows were flagged."""
    if not ids:
        return 0
    with db.session() as session:
        count = session.execute(
            text(
                "UPDATE run_processes SET stop_requested_at = now() "
                "WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": [str(each) for each in ids]},
        ).rowcount
        session.execute(text(f"NOTIFY {STOP_CHANNEL}"))
    return count or 0


class ProcessHeartbeat:
    """This process's registration: a daemon thread that heartbeats until :meth:`stop`.

    :meth:`start` registers (raises when the database cannot be reached). A heartbeat
    that finds the row gone (another agent judged the process dead during an outage)
    registers it again under the same id. ``on_stop_requested`` is called (once, from
    the thread) when ``glyphic db stop --force`` asks the process to stop. Failures are
    reported to ``monitor`` (an :class:`OutageMonitor`); during an outage the thread
    retries every second.
    """

    def __init__(
        self,
        db: Database,
        kind: str,
        *,
        name: str | None = None,
        interval: float | None = None,
        monitor: OutageMonitor | None = None,
        on_stop_requested: Callable[[], Any] | None = None,
        on_lost: Callable[[], Any] | None = None,
    ) -> None:
        self.db = db
        self.kind = kind
        self.name = name
        self.interval = interval or heartbeat_interval()
        self.monitor = monitor or OutageMonitor(kind)
        self.on_stop_requested = on_stop_requested
        self.on_lost = on_lost
        self.id: uuid.UUID | None = None
        self.stop_requested = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> uuid.UUID:
        """Register and start heartbeating; returns the process id."""
        self.id = register_process(self.db, self.kind, name=self.name)
        self._thread = threading.Thread(
            target=self._run, name=f"glyphic-heartbeat-{self.kind}", daemon=True
        )
        self._thread.start()
        return self.id

    def beat_now(self) -> None:
        """Heartbeat at once instead of at the next interval (e.g. after an outage)."""
        self._wake.set()

    def _run(self) -> None:
        assert self.id is not None
        delay = self.interval
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                exists, stop = beat(self.db, self.id)
                if not exists:
                    log.warning(
                        "%s %s was taken for dead (its row was gone): registering again",
                        self.kind,
                        self.id,
                    )
                    register_process(self.db, self.kind, name=self.name, process_id=self.id)
                    if self.on_lost is not None:
                        self.on_lost()
            except Exception as exc:
                if not self.monitor.failed(exc):
                    log.warning("%s heartbeat failed: %s", self.kind, _one_line(exc))
                delay = min(1.0, self.interval)
                continue
            self.monitor.succeeded()
            delay = self.interval
            if stop and not self.stop_requested:
                self.stop_requested = True
                log.warning("%s %s: asked to stop (glyphic db stop --force)", self.kind, self.id)
                if self.on_stop_requested is not None:
                    try:
                        self.on_stop_requested()
                    except Exception:
                        log.exception("the stop-request listener failed")

    def stop(self, *, unregister: bool = True) -> None:
        """Stop heartbeating and (by default) delete the row."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        if unregister and self.id is not None:
            try:
                unregister_process(self.db, self.id)
            except Exception as exc:
                log.warning("could not unregister %s %s: %s", self.kind, self.id, _one_line(exc))


_local: dict[tuple[int, str], ProcessHeartbeat] = {}
_local_lock = threading.Lock()


def this_process(db: Database, kind: str) -> ProcessHeartbeat:
    """This process's registration of ``kind`` on ``db``, made (and started) on first use.

    For the editor and ``glyphic run``: one row for the life of the process, removed at
    exit (a process killed with -9 leaves it to go stale, which is the point).
    """
    key = (id(db), kind)
    with _local_lock:
        found = _local.get(key)
        if found is None:
            found = ProcessHeartbeat(db, kind)
            found.start()
            _local[key] = found
            import atexit

            atexit.register(found.stop)
        return found
