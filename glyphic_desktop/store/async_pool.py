"""A small pool of psycopg ``AsyncConnection`` s for code on an asyncio loop (the webhook
listener), so database work never blocks the loop and never waits on a worker thread.

Connections are in autocommit mode (one statement is one transaction) and are not
pinged before use: a connection that fails is dropped, and :meth:`AsyncPool.run` tries a
statement that failed on a reused connection once more on a new one. When the server
cannot be reached the pool says so at once (:class:`DatabaseUnreachable`) instead of
letting callers queue behind connection timeouts: after a failed connect, every caller
is refused for ``cooldown`` seconds before the next attempt.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from glyphic_desktop.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SIZE = 16
DEFAULT_CONNECT_TIMEOUT = 3
DEFAULT_COOLDOWN = 0.5

#: What a lost or unreachable server raises: the statement may be retried elsewhere.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)


class DatabaseUnreachable(DatabaseUnavailable):
    """The server cannot be reached now (connect refused, connection lost, timed out)."""


def connect_kwargs(sqlalchemy_url: str) -> dict[str, Any]:
    """libpq keywords (host, port, dbname, user, password, query options) for a
    SQLAlchemy ``postgresql+psycopg://`` URL, as SQLAlchemy's own dialect reads it."""
    from sqlalchemy import create_engine

    engine = create_engine(sqlalchemy_url)
    try:
        _args, kwargs = engine.dialect.create_connect_args(engine.url)
    finally:
        engine.dispose()
    kwargs.pop("context", None)
    return kwargs


class AsyncPool:
    """At most ``size`` autocommit connections to one database, opened on demand."""

    def __init__(
        self,
        conninfo: dict[str, Any],
        *,
        size: int = DEFAULT_SIZE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        cooldown: float = DEFAULT_COOLDOWN,
    ) -> None:
        self._conninfo = {**conninfo, "connect_timeout": max(1, int(connect_timeout))}
        self._idle: collections.deque[psycopg.AsyncConnection[Any]] = collections.deque()
        self._slots = asyncio.Semaphore(size)
        self._cooldown = cooldown
        self._refuse_until = 0.0
        self._last_error = ""
        self._closed = False
        self.size = size

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if time.monotonic() < self._refuse_until:
            raise DatabaseUnreachable(self._last_error)
        try:
            return await psycopg.AsyncConnection.connect(autocommit=True, **self._conninfo)
        except TRANSIENT as exc:
            self._last_error = " ".join(str(exc).split()) or type(exc).__name__
            self._refuse_until = time.monotonic() + self._cooldown
            raise DatabaseUnreachable(self._last_error) from exc

    async def run(self, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """``await work(connection)`` on a pooled connection and return its result.

        A transient failure on a reused connection (the server restarted since it was
        opened) is retried once on a new connection; any other transient failure raises
        :class:`DatabaseUnreachable`. Other errors (a constraint, bad data) propagate and
        the connection goes back to the pool.
        """
        if self._closed:
            raise DatabaseUnreachable("the connection pool is closed")
        async with self._slots:
            for attempt in (1, 2):
                reused = attempt == 1 and bool(self._idle)
                conn = self._idle.popleft() if reused else await self._connect()
                try:
                    result = await work(conn)
                except TRANSIENT as exc:
                    await _discard(conn)
                    if reused:  # opened before the failure: try a new one once
                        continue
                    self._last_error = " ".join(str(exc).split()) or type(exc).__name__
                    raise DatabaseUnreachable(self._last_error) from exc
                except BaseException:
                    await self._release(conn)
                    raise
                await self._release(conn)
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        status = conn.info.transaction_status
        if self._closed or conn.closed or status != psycopg.pq.TransactionStatus.IDLE:
            await _discard(conn)
        else:
            self._idle.append(conn)

    async def close(self) -> None:
        """Close every idle connection; connections in use close when they come back."""
        self._closed = True
        while self._idle:
            await _discard(self._idle.popleft())


async def _discard(conn: psycopg.AsyncConnection[Any]) -> None:
    try:
        await conn.close()
    except Exception:  # already broken: nothing to close cleanly
        log.debug("closing a broken connection failed", exc_info=True)
