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
    """The stored workflow ``reference`` names, by the rule every command shares: an
    existing workflow file (the stored workflow with its document id, else its name), else
    :meth:`WorkflowRepository.resolve` (an id, the exact name, the one name in any case;
    else one line with "did you mean …", exit 2)."""
    from glyphic_desktop.errors import GlyphicError, NotFoundError, UsageError
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository, is_workflow_file

    repo = WorkflowRepository(session, user_id)
    if not is_workflow_file(reference):
        return repo.resolve(reference)
    from pathlib import Path

    from glyphic_desktop.document.io import load_document_file

    try:
        document = load_document_file(reference)
    except GlyphicError as exc:
        raise UsageError(exc.message) from None
    if document.id:
        try:
            return repo.resolve(str(document.id))
        except NotFoundError:
            pass
    name = str((document.metadata or {}).get("name") or Path(reference).stem)
    record = repo.get_by_name(name)
    if record is None:
        raise NotFoundError(
            f"{reference}: this file's workflow is not stored ('glyphic import' stores it)"
        )
    return record


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


def retry_lost_runs_count(text: str) -> int:
    """argparse type of ``--retry-lost-runs``: a whole number from 0 (never retry) to 10."""
    from glyphic_desktop.errors import UsageError
    from glyphic_desktop.store.policies import check_retry_lost_runs

    try:
        return check_retry_lost_runs(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def add_retry_lost_runs_option(
    parser: argparse.ArgumentParser, what: str, default: int | None = None
) -> None:
    """Add ``--retry-lost-runs N`` (a schedule's or webhook's policy, 0007) to ``parser``;
    ``default`` None means "keep the current value" (a change verb)."""
    parser.add_argument(
        "--retry-lost-runs",
        type=retry_lost_runs_count,
        default=default,
        metavar="N",
        help=f"how many times a run of this {what} is queued again when the process running "
        "it died or stopped: 0 (never) to 10"
        + (f" (default {default})" if default is not None else ""),
    )
