"""Row ids given by callers (a UUID or its text) turned into ``uuid.UUID``."""

from __future__ import annotations

import uuid

from glyphic_desktop.errors import NotFoundError


def parse_id(value: uuid.UUID | str, what: str) -> uuid.UUID:
    """``value`` as a UUID; text that is not one raises ``no {what} with id …`` (NotFoundError)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFoundError(f"no {what} with id {value!r}") from None
