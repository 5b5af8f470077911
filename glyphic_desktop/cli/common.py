"""Helpers shared by the CLI command modules: usage output, a database session for the user,
workflow references, tables and times."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid


def print_usage(parser: argparse.ArgumentParser) -> int:
    """Print ``parser``'s help (a command given without its sub-command) and return exit code 2."""
    parser.print_help()
    return 2


def open_user_database() -> tuple[Any, uuid.UUID]:
    """The database (``open_database()``) and the current user's id; the caller disposes it."""
    from glyphic_desktop.store.database import open_database
    from glyphic_desktop.store.repositories.users import current_user_id

    db = open_database()
    return db, current_user_id(db)


@contextmanager
def user_session() -> Iterator[tuple[Any, uuid.UUID]]:
    """A session (committed on success) and the current user's id; disposes the database after."""
    from glyphic_desktop.store.database import open_database
    from glyphic_desktop.store.repositories.users import current_user_id

    db = open_database()
    try:
        user_id = current_user_id(db)
        with db.session() as session:
            yield session, user_id
    finally:
        db.dispose()


def resolve_workflow(session: Any, user_id: uuid.UUID, reference: str) -> Any:
    """The stored workflow ``reference`` names, by the rule every command shares
    (:meth:`WorkflowRepository.resolve`: id, exact name, unique case-insensitive name, else
    one line with "did you mean …", exit 2)."""
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    return WorkflowRepository(session, user_id).resolve(reference)


def when(moment: datetime | None) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM:SS`` (``-`` for none)."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime | None) -> str | None:
    """A timestamp as ISO 8601 for JSON output (None stays None)."""
    return moment.isoformat() if moment is not None else None


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Rows as left-aligned columns under ``headers`` (nothing but the header when empty)."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))
    for row in [list(headers), *cells]:
        print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
