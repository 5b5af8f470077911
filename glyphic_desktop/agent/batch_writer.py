"""The agent's batch writer: the log rows and final rows of many runs in one transaction.

A queued run that takes a millisecond used to cost three transactions of its own after
it ran (its log batch, its final row, the workflow's counters, each waiting for the
others on the workflow row's lock). :class:`BatchWriter` owns one connection and one
thread; every run of the agent hands it its log events (:meth:`BatchWriter.sink`) and
its final row (:meth:`BatchWriter.finish`), and each flush writes everything waiting in
ONE transaction, in order: the log rows (one ``COPY``), the final rows (one pipelined
``UPDATE`` per run), the workflows' counters (one ``UPDATE`` per workflow, summed). A
run's final row is therefore never visible before its log lines.

A flush that fails because the database cannot be reached is kept and written again on
a fresh connection with backoff (0.05 s doubling to 2 s); what arrives meanwhile waits
behind it, so order holds. Log events waiting are bounded (``max_events``, default
200,000): past that the oldest are dropped and the warning gives the true count. A
flush whose log ids are already stored (it committed, the reply was lost) is not
written twice. Runs that recorded files are finished through the ordinary repository
path after their logs are flushed (files are rare in queued runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glyphic_desktop.agent.processes import OutageMonitor, is_connection_error
from glyphic_desktop.engine.events import NodeOutput, NodeStarted, RunEvent
from glyphic_desktop.engine.records import dumps
from glyphic_desktop.engine.sinks import DatabaseLogSink, IdentityMasker, sequence_start

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

#: ``completed_at`` is when the run ended, not when its row was written: the database's
#: clock less the seconds the row waited in the writer (no clock of the agent's host).
_FINISH_SQL = (
    "UPDATE executions SET status = %s, output_data = %s, error_message = %s, "
    "error_stack = %s, completed_at = greatest(started_at, v.ended), duration_ms = "
    "coalesce(floor(extract(epoch FROM greatest(started_at, v.ended) - started_at) * 1000), 0) "
    "FROM (SELECT clock_timestamp() - make_interval(secs => %s) AS ended) v "
    "WHERE id = %s AND status IN ('pending', 'running') "
    "RETURNING id, workflow_id, completed_at"
)
_COUNTERS_SQL = (
    "UPDATE workflows w SET last_executed_at = v.at, "
    "execution_count = coalesce(w.execution_count, 0) + v.n "
    "FROM (SELECT unnest(%s::uuid[]) AS id, unnest(%s::int[]) AS n, "
    "unnest(%s::timestamptz[]) AS at) v WHERE w.id = v.id"
)


class _RunSink(DatabaseLogSink):
    """One run's log listener: formats like :class:`DatabaseLogSink`, writes through the
    batch writer (no thread or connection of its own)."""

    def __init__(self, writer: BatchWriter, execution_id: Any, masker: Any) -> None:
        # Only what format_rows needs; DatabaseLogSink.__init__ would start a thread.
        self.writer = writer
        self.execution_id = str(execution_id)
        self.masker = masker if masker is not None else IdentityMasker()
        self.record_starts = False
        self.rows_written = 0
        self.errors = 0
        self.dropped = 0
        self._second = -1
        self._second_text = ""
        self._sequence = sequence_start()

    def __call__(self, event: RunEvent) -> None:
        kind = type(event)
        if kind is NodeOutput or kind is NodeStarted:
            return
        self.writer._add_event(self, event)

    def flush(self) -> None:
        """Nothing to do: the writer flushes continuously."""

    def close(self, timeout: float = 30.0) -> None:
        """Nothing to do: the run's final row flushes its lines."""


@dataclass
class _Finish:
    user_id: uuid.UUID
    execution_id: uuid.UUID
    status: str
    output_data: Any
    error_message: str | None
    error_stack: str | None
    future: asyncio.Future[Any] | None
    loop: asyncio.AbstractEventLoop | None
    barrier_only: bool = False
    updated: bool = False
    node_rows: list[dict[str, Any]] | None = None
    ended: float = field(default_factory=time.monotonic)  # when the run handed it over


@dataclass
class _Batch:
    copy_text: str = ""
    rows: int = 0
    per_sink: dict[_RunSink, int] = field(default_factory=dict)
    texts: dict[_RunSink, str] = field(default_factory=dict)
    finishes: list[_Finish] = field(default_factory=list)

    def split(self) -> list[_Batch]:
        """One batch per execution (to find the one the server refuses)."""
        parts: dict[str, _Batch] = {}
        for sink, rows in self.per_sink.items():
            part = parts.setdefault(sink.execution_id, _Batch())
            part.copy_text, part.rows = self.texts[sink], rows
            part.per_sink[sink], part.texts[sink] = rows, self.texts[sink]
        for each in self.finishes:
            parts.setdefault(str(each.execution_id), _Batch()).finishes.append(each)
        return list(parts.values())


class BatchWriter:
    """One thread and connection writing every run's logs and final row (module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        monitor: OutageMonitor | None = None,
        max_events: int = 200_000,
    ) -> None:
        self.db = db
        self.monitor = monitor or OutageMonitor("agent")
        self.max_events = max_events
        self.flushes = 0
        self.dropped = 0
        self._events: list[tuple[_RunSink, RunEvent]] = []
        self._finishes: list[_Finish] = []
        self._cond = threading.Condition()
        self._closing = False
        self._give_up_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="glyphic-batch-writer", daemon=True)
        self._thread.start()

    # -- what runs call ----------------------------------------------------------------

    def sink(self, execution_id: Any, masker: Any) -> _RunSink:
        """The log listener of one run."""
        return _RunSink(self, execution_id, masker)

    def _add_event(self, sink: _RunSink, event: RunEvent) -> None:
        with self._cond:
            self._events.append((sink, event))
            if len(self._events) > self.max_events:
                excess = len(self._events) - self.max_events
                del self._events[:excess]
                self.dropped += excess
                log.warning(
                    "dropped the %d oldest waiting log lines (more than %d waiting for the "
                    "database)",
                    excess,
                    self.max_events,
                )
            if len(self._events) == 1:
                self._cond.notify()

    async def finish(
        self,
        user_id: uuid.UUID,
        execution_id: uuid.UUID,
        status: str,
        *,
        output_data: Any = None,
        error_message: str | None = None,
        error_stack: str | None = None,
        files: list[Any] | tuple[Any, ...] = (),
        node_rows: list[dict[str, Any]] | None = None,
    ) -> list[Any]:
        """Write the run's final row (after its logs) and its ``execution_node_data`` rows
        (0008) in the same transaction; returns the file rows recorded.

        Raises :class:`~glyphic_desktop.store.repositories.executions.ExecutionStateError`
        when the row had already finished (another agent judged it lost).
        """
        from glyphic_desktop.store.repositories.executions import ExecutionStateError

        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        files = list(files)
        item = _Finish(
            user_id,
            execution_id,
            status,
            output_data,
            error_message,
            error_stack,
            future,
            loop,
            barrier_only=bool(files),
            node_rows=node_rows or None,
        )
        with self._cond:
            self._finishes.append(item)
            self._cond.notify()
        await future
        if files:  # logs are flushed: finish through the repository, which records files
            from glyphic_desktop.engine.runner import _finish

            return await asyncio.to_thread(
                _finish,
                self.db,
                user_id,
                execution_id,
                status,
                output_data=output_data,
                error_message=error_message,
                error_stack=error_stack,
                files=files,
                node_rows=node_rows or None,
            )
        if not item.updated:
            raise ExecutionStateError(f"execution {execution_id} already finished")
        return []

    def close(self, timeout: float = 30.0) -> None:
        """Write what is waiting (retrying up to ``timeout`` seconds) and stop the thread."""
        with self._cond:
            self._closing = True
            self._give_up_at = time.monotonic() + timeout
            self._cond.notify()
        self._thread.join(timeout + 5)

    # -- the thread --------------------------------------------------------------------

    def _take(self) -> _Batch | None:
        with self._cond:
            while not self._events and not self._finishes:
                if self._closing:
                    return None
                self._cond.wait()
            events, self._events = self._events, []
            finishes, self._finishes = self._finishes, []
        batch = _Batch(finishes=finishes)
        grouped: dict[_RunSink, list[RunEvent]] = defaultdict(list)
        for sink, event in events:
            grouped[sink].append(event)
        parts = []
        for sink, sink_events in grouped.items():
            text, rows = sink.format_rows(sink_events)
            if rows:
                parts.append(text)
                batch.per_sink[sink] = rows
                batch.texts[sink] = text
                batch.rows += rows
        batch.copy_text = "".join(parts)
        return batch

    def _run(self) -> None:
        connection = None
        waiting: list[_Batch] = []
        backoff = 0.0
        try:
            while True:
                if not waiting:
                    batch = self._take()
                    if batch is None:
                        return
                    waiting.append(batch)
                else:  # retrying: let what came meanwhile queue up behind
                    with self._cond:
                        if not self._closing:
                            self._cond.wait(backoff)
                    more = self._take_nowait()
                    if more is not None:
                        waiting.append(more)
                while waiting:
                    try:
                        connection = self._write(connection, waiting[0])
                    except Exception as exc:
                        connection = self._drop_connection(connection)
                        if _lost_reply(exc):  # an earlier attempt committed it
                            self._done(waiting.pop(0), assume_written=True)
                            continue
                        if is_connection_error(exc):
                            self.monitor.failed(exc)
                            backoff = min(2.0, max(0.05, backoff * 2))
                            if self._closing and time.monotonic() >= (self._give_up_at or 0):
                                self._give_up(waiting, exc)
                                waiting = []
                            break
                        # Refused for its content (say, a run deleted meanwhile): write
                        # each execution on its own and drop only what is refused.
                        connection = self._write_apart(waiting.pop(0))
                        continue
                    self.monitor.succeeded()
                    backoff = 0.0
                    self._done(waiting.pop(0))
        finally:
            self._drop_connection(connection)

    def _take_nowait(self) -> _Batch | None:
        with self._cond:
            if not self._events and not self._finishes:
                return None
        return self._take()

    def _drop_connection(self, connection: Any) -> None:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()
        return None

    def _write(self, connection: Any, batch: _Batch) -> Any:
        from psycopg.types.json import Jsonb

        if connection is None:
            engine = getattr(self.db, "engine", self.db)
            connection = engine.raw_connection()
        driver = connection.driver_connection
        counts: dict[uuid.UUID, list[Any]] = {}
        with driver.cursor() as cursor:
            if batch.rows:
                with cursor.copy(DatabaseLogSink.COPY_SQL) as copy:
                    copy.write(batch.copy_text)
            finishes = [each for each in batch.finishes if not each.barrier_only]
            if finishes:
                cursor.executemany(
                    _FINISH_SQL,
                    [
                        (
                            each.status,
                            None if each.output_data is None else Jsonb(each.output_data, dumps),
                            each.error_message,
                            each.error_stack,
                            max(0.0, time.monotonic() - each.ended),
                            each.execution_id,
                        )
                        for each in finishes
                    ],
                    returning=True,
                )
                updated: set[uuid.UUID] = set()
                while True:
                    for row in cursor.fetchall():
                        updated.add(row[0])
                        entry = counts.setdefault(row[1], [0, row[2]])
                        entry[0] += 1
                        entry[1] = max(entry[1], row[2])
                    if not cursor.nextset():
                        break
                for each in finishes:
                    each.updated = each.execution_id in updated
                self._write_node_rows(cursor, [f for f in finishes if f.updated and f.node_rows])
                if counts:
                    ids = sorted(counts)  # the same order in every agent: no deadlock
                    cursor.execute(
                        _COUNTERS_SQL,
                        (ids, [counts[i][0] for i in ids], [counts[i][1] for i in ids]),
                    )
        driver.commit()
        self.flushes += 1
        return connection

    @staticmethod
    def _write_node_rows(cursor: Any, finishes: list[_Finish]) -> None:
        """The runs' per-node rows (0008), one pipelined INSERT per run."""
        if not finishes:
            return
        from glyphic_desktop.store.repositories.node_data import _INSERT, rows_json

        sql = _INSERT.text.replace("CAST(:execution_id AS uuid)", "CAST(%s AS uuid)").replace(
            "CAST(:rows AS jsonb)", "CAST(%s AS jsonb)"
        )
        cursor.executemany(
            sql,
            [(str(each.execution_id), rows_json(each.node_rows or [])) for each in finishes],
        )

    def _write_apart(self, batch: _Batch) -> Any:
        connection = None
        for part in batch.split():
            try:
                connection = self._write(connection, part)
            except Exception as exc:
                connection = self._drop_connection(connection)
                if _lost_reply(exc):
                    self._done(part, assume_written=True)
                    continue
                log.warning(
                    "could not write %d log lines and %d final rows of execution %s: %s",
                    part.rows,
                    len(part.finishes),
                    next(iter(part.per_sink), None) and next(iter(part.per_sink)).execution_id,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc),
                )
                self._give_up([part], exc, quiet=True)
                continue
            self._done(part)
        return connection

    def _done(self, batch: _Batch, *, assume_written: bool = False) -> None:
        for sink, rows in batch.per_sink.items():
            sink.rows_written += rows
        for each in batch.finishes:
            if assume_written:
                each.updated = True
            self._resolve(each, None)

    def _give_up(self, waiting: list[_Batch], exc: BaseException, *, quiet: bool = False) -> None:
        lost = sum(batch.rows for batch in waiting)
        if not quiet:
            log.error(
                "the database stayed unreachable: %d log lines and %d final rows not written",
                lost,
                sum(len(batch.finishes) for batch in waiting),
            )
        self.dropped += lost
        for batch in waiting:
            for sink, rows in batch.per_sink.items():
                sink.dropped += rows
                sink.errors += 1
            for each in batch.finishes:
                self._resolve(each, exc)

    @staticmethod
    def _resolve(item: _Finish, exc: BaseException | None) -> None:
        future, loop = item.future, item.loop
        if future is None or loop is None:
            return

        def settle() -> None:
            if future.done():
                return
            if exc is None:
                future.set_result(None)
            else:
                future.set_exception(exc)

        with contextlib.suppress(RuntimeError):  # the loop is gone
            loop.call_soon_threadsafe(settle)


def _lost_reply(exc: BaseException) -> bool | None:
    """True when ``exc`` says the batch's log ids are already stored; None otherwise."""
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, errors.UniqueViolation) and "execution_logs_pkey" in str(exc):
        return True
    return None
