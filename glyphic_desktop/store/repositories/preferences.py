"""One person's preferences: the keys of ``users.preferences`` (JSONB), read and written one
at a time, so two processes changing different keys never undo each other's change.

``users.preferences`` holds what follows a person across machines (DESIGN.md §2); window
layout stays in the editor's QSettings.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from glyphic_desktop.errors import NotFoundError


class PreferenceRepository:
    """Reads and writes keys of one user's ``users.preferences``."""

    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.session = session
        self.user_id = user_id

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` (``default`` when the key is not set)."""
        row = self.session.execute(
            text("SELECT preferences -> :key AS value FROM users WHERE id = :uid"),
            {"key": key, "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no user with id {self.user_id}")
        return default if row.value is None else row.value

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``; ``None`` removes the key."""
        if value is None:
            statement = "UPDATE users SET preferences = COALESCE(preferences, '{}') - :key"
            params: dict[str, Any] = {"key": key, "uid": self.user_id}
        else:
            statement = (
                "UPDATE users SET preferences = jsonb_set(COALESCE(preferences, '{}'), "
                "ARRAY[CAST(:key AS text)], CAST(:value AS jsonb))"
            )
            params = {"key": key, "value": json.dumps(value), "uid": self.user_id}
        result = self.session.execute(text(statement + " WHERE id = :uid"), params)
        if result.rowcount == 0:
            raise NotFoundError(f"no user with id {self.user_id}")
