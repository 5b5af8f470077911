"""Repositories: every query on the store, so no SQL is scattered in callers.

Each repository takes a SQLAlchemy ``Session`` (from ``Database.session()``, which
commits on success) and, where rows belong to a person, the current user's id.
"""

from __future__ import annotations

from glyphic_desktop.store.repositories.users import UserRepository, current_user_id
from glyphic_desktop.store.repositories.versions import (
    VersionRecord,
    VersionRepository,
    VersionSummary,
)
from glyphic_desktop.store.repositories.workflows import (
    DuplicateNameError,
    ReadOnlyError,
    WorkflowRecord,
    WorkflowRepository,
    WorkflowSummary,
)

__all__ = [
    "DuplicateNameError",
    "ReadOnlyError",
    "UserRepository",
    "VersionRecord",
    "VersionRepository",
    "VersionSummary",
    "WorkflowRecord",
    "WorkflowRepository",
    "WorkflowSummary",
    "current_user_id",
]
