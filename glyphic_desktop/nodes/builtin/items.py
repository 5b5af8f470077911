"""Item helpers shared by the transform nodes: a list of objects is a list of items, one
object is one item; dotted field paths (``a.b.c``) read nested fields."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from glyphic_desktop.nodes.base import NodeError

MISSING = object()


def as_items(value: Any, field: str = "input") -> list[Any]:
    """The items of ``value``: a list as it is, None as no item, anything else as one item."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def object_items(value: Any, what: str) -> list[Mapping[str, Any]]:
    """The items of ``value``, each of which must be an object (NodeError naming the first
    one that is not)."""
    items = as_items(value)
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise NodeError(
                f"{what}: item {index} is a {type(item).__name__}, not an object", field="input"
            )
    return items  # type: ignore[return-value]


def get_path(item: Any, path: str, default: Any = MISSING) -> Any:
    """``item[a][b]…`` for ``path`` = ``a.b…`` (list indexes allowed: ``tags.0``);
    ``default`` (the MISSING marker unless given) when a step is absent."""
    if path == "":
        return item
    here = item
    for part in path.split("."):
        if isinstance(here, Mapping):
            if part not in here:
                return default
            here = here[part]
        elif isinstance(here, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(here) <= index < len(here):
                return default
            here = here[index]
        else:
            return default
    return here


def freeze(value: Any) -> Any:
    """A hashable, order-independent form of a JSON-like value (for keys and duplicates)."""
    if isinstance(value, Mapping):
        return ("o", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("l", tuple(freeze(v) for v in value))
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if value is None:
        return ("z",)
    if isinstance(value, str):
        return ("s", value)
    return ("r", json.dumps(value, default=str, sort_keys=True))


_DIGITS = re.compile(r"\d+")


def _padded(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"{len(digits):03d}{digits}"


def natural_key(text: str) -> str:
    """A sort key putting ``item2`` before ``item10`` (case-insensitive): each run of
    digits is prefixed with its length, so one string comparison orders them."""
    return _DIGITS.sub(_padded, text.casefold())


def clean_paths(value: list[str]) -> list[str]:
    """Field paths stripped; empty ones dropped (a pydantic validator body)."""
    return [path.strip() for path in value if path and path.strip()]
