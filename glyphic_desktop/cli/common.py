"""Helpers shared by the CLI command modules: usage output, a database session for the user."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
