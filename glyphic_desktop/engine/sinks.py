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
    NodeOutput,
    NodeSkipped,
    NodeStarted,
    RunEvent,
    RunFinished,
    RunStarted,
)
from glyphic_desktop.engine.records import cap_value, dumps

log = logging.getLogger(__name__)

LEVELS = {"debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"}
LOG_DATA_CAP = 64 * 1024
COPY_CHUNK = 500  # rows formatted and sent at a time within one batch's COPY


class IdentityMasker:
    """A masker that masks nothing (when the secrets module is not available)."""

    def mask(self, value: Any) -> Any:
        return value

    def __bool__(self) -> bool:
        return False


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


_SPECIAL = re.compile(r"[\\\t\n\r\x00]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"}


def _escape_match(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def copy_text(value: str | None) -> str:
    """``value`` as one field of PostgreSQL's COPY text format (None is ``\\N``)."""
    if value is None:
        return "\\N"
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
    ) -> None:
        self.db = db
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
        self._sequence = int.from_bytes(os.urandom(8), "big") >> 2
        self._thread = threading.Thread(target=self._writer, name="glyphic-log-sink", daemon=True)
        self._thread.start()

    def __call__(self, event: RunEvent) -> None:
        kind = type(event)
        if kind is NodeOutput or (kind is NodeStarted and not self.record_starts):
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
                data, _ = cap_value(data, LOG_DATA_CAP)
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
        try:
            while True:
                with self._cond:
                    if not self._closing and len(self._pending) < self.batch_size:
                        self._cond.wait(self.flush_interval)
                    closing = self._closing
                events = self._take()
                if events:
                    connection = self._write(connection, events)
                if closing and not self._pending:
                    break
        finally:
            if connection is not None:
                try:
                    connection.close()
                except Exception:
                    log.debug("closing the log sink connection failed", exc_info=True)

    def _connect(self) -> Any:
        engine = getattr(self.db, "engine", self.db)
        connection = engine.raw_connection()
        driver = connection.driver_connection
        # Log rows need not wait for the WAL flush: a crash may lose the last batch's
        # few milliseconds of lines, never the execution row (written elsewhere).
        driver.execute("SET synchronous_commit TO off")
        driver.commit()
        return connection

    def _write(self, connection: Any, events: list[RunEvent]) -> Any:
        count = 0
        try:
            if connection is None:
                connection = self._connect()
            driver = connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(self.COPY_SQL) as copy:
                # One COPY per batch, sent in chunks: the server stores a chunk while
                # the next one is formatted.
                for start in range(0, len(events), COPY_CHUNK):
                    text, rows = self.format_rows(events[start : start + COPY_CHUNK])
                    if rows:
                        copy.write(text)
                        count += rows
            driver.commit()
            self.rows_written += count
            self.batches += 1
        except Exception:
            self.errors += 1
            log.warning("could not write %d execution log rows", count, exc_info=True)
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.invalidate()
            connection = None
        return connection

    def flush(self) -> None:
        """Ask the writer to write what is waiting now (does not wait for it)."""
        with self._cond:
            self._cond.notify()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still waiting and stop the writer thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)


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
            self._write(json.dumps(self.event_dict(event), ensure_ascii=False, default=str))
            return
        line = self.format(event)
        if line is not None:
            self._write(line)

    def event_dict(self, event: RunEvent) -> dict[str, Any]:
        """The JSON object printed for ``event`` (masked)."""
        data: dict[str, Any] = {"event": event.kind}
        for name in getattr(event, "__dataclass_fields__", {}):
            value = getattr(event, name)
            if name == "outputs":
                value = {str(k): cap_value(v, 4096)[0] for k, v in value.items()}
            elif name == "data" and value is not None:
                value = cap_value(value, LOG_DATA_CAP)[0]
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
                text += " " + self._paint(dumps(cap_value(data, 2048)[0]), "dim")
        if masker:
            text = masker.mask(text)
        return f"{stamp} {text}"


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
    if kind is NodeFailed:
        return dataclasses.replace(event, error=masker.mask(event.error))
    if kind is RunFinished and event.error:
        return dataclasses.replace(event, error=masker.mask(event.error))
    return event
