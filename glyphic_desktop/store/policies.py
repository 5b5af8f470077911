"""Schedule policy names, kept apart from the models so the CLI can offer them as choices
without importing SQLAlchemy (``glyphic schedule add --help`` stays fast)."""

from __future__ import annotations

MISFIRE_POLICIES: tuple[str, ...] = ("once", "skip", "all")
OVERLAP_POLICIES: tuple[str, ...] = ("allow", "skip", "queue")
