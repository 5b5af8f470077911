"""Schema migrations: the numbered ``schema/NNNN_name.sql`` files, applied in order.

Each file is applied in its own transaction and recorded in ``schema_migrations``
with its sha256 checksum. The whole run holds a PostgreSQL advisory lock, so two
processes upgrading one database at once apply each file exactly once. A file whose
checksum changed after it was applied stops the upgrade with a message naming it.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, text

from glyphic_desktop import paths
from glyphic_desktop.errors import GlyphicError

# A fixed advisory-lock key: the ASCII of "glyphic" read as one integer.
ADVISORY_LOCK_KEY = 0x676C7970686963
LOCK_TIMEOUT_SECONDS = 120.0

_FILE_PATTERN = re.compile(r"^(\d{4})_([A-Za-z0-9_\-]+)\.sql$")

# Addition to the seed: the record of applied files. The runner creates it before the
# first file runs (it needs it to know what is applied), under the advisory lock.
_CREATE_RECORD = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  filename TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

State = Literal["applied", "pending", "changed", "unknown"]


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    filename: str
    path: Path
    checksum: str

    @property
    def label(self) -> str:
        """``schema/0001_core.sql``: how messages name the file."""
        return f"{self.path.parent.name}/{self.filename}"

    def sql(self) -> str:
        """The file's SQL text."""
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class MigrationStatus:
    """A migration file and whether (and how) it is applied to the database.

    ``state`` is ``applied``, ``pending``, ``changed`` (applied, but the file differs
    from what was applied) or ``unknown`` (recorded in the database, no such file here:
    the database was upgraded by a newer Glyphic).
    """

    version: int
    filename: str
    state: State
    checksum: str | None
    applied_checksum: str | None
    applied_at: datetime | None


def file_checksum(path: Path) -> str:
    """The sha256 of a migration file (line endings normalised, so a CRLF checkout matches)."""
    data = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def discover(schema_dir: Path | None = None) -> list[Migration]:
    """The migration files of ``schema_dir`` (default :func:`paths.schema_dir`), in order."""
    directory = schema_dir or paths.schema_dir()
    if not directory.is_dir():
        raise GlyphicError(f"schema directory {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise GlyphicError(
                f"{directory.name}/{path.name}: migration files must be named NNNN_name.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise GlyphicError(
                f"{directory.name}/{path.name}: version {version:04d} is also used by "
                f"{found[version].filename}"
            )
        found[version] = Migration(version, path.name, path, file_checksum(path))
    return [found[v] for v in sorted(found)]


def _record_exists(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT to_regclass('schema_migrations') IS NOT NULL")).scalar())


def _applied(conn: Connection) -> dict[int, tuple[str, str, datetime]]:
    if not _record_exists(conn):
        return {}
    rows = conn.execute(
        text("SELECT version, filename, checksum, applied_at FROM schema_migrations")
    )
    return {row.version: (row.filename, row.checksum, row.applied_at) for row in rows}


def _statuses(
    files: list[Migration], applied: dict[int, tuple[str, str, datetime]]
) -> list[MigrationStatus]:
    result: list[MigrationStatus] = []
    for m in files:
        record = applied.get(m.version)
        if record is None:
            result.append(MigrationStatus(m.version, m.filename, "pending", m.checksum, None, None))
        else:
            state: State = "applied" if record[1] == m.checksum else "changed"
            result.append(
                MigrationStatus(m.version, m.filename, state, m.checksum, record[1], record[2])
            )
    known = {m.version for m in files}
    for version, (filename, checksum, applied_at) in applied.items():
        if version not in known:
            result.append(MigrationStatus(version, filename, "unknown", None, checksum, applied_at))
    return sorted(result, key=lambda s: s.version)


def status(engine: Engine) -> list[MigrationStatus]:
    """Every migration file and every applied record, with its state, in version order."""
    files = discover()
    with engine.connect() as conn:
        applied = _applied(conn)
    return _statuses(files, applied)


def _check_unchanged(files: list[Migration], applied: dict[int, tuple[str, str, datetime]]) -> None:
    for m in files:
        record = applied.get(m.version)
        if record is not None and record[1] != m.checksum:
            raise GlyphicError(
                f"{m.label} was changed after it was applied (checksum {m.checksum[:12]}, "
                f"applied {record[1][:12]}); restore it or add a new migration"
            )


def _acquire_lock(conn: Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        conn.commit()
        if got.scalar():
            return
        if time.monotonic() > deadline:
            raise GlyphicError(
                f"another process has been upgrading the schema for over {timeout:.0f} s; "
                "try again when it has finished"
            )
        time.sleep(0.05)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else orig.__class__.__name__


def _error_line(exc: BaseException, sql: str) -> str:
    """`` (line N)`` where PostgreSQL located the error in the file, when it did."""
    diag = getattr(getattr(exc, "orig", None) or exc, "diag", None)
    position = getattr(diag, "statement_position", None)
    try:
        offset = int(position) - 1 if position else -1
    except ValueError:
        offset = -1
    return f" (line {sql[:offset].count(chr(10)) + 1})" if offset >= 0 else ""


def _apply_one(conn: Connection, migration: Migration) -> None:
    sql = migration.sql()
    try:
        with conn.begin():
            # The raw psycopg cursor without parameters uses the simple query protocol,
            # which runs a whole file of statements (functions with $$ bodies included).
            with conn.connection.driver_connection.cursor() as cursor:
                cursor.execute(sql)
            conn.execute(
                text(
                    "INSERT INTO schema_migrations (version, filename, checksum, applied_at) "
                    "VALUES (:v, :f, :c, now())"
                ),
                {"v": migration.version, "f": migration.filename, "c": migration.checksum},
            )
    except Exception as exc:
        if isinstance(exc, GlyphicError):
            raise
        raise GlyphicError(
            f"{migration.label} failed and was rolled back: {_first_line(exc)}"
            f"{_error_line(exc, sql)}"
        ) from exc


def upgrade(engine: Engine, *, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> list[Migration]:
    """Apply every pending migration file in order; return the ones applied now.

    Raises :class:`GlyphicError` naming the file when an applied file was changed or
    when a file fails (that file is rolled back; earlier ones stay applied).
    """
    files = discover()
    with engine.connect() as conn:
        # Fast path (every start of every process): nothing to do needs no lock.
        applied = _applied(conn)
        conn.commit()
        _check_unchanged(files, applied)
        if all(m.version in applied for m in files):
            return []
        _acquire_lock(conn, lock_timeout)
        try:
            with conn.begin():
                conn.execute(text(_CREATE_RECORD))
            applied = _applied(conn)
            conn.commit()
            _check_unchanged(files, applied)
            done: list[Migration] = []
            for migration in files:
                if migration.version in applied:
                    continue
                _apply_one(conn, migration)
                done.append(migration)
            return done
        finally:
            _release_lock(conn)


def _release_lock(conn: Connection) -> None:
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
        conn.commit()
    except Exception:
        # A broken connection already released the lock with its session.
        conn.invalidate()
