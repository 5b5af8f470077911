"""Fresh test databases cloned ahead of time, dropped behind (``tests/conftest.py``).

Cloning the migrated template (``CREATE DATABASE ... TEMPLATE``) costs 100-500 ms on the
CI machine's disk, and dropping one 10-50 ms: paid inside every test that uses the
database, that was a third of the suite. :class:`DatabasePool` keeps a few clones being
made on background threads (several at once: the cost is the disk's latency, not a
core), hands out one per test, and drops used ones on another thread. Each test still
gets a database nobody else touched.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError


def drop_database(admin: Engine, name: str) -> None:
    """Drop a test database, retrying while a server background worker (autovacuum) holds it.

    ``WITH (FORCE)`` may not end an autovacuum worker when the test role lacks
    pg_signal_backend; such a worker leaves within moments, so try again briefly.
    """
    deadline = time.monotonic() + 10
    while True:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class DatabasePool:
    """Clones of ``template`` on the server of ``admin_url``: ``ahead`` being made at any
    time by ``makers`` threads; :meth:`take` one, :meth:`discard` it after the test."""

    def __init__(self, admin_url: str, template: str, *, ahead: int = 3, makers: int = 3) -> None:
        self.template = template
        self._admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", pool_size=makers + 1, max_overflow=2
        )
        self._makers = ThreadPoolExecutor(makers, thread_name_prefix="test-db-clone")
        self._droppers = ThreadPoolExecutor(1, thread_name_prefix="test-db-drop")
        self._ahead: deque[Future[str]] = deque(
            self._makers.submit(self._clone) for _ in range(ahead)
        )

    def _clone(self) -> str:
        name = f"glyphic_t_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.execute(
                text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY')
            )
        return name

    def take(self) -> str:
        """A fresh database's name (waits for the oldest clone under way)."""
        future = self._ahead.popleft()
        self._ahead.append(self._makers.submit(self._clone))
        return future.result()

    def discard(self, name: str) -> None:
        """Drop a used database, in the background."""
        self._droppers.submit(drop_database, self._admin, name)

    def close(self) -> None:
        """Drop the clones nobody took and wait for every drop."""
        for future in self._ahead:
            future.cancel()
        self._makers.shutdown(wait=True)
        for future in self._ahead:
            if not future.cancelled():
                with contextlib.suppress(Exception):
                    self.discard(future.result())
        self._droppers.shutdown(wait=True)
        self._admin.dispose()
