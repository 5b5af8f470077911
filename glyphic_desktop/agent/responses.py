"""Answers for webhook requests that wait for their run (``response_mode`` ``when_finished``).

An in-process board keyed by execution id: the webhook listener registers a waiter
(:meth:`ResponseBoard.expect`) before it stores the execution; the run, in the same
process's queue runner, publishes a :class:`WebhookReply` when a Respond to webhook node
runs (:meth:`ResponseBoard.respond`) and the outcome when it ends
(:meth:`ResponseBoard.finished`). The first of the two settles the waiter; later ones
are ignored. Publishing is thread-safe and costs one dict lookup when nobody waits (a
run started by ``glyphic run`` or the editor, or a run another agent claimed: then the
listener falls back to polling the execution row).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WebhookReply:
    """What a Respond to webhook node sends: status, headers and the body's bytes."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class RunEnded:
    """A run ended without a Respond node answering: its status, error and the last
    node's output (the run's result)."""

    status: str
    error: str | None = None
    result: Any = None


class ResponseBoard:
    """Waiters by execution id; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[uuid.UUID, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}

    def expect(self, execution_id: uuid.UUID) -> asyncio.Future[Any]:
        """A future (on the running loop) settled with a :class:`WebhookReply` or a
        :class:`RunEnded` for ``execution_id``; :meth:`discard` it when done."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._waiters[execution_id] = (loop, future)
        return future

    def discard(self, execution_id: uuid.UUID) -> None:
        """Forget the waiter of ``execution_id`` (answered, timed out or gone)."""
        with self._lock:
            self._waiters.pop(execution_id, None)

    def waiting(self, execution_id: uuid.UUID | str | None) -> bool:
        """Whether a request in this process waits for ``execution_id``."""
        key = _key(execution_id)
        return key is not None and key in self._waiters

    def _settle(self, execution_id: uuid.UUID | str | None, value: Any) -> bool:
        key = _key(execution_id)
        if key is None:
            return False
        with self._lock:
            entry = self._waiters.get(key)
        if entry is None:
            return False
        loop, future = entry

        def settle() -> None:
            if not future.done():
                future.set_result(value)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            settle()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle)
        return True

    def respond(self, execution_id: uuid.UUID | str | None, reply: WebhookReply) -> bool:
        """Answer the request waiting for ``execution_id``; False when none waits here."""
        return self._settle(execution_id, reply)

    def finished(
        self,
        execution_id: uuid.UUID | str | None,
        status: str,
        error: str | None = None,
        result: Any = None,
    ) -> bool:
        """Tell the waiting request (if any) that the run ended. A run that was stored
        ``waiting`` (a long Wait node) has not ended: the request keeps waiting for its
        resumed run (or its timeout)."""
        if status == "waiting":
            return False
        return self._settle(execution_id, RunEnded(status, error, result))


def _key(execution_id: uuid.UUID | str | None) -> uuid.UUID | None:
    if execution_id is None or isinstance(execution_id, uuid.UUID):
        return execution_id
    try:
        return uuid.UUID(str(execution_id))
    except ValueError:
        return None


#: The process's board (the listener and the queue runner share it).
BOARD = ResponseBoard()
