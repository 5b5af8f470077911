"""The marker of a value cut to fit its record, shared by every layer that reads records.

``engine/records.py`` replaces a value over its cap with ``{"__truncated__": true, ...}``;
the store, the partial-run planner and the editor's data panel look for that marker to
tell a complete record from a cut one.
"""

from __future__ import annotations

from typing import Any

TRUNCATED_KEY = "__truncated__"


def has_truncation_marker(value: Any) -> bool:
    """Whether ``value`` (JSON-like, any depth) holds a cut value's marker."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get(TRUNCATED_KEY) is True:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
