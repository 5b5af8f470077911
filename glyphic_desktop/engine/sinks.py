"""Event sinks: the database (``execution_logs``, batched) and the terminal.

Both are listeners (see ``engine/events.py``) and both pass every text and data value
through a masker (an object with ``mask(value)``; by default a fresh
:class:`~glyphic_desktop.secrets.masking.SecretMasker` when that module is present, else
the identity), so secrets registered during the run never reach a log.

Which events become ``execution_logs`` rows (``node_output`` never does: outputs are
stored in ``executions.output_data``):

================  =======  =============================================
event             level    message
================  =======  =============================================
run_started       info     ``run started (manual, 12 nodes)``
node_started      debug    ``started`` / ``started (attempt 2)`` (see below)
log               its own  the node's message, ``data`` as JSONB
node_finished     info     ``finished in 1.2 ms``
node_failed       error    ``failed: <error>`` (warn + "continued" when handled)
node_skipped      debug    ``skipped: <reason>``
run_finished      info     ``run completed in 40 ms`` (error when failed)
================  =======  =============================================

``node_started`` rows are written only with ``record_starts=True``: the finished /
failed row carries the duration, and leaving starts out halves the rows of a long chain
(live listeners still get every start).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import sys
import threading
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from glyphic_desktop.engine.events import (
    LogLine,
    NodeFailed,
    NodeFinished,
    NodeInputs,
    NodeOutput,
    NodeSkipped,
    NodeStarted,
    RunEvent,
    RunFinished,
    RunStarted,
)
from glyphic_desktop.engine.records import cap_value, dumps, storable_text, to_jsonable

log = logging.getLogger(__name__)

LEVELS = {"debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"}
LOG_DATA_CAP = 64 * 1024
#: Per port, the cap of ``node_output`` values (and the run's result) in ``--json`` lines.
JSON_OUTPUT_CAP = 4096
COPY_CHUNK = 500  # rows formatted and sent at a time within one batch's COPY


class IdentityMasker:
    """A masker that masks nothing (when the secrets module is not available)."""

    def mask(self, value: Any) -> Any:
        return value

    def __bool__(self) -> bool:
        return False


_SEQUENCES = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _SEQUENCES.seed(os.urandom(16)))


def sequence_start() -> int:
    """A random start for a sink's row-id sequence (62 bits). Drawn from a generator seeded
    once per process: ``os.urandom`` per run released the GIL on the agent's event loop,
    and getting it back cost up to a switch interval while other threads ran."""
    return _SEQUENCES.getrandbits(62)


def default_masker() -> Any:
    """A fresh, empty SecretMasker (secrets are added as credentials are loaded)."""
    try:
        from glyphic_desktop.secrets.masking import SecretMasker
    except ImportError:
        return IdentityMasker()
    return SecretMasker()


def normalise_level(level: str) -> str:
    """One of debug / info / warn / error (unknown levels become info)."""
    return LEVELS.get(str(level).lower(), "error" if str(level).lower() == "critical" else "info")


def event_line(event: RunEvent) -> tuple[str, str, Any] | None:
    """(level, message, data) of the log row an event becomes, or None."""
    kind = type(event)
    if kind is LogLine:
        return normalise_level(event.level), event.message, event.data
    if kind is NodeStarted:
        return (
            "debug",
            "started" if event.attempt == 1 else f"started (attempt {event.attempt})",
            None,
        )
    if kind is NodeFinished:
        return "info", f"finished in {event.duration_ms:.1f} ms", None
    if kind is NodeFailed:
        if event.handled:
            return "warn", f"failed (continued): {event.error}", None
        return "error", f"failed: {event.error}", None
    if kind is NodeSkipped:
        return "debug", f"skipped: {event.reason}", None
    if kind is RunStarted:
        return "info", f"run started ({event.trigger}, {event.node_count} nodes)", None
    if kind is RunFinished:
        if event.status == "completed":
            return "info", f"run completed in {event.duration_ms:.0f} ms", None
        if event.status == "cancelled":
            return "warn", f"run cancelled after {event.duration_ms:.0f} ms", None
        return "error", f"run failed: {event.error}", None
    return None


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_match(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def copy_text(value: str | None) -> str:
    """``value`` as one field of PostgreSQL's COPY text format (None is ``\\N``).

    NUL and lone surrogates, which PostgreSQL text cannot hold, become the ``\\uXXXX``
    marker of :func:`~glyphic_desktop.engine.records.storable_text` first (a log line
    holding one would otherwise fail its whole COPY batch).
    """
    if value is None:
        return "\\N"
    value = storable_text(value)
    if _SPECIAL.search(value) is None:
        return value
    return _SPECIAL.sub(_escape_match, value)


class DatabaseLogSink:
    """Batches ``execution_logs`` rows and writes each batch with one ``COPY``.

    Row ids are generated here, time-ordered (the UUID version 7 layout), so the primary
    key index grows at its end instead of at random pages (about 20% more rows/s).
    Calling the sink only queues the event (a lock and an append); a background thread
    owns one database connection, turns events into rows (masking them), and writes a
    batch when ``batch_size`` events are waiting or ``flush_interval`` seconds passed.
    :meth:`close` writes the rest and waits. A failing write is logged and counted in
    ``errors``, never raised into the run.

    A batch that fails because the database cannot be reached (a restart, an outage) is
    kept in memory, as formatted rows with their ids, and written again on a fresh
    connection with backoff (0.05 s doubling to 2 s); later batches queue behind it, so
    lines keep their order. At most ``max_buffered`` rows wait (default 200,000): past
    that the oldest are dropped and counted in ``dropped`` (the warning says how many).
    :meth:`close` keeps retrying until its ``timeout``, then drops what is left, also
    counted. A batch the server refuses for its content (not a connection problem) is
    dropped at once and counted. A retried batch that had in fact been committed (the
    reply was lost) is recognised by its row ids and not written twice.
    """

    COPY_SQL = (
        "COPY execution_logs (id, execution_id, node_id, node_type, level, message, data, "
        '"timestamp") FROM STDIN'
    )

    def __init__(
        self,
        db: Any,
        execution_id: Any,
        *,
        masker: Any = None,
        batch_size: int = 2000,
        flush_interval: float = 0.25,
        record_starts: bool = False,
        max_buffered: int = 200_000,
    ) -> None:
        self.db = db
        self.max_buffered = max_buffered
        self.dropped = 0  # rows given up on (reported with their true count)
        self._unwritten: list[tuple[str, int]] = []  # formatted batches waiting to be written
        self._unwritten_rows = 0
        self._retry_until: float | None = None  # set by close(): when to stop retrying
        self._failing: str | None = None
        self.execution_id = str(execution_id)
        self.masker = masker if masker is not None else IdentityMasker()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.record_starts = record_starts
        self.rows_written = 0
        self.batches = 0
        self.errors = 0
        self._pending: list[RunEvent] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._closing = False
        self._second = -1
        self._second_text = ""
        self._sequence = sequence_start()
        self._thread = threading.Thread(target=self._writer, name="glyphic-log-sink", daemon=True)
        self._thread.start()

    def __call__(self, event: RunEvent) -> None:
        kind = type(event)
        if (
            kind is NodeOutput
            or kind is NodeInputs
            or (kind is NodeStarted and not self.record_starts)
        ):
            return
        with self._lock:
            pending = self._pending
            pending.append(event)
            full = len(pending) >= self.batch_size
        if full:
            with self._cond:
                self._cond.notify()

    def _timestamp(self, moment: float) -> str:
        second = int(moment)
        if second != self._second:
            self._second = second
            self._second_text = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(second))
        return f"{self._second_text}.{int((moment - second) * 1e6):06d}+00"

    def _row_id(self, moment: float) -> str:
        """A time-ordered UUID (version 7 layout): index inserts append instead of scatter."""
        self._sequence += 1
        sequence = self._sequence
        value = (
            (int(moment * 1000) & 0xFFFFFFFFFFFF) << 80
            | 0x7 << 76
            | ((sequence >> 62) & 0xFFF) << 64
            | 0x2 << 62
            | (sequence & 0x3FFFFFFFFFFFFFFF)
        )
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def format_rows(self, events: list[RunEvent]) -> tuple[str, int]:
        """(COPY text, row count) for ``events`` (masked)."""
        masker = self.masker
        masking = bool(masker)
        execution_id = self.execution_id
        parts: list[str] = []
        for event in events:
            line = event_line(event)
            if line is None:
                continue
            level, message, data = line
            if masking:
                message = masker.mask(message)
            if data is not None:
                data, _ = cap_value(data, LOG_DATA_CAP, masker if masking else None)
                if masking:
                    data = masker.mask(data)
                data_text = copy_text(dumps(data))
            else:
                data_text = "\\N"
            moment = event.time
            parts.append(
                f"{self._row_id(moment)}\t"
                f"{execution_id}\t{copy_text(getattr(event, 'node_id', None) or None)}\t"
                f"{copy_text(getattr(event, 'node_type', None) or None)}\t{level}\t"
                f"{copy_text(message)}\t{data_text}\t{self._timestamp(moment)}\n"
            )
        return "".join(parts), len(parts)

    def _take(self) -> list[RunEvent]:
        with self._lock:
            pending = self._pending
            if not pending:
                return []
            self._pending = []
        return pending

    def _writer(self) -> None:
        connection = None
        backoff = 0.0
        try:
            while True:
                with self._cond:
                    if backoff:
                        wait = backoff
                    elif not self._closing and len(self._pending) < self.batch_size:
                        wait = self.flush_interval
                    else:
                        wait = 0.0
                    if wait and not (self._closing and not backoff):
                        self._cond.wait(wait)
                    closing = self._closing
                events = self._take()
                if events:
                    self._queue_batch(events)
                if self._unwritten:
                    connection, ok = self._write_waiting(connection)
                    backoff = 0.0 if ok else min(2.0, max(0.05, backoff * 2))
                    if (
                        not ok
                        and closing
                        and self._retry_until is not None
                        and _time.monotonic() >= self._retry_until
                    ):
                        self._drop(self._unwritten_rows, "the database stayed unreachable")
                        backoff = 0.0
                if closing and not self._pending and not self._unwritten:
                    break
        finally:
            if connection is not None:
                try:
                    connection.close()
                except Exception:
                    log.debug("closing the log sink connection failed", exc_info=True)

    def _queue_batch(self, events: list[RunEvent]) -> None:
        """Format ``events`` now (their row ids are fixed) and queue them as one batch."""
        parts: list[str] = []
        count = 0
        for start in range(0, len(events), COPY_CHUNK):
            text, rows = self.format_rows(events[start : start + COPY_CHUNK])
            if rows:
                parts.append(text)
                count += rows
        if not count:
            return
        self._unwritten.append(("".join(parts), count))
        self._unwritten_rows += count
        excess = self._unwritten_rows - self.max_buffered
        if excess > 0:
            dropped = 0
            while self._unwritten and dropped < excess:
                text, rows = self._unwritten[0]
                if rows <= excess - dropped:
                    self._unwritten.pop(0)
                    dropped += rows
                    continue
                cut = excess - dropped  # one row per line: escaped text has no raw newline
                at = -1
                for _ in range(cut):
                    at = text.index("\n", at + 1)
                self._unwritten[0] = (text[at + 1 :], rows - cut)
                dropped += cut
            self._unwritten_rows -= dropped
            self.dropped += dropped
            log.warning(
                "execution %s: dropped its %d oldest log rows (more than %d waiting for the "
                "database)",
                self.execution_id,
                dropped,
                self.max_buffered,
            )

    def _drop(self, rows: int, why: str) -> None:
        self._unwritten.clear()
        self._unwritten_rows = 0
        self.dropped += rows
        log.warning("execution %s: dropped %d log rows: %s", self.execution_id, rows, why)

    def _connect(self) -> Any:
        engine = getattr(self.db, "engine", self.db)
        connection = engine.raw_connection()
        driver = connection.driver_connection
        # Log rows need not wait for the WAL flush: a crash may lose the last batch's
        # few milliseconds of lines, never the execution row (written elsewhere).
        driver.execute("SET synchronous_commit TO off")
        driver.commit()
        return connection

    def _write_waiting(self, connection: Any) -> tuple[Any, bool]:
        """Write the waiting batches in order, one transaction each; (connection, all done)."""
        while self._unwritten:
            text, count = self._unwritten[0]
            try:
                if connection is None:
                    connection = self._connect()
                driver = connection.driver_connection
                with driver.cursor() as cursor, cursor.copy(self.COPY_SQL) as copy:
                    copy.write(text)
                driver.commit()
                self.rows_written += count
                self.batches += 1
            except Exception as exc:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.invalidate()
                connection = None
                kind = _write_failure(exc)
                if kind == "retry":
                    self.errors += 1
                    if self._failing is None:
                        log.warning(
                            "execution %s: could not write %d log rows (%s); keeping them "
                            "and retrying",
                            self.execution_id,
                            self._unwritten_rows,
                            _first_line(exc),
                        )
                    self._failing = _first_line(exc)
                    return None, False
                if kind == "written":  # an earlier attempt committed; its reply was lost
                    self.rows_written += count
                    self.batches += 1
                else:
                    self.errors += 1
                    self.dropped += count
                    log.warning(
                        "execution %s: could not write %d log rows: %s",
                        self.execution_id,
                        count,
                        _first_line(exc),
                        exc_info=True,
                    )
            if self._failing is not None:
                log.warning(
                    "execution %s: log rows are written again (%d waited)",
                    self.execution_id,
                    self._unwritten_rows,
                )
                self._failing = None
            self._unwritten.pop(0)
            self._unwritten_rows -= count
        return connection, True

    def flush(self) -> None:
        """Ask the writer to write what is waiting now (does not wait for it)."""
        with self._cond:
            self._cond.notify()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still waiting (retrying for up to ``timeout`` seconds) and stop.

        Rows that could not be written by then are dropped and counted in ``dropped``.
        """
        with self._cond:
            self._retry_until = _time.monotonic() + timeout
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout + 5)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {lines[0]}" if lines else exc.__class__.__name__


def _write_failure(exc: BaseException) -> str:
    """How to treat a failed batch: ``retry`` (no connection), ``written`` (its ids are
    already stored: a committed batch whose reply was lost) or ``drop`` (refused)."""
    try:
        import psycopg
        from psycopg import errors
    except ImportError:  # pragma: no cover
        return "drop"
    if isinstance(exc, errors.UniqueViolation) and "execution_logs_pkey" in str(exc):
        return "written"
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return "retry"
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or exc.orig is None):
        return "retry"
    if isinstance(exc, DBAPIError) and isinstance(
        exc.orig, psycopg.OperationalError | psycopg.InterfaceError
    ):
        return "retry"
    if isinstance(exc, OSError):
        return "retry"
    return "drop"


_COLOURS = {
    "debug": "\033[2m",
    "info": "",
    "warn": "\033[33m",
    "error": "\033[31m",
    "ok": "\033[32m",
    "dim": "\033[2m",
    "bold": "\033[1m",
}
_RESET = "\033[0m"


class TerminalSink:
    """Prints a run's events as they happen: text lines (colour on a TTY) or JSON lines.

    Text mode prints log lines, finished / failed nodes and (with ``verbose``) starts
    and skips. JSON mode prints one object per event with ``event`` = its kind
    (``node_output`` carries the outputs capped at 4 KB per port).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool | None = None,
        json_lines: bool = False,
        verbose: bool = False,
        masker: Any = None,
        clock: Callable[[float], str] | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if color is None:
            isatty = getattr(self.stream, "isatty", None)
            color = bool(isatty and isatty())
        self.color = color
        self.json_lines = json_lines
        self.verbose = verbose
        self.masker = masker if masker is not None else IdentityMasker()
        self._clock = clock or (lambda t: datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3])
        self._lock = threading.Lock()

    def _paint(self, text: str, style: str) -> str:
        code = _COLOURS.get(style, "")
        return f"{code}{text}{_RESET}" if self.color and code else text

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __call__(self, event: RunEvent) -> None:
        if self.json_lines:
            self._write(json_line(self.event_dict(event)))
            return
        line = self.format(event)
        if line is not None:
            self._write(line)

    def event_dict(self, event: RunEvent) -> dict[str, Any]:
        """The JSON object printed for ``event`` (masked; previews masked before the cut)."""
        data: dict[str, Any] = {"event": event.kind}
        cut_masker = self.masker or None
        for name in getattr(event, "__dataclass_fields__", {}):
            value = getattr(event, name)
            if name == "outputs" or name == "inputs":
                value = {
                    str(k): cap_value(v, JSON_OUTPUT_CAP, cut_masker)[0] for k, v in value.items()
                }
            elif name == "data" and value is not None:
                value = cap_value(value, LOG_DATA_CAP, cut_masker)[0]
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        data["time"] = datetime.fromtimestamp(event.time, UTC).isoformat()
        masker = self.masker
        return masker.mask(data) if masker else data

    def format(self, event: RunEvent) -> str | None:
        """The text line for ``event`` (None for events not shown)."""
        kind = type(event)
        if kind is NodeOutput or (not self.verbose and kind in (NodeStarted, NodeSkipped)):
            return None
        line = event_line(event)
        if line is None:
            return None
        level, message, data = line
        masker = self.masker
        stamp = self._paint(self._clock(event.time), "dim")
        label = getattr(event, "label", None)
        who = f"[{label}] " if label else ""
        if kind is NodeFinished:
            text = f"{self._paint('✓', 'ok')} {who}{message}"
        elif kind is NodeFailed:
            text = self._paint(f"✗ {who}{message}", "warn" if event.handled else "error")
        elif kind is RunFinished or kind is RunStarted:
            style = {"info": "bold", "warn": "warn", "error": "error"}.get(level, "")
            text = self._paint(message, style)
        else:
            tag = level.upper().ljust(5)
            text = self._paint(f"{tag} {who}{message}", level)
            if data is not None:
                capped = cap_value(data, 2048, masker or None)[0]
                text += " " + self._paint(dumps(capped), "dim")
        if masker:
            text = masker.mask(text)
        return f"{stamp} {text}"


def json_line(data: Any) -> str:
    """``data`` as one line of strict JSON: NaN and infinities become "nan", "inf", "-inf".

    Values are JSON-ready already (``cap_value``) except stray floats; those are converted
    the way stored outputs are, so every line parses with a strict JSON reader.
    """
    try:
        return json.dumps(data, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(to_jsonable(data), ensure_ascii=False, default=str, allow_nan=False)


def masked_listener(listener: Callable[[RunEvent], Any], masker: Any) -> Callable[[RunEvent], Any]:
    """Wrap ``listener`` so it only ever sees events with secrets masked."""

    def deliver(event: RunEvent) -> Any:
        return listener(mask_event(event, masker))

    deliver.__wrapped__ = listener  # type: ignore[attr-defined]
    return deliver


def mask_event(event: RunEvent, masker: Any) -> RunEvent:
    """``event`` with its texts, data and outputs masked (the same object when no secret)."""
    if not masker:
        return event
    import dataclasses

    kind = type(event)
    if kind is LogLine:
        return dataclasses.replace(
            event, message=masker.mask(event.message), data=masker.mask(event.data)
        )
    if kind is NodeOutput:
        return dataclasses.replace(event, outputs=masker.mask(dict(event.outputs)))
    if kind is NodeInputs:
        return dataclasses.replace(event, inputs=masker.mask(dict(event.inputs)))
    if kind is NodeFailed:
        return dataclasses.replace(event, error=masker.mask(event.error))
    if kind is RunFinished and event.error:
        return dataclasses.replace(event, error=masker.mask(event.error))
    return event
