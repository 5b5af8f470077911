"""Where the database is and how to talk to it.

``GLYPHIC_DATABASE_URL`` points every process at an external PostgreSQL server;
without it the embedded server (``store/embedded.py``) is started on first use and
shared by every Glyphic process of this user.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from glyphic_desktop.errors import DatabaseUnavailable

DATABASE_URL_ENV = "GLYPHIC_DATABASE_URL"


def external_database_url() -> str | None:
    """The external server's URL from the environment, or None for the embedded server."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return url or None


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL using the psycopg 3 driver (``postgresql://`` is accepted)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def describe_url(url: str) -> str:
    """The URL with its password masked, for messages and ``glyphic db url``."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _where(url: str) -> str:
    parsed = make_url(normalise_url(url))
    if parsed.host:
        return f"{parsed.host}:{parsed.port or 5432}"
    host = parsed.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    return f"socket {host}" if host else "the default socket"


def resolve_database_url() -> str:
    """The SQLAlchemy URL this process should use, starting the embedded server if needed."""
    external = external_database_url()
    if external:
        return normalise_url(external)
    from glyphic_desktop.store.embedded import default_server

    return default_server().ensure_running()


class Database:
    """One PostgreSQL database: an engine, sessions, and a clear error when unreachable."""

    def __init__(self, url: str, *, embedded: bool = False, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.embedded = embedded
        self.engine: Engine = create_engine(
            self.url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
        )
        if embedded:
            event.listen(self.engine, "do_connect", self._ensure_embedded_running)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _ensure_embedded_running(self, dialect, conn_rec, cargs, cparams) -> None:
        # The embedded server may have been stopped by another process (`glyphic db stop`):
        # start it again before connecting instead of failing on a dead socket.
        from glyphic_desktop.store.embedded import default_server

        default_server().ensure_running()

    @property
    def where(self) -> str:
        """``host:port`` or the socket directory, for messages."""
        return _where(self.url)

    def check(self) -> None:
        """Connect once; raise :class:`DatabaseUnavailable` naming host and port when that fails."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailable(f"cannot reach PostgreSQL at {self.where}: {reason}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(*, upgrade: bool = True, url: str | None = None) -> Database:
    """The database for this process, reachable and (by default) migrated to the newest schema."""
    embedded = url is None and external_database_url() is None
    database = Database(url or resolve_database_url(), embedded=embedded)
    database.check()
    if upgrade:
        from glyphic_desktop.store.migrations import upgrade as apply_migrations

        apply_migrations(database.engine)
    return database
