"""Ending an ``executions`` row whatever goes wrong while recording it.

:func:`finish_surely` writes the final row through ``write`` (the runner's finish, or
the agent's batch writer). Error texts are made storable first
(:func:`~glyphic_desktop.engine.records.storable_text`). When the write fails:

- because the database cannot be reached (a restart, a dropped connection), it is tried
  again with backoff (:data:`RETRY_DELAYS`, about 8 s in all);
- because the server refused a value, it is tried once more with the outputs made
  storable again (:func:`~glyphic_desktop.engine.records.to_jsonable` escapes NUL and
  lone surrogates wherever they came from);
- for any other reason (a value still refused, a file row it rejects, a bug), or
  when the database stays unreachable, the row is written ``failed`` without outputs or
  files, its ``error_message`` one line saying why the record could not be stored
  (after the run's own error, if it had one), tried with the same backoff;
- when even that is refused, ``last_resort`` (:func:`fail_row`: one UPDATE of the status,
  the message and ``completed_at``, nothing else) ends the row.

The returned :class:`Finished` says what the row now holds, so the caller reports the
same status and error as the row. A row another process already finished (the agent
failing a run whose heartbeat stopped) is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from glyphic_desktop.engine.records import storable_text, to_jsonable

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 2.0, 4.0)
REASON_CHARS = 300


@dataclass
class Finished:
    """What the row holds after :func:`finish_surely`."""

    status: str
    files: list[Any] = field(default_factory=list)
    error: str | None = None  # set when the record could not be stored as asked


def one_line_reason(exc: BaseException) -> str:
    """``exc`` as one short line (the driver's error for a database error)."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    text = lines[0] if lines else ""
    reason = f"{inner.__class__.__name__}: {text}" if text else inner.__class__.__name__
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 1] + "…"
    return storable_text(reason)


def _transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (worth trying again)."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

    if isinstance(exc, DisconnectionError | InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def _already_finished(exc: BaseException) -> bool:
    from glyphic_desktop.store.repositories.executions import ExecutionStateError

    return isinstance(exc, ExecutionStateError)


def _text(value: Any) -> Any:
    return storable_text(value) if isinstance(value, str) else value


async def _attempt(write: Callable[..., Awaitable[Any]], status: str, kw: dict[str, Any]) -> Any:
    """``write(status, **kw)``, tried again while the database is unreachable."""
    for delay in (0.0, *RETRY_DELAYS):
        if delay:
            await asyncio.sleep(delay)
        try:
            return await write(status, **kw)
        except Exception as exc:
            if not _transient(exc) or delay == RETRY_DELAYS[-1]:
                raise
            log.warning("recording the run failed (%s); trying again", one_line_reason(exc))
    raise AssertionError("unreachable")  # pragma: no cover


def fail_row(db: Any, user_id: Any, execution_id: Any, message: str) -> None:
    """Mark a pending or running execution ``failed`` with ``message``, writing nothing else."""
    from sqlalchemy import text

    with db.session() as session:
        session.execute(
            text(
                "UPDATE executions SET status = 'failed', error_message = :message, "
                "completed_at = clock_timestamp(), duration_ms = COALESCE(floor(extract("
                "epoch FROM clock_timestamp() - started_at) * 1000), 0) "
                "WHERE id = :id AND user_id = :user AND status IN ('pending', 'running')"
            ),
            {"message": storable_text(message), "id": execution_id, "user": user_id},
        )


async def finish_surely(
    write: Callable[..., Awaitable[Any]],
    status: str,
    *,
    last_resort: Callable[[str], Awaitable[Any]] | None = None,
    **kw: Any,
) -> Finished:
    """Write the final row through ``write(status, **kw)``; never leave it unfinished.

    ``last_resort(message)`` is awaited when the plain ``failed`` row is refused too.
    """
    for key in ("error_message", "error_stack"):
        if key in kw:
            kw[key] = _text(kw[key])
    reason = ""
    for attempt in range(2):
        try:
            files = await _attempt(write, status, kw)
            return Finished(status, list(files or []))
        except Exception as exc:
            if _already_finished(exc):
                log.warning("the run's row was already finished: %s", one_line_reason(exc))
                return Finished(status)
            reason = one_line_reason(exc)
            if attempt or _transient(exc) or kw.get("output_data") is None:
                break
            try:
                kw["output_data"] = to_jsonable(kw["output_data"])
            except Exception:  # a value that cannot even be converted: fall back below
                break
    original = kw.get("error_message")
    if original:
        message = f"{original} (and its record could not be stored: {reason})"
    else:
        message = f"the run's record could not be stored: {reason}"
    log.error("execution record: %s", message)
    fallback = {"error_message": message, "output_data": None, "files": []}
    try:
        await _attempt(write, "failed", fallback)
        return Finished("failed", [], message)
    except Exception as exc:
        if _already_finished(exc):
            return Finished("failed", [], message)
        refused = exc
    try:
        if last_resort is None:
            raise refused
        await last_resort(message)
    except Exception as exc:
        log.error(
            "could not mark the run failed either (%s); a live agent fails it once its "
            "process stops heartbeating",
            one_line_reason(exc),
        )
    return Finished("failed", [], message)
