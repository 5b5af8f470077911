"""Shared fixtures: an isolated GLYPHIC_HOME per test and a clean, migrated database per test.

The database server is the embedded one (started once per test session in a temp dir)
unless ``GLYPHIC_TEST_DATABASE_URL`` names an external server, whose role must be able
to create databases. Each test gets its own database cloned from a migrated template
(``CREATE DATABASE ... TEMPLATE``), so no state leaks between tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from database_pool import DatabasePool, drop_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from glyphic_desktop.store.database import Database, normalise_url

TEST_DATABASE_URL_ENV = "GLYPHIC_TEST_DATABASE_URL"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def glyphic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own GLYPHIC_HOME, so nothing touches the real user's files.

    As root, an embedded server a test started under this home may live outside it (in
    /var/lib/glyphic, see store/embedded.py): it is stopped and removed afterwards.
    """
    home = tmp_path / "glyphic-home"
    home.mkdir()
    monkeypatch.setenv("GLYPHIC_HOME", str(home))
    monkeypatch.delenv("GLYPHIC_DATABASE_URL", raising=False)
    monkeypatch.delenv("GLYPHIC_SECRET_KEY", raising=False)
    yield home
    if os.geteuid() == 0:
        from glyphic_desktop.store.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(home / "data" / "postgres")
        if server.server_dir != server.root and server.server_dir.exists():
            server.discard()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """As root: remove stopped embedded clusters in /var/lib/glyphic whose temporary root
    is gone (a test that stopped its server without ``discard()``)."""
    if os.geteuid() != 0:
        return
    from glyphic_desktop.store.embedded import OWNER_FILE, SYSTEM_DIR

    temp = tempfile.gettempdir().rstrip("/") + "/"
    for server_dir in SYSTEM_DIR.glob("pg-*") if SYSTEM_DIR.is_dir() else ():
        try:
            owner = (server_dir / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if not owner.startswith(temp) or Path(owner).exists():
            continue
        if not (server_dir / "pgdata" / "postmaster.pid").exists():
            shutil.rmtree(server_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """An admin URL (on the ``postgres`` maintenance database) of the test server."""
    external = os.environ.get(TEST_DATABASE_URL_ENV)
    if external:
        yield normalise_url(external)
        return
    from glyphic_desktop.store.embedded import EmbeddedPostgres

    # Not under pytest's tmp_path: a new pytest session resets /tmp/pytest-of-root to 0700,
    # which would cut the unprivileged server user (when run as root) off from its data.
    root = Path(tempfile.mkdtemp(prefix="glyphic-test-pg-"))
    server = EmbeddedPostgres(root)
    server.ensure_running()
    try:
        yield server.url("postgres")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    """The name of a database migrated to the newest schema, cloned by each test."""
    from glyphic_desktop.store.migrations import upgrade

    name = f"glyphic_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(_with_database(pg_server_url, name))
    upgrade(engine)
    engine.dispose()
    try:
        yield name
    finally:
        drop_database(admin, name)
        admin.dispose()


@pytest.fixture(scope="session")
def database_pool(pg_server_url: str, template_database: str) -> Iterator[DatabasePool]:
    """Clones of the template made ahead of the tests that need them (tests/database_pool.py)."""
    pool = DatabasePool(pg_server_url, template_database)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def database_url(
    pg_server_url: str, database_pool: DatabasePool, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh migrated database for this test; GLYPHIC_DATABASE_URL points at it."""
    name = database_pool.take()
    url = _with_database(pg_server_url, name)
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", url)
    try:
        yield url
    finally:
        database_pool.discard(name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A :class:`Database` on this test's fresh database."""
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def user_id(db: Database) -> uuid.UUID:
    """The local user of this test's database (``current_user_id``, as the CLI and runner use)."""
    from glyphic_desktop.store.repositories.users import current_user_id

    return current_user_id(db)


@pytest.fixture
def no_os_keyring() -> Iterator[None]:
    """Never touch the real user's keyring: the 'no backend' keyring unless a test sets one."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)
