"""Errors shown in a dock's status line: one line of the error's user-facing text."""

from __future__ import annotations

from typing import Any


def error_line(exc: Any) -> str:
    """The first line of ``exc``'s message (a database error's driver text), else its class."""
    text = getattr(exc, "message", None) or str(getattr(exc, "orig", None) or exc)
    return (text.strip().splitlines() or [exc.__class__.__name__])[0]
