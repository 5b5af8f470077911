"""What a run leaves in its ``executions`` row: node outputs as JSON, capped, masked.

:func:`cap_value` turns any node output into JSON-ready data no larger than a budget.
A value over the budget is replaced by a visible marker, never silently dropped::

    {"__truncated__": true, "bytes": 104857600, "preview": "{\\"items\\": [{\\"id\\": 1, ..."}

(``bytes`` is the approximate size of the value as JSON). Values JSON cannot hold are
converted: ``bytes`` → ``{"__bytes__": N, "preview": "<base64 of the first bytes>"}``,
NaN and infinities → the strings ``"nan"``, ``"inf"``, ``"-inf"``,
datetimes → ISO-8601 text, sets and tuples → lists, pydantic models → their dump,
anything else → its ``repr``.

Text PostgreSQL cannot store (``jsonb`` and ``text`` refuse U+0000, and UTF-8 has no
lone surrogates) is stored escaped, with a visible marker: each NUL becomes the six
characters ``\\u0000`` and each lone surrogate ``\\udXXX`` (its code as text), in keys
and values alike (:func:`storable_text`); the executions row and ``--json`` show that
marker where the value held the character. Error messages and stacks go through
:func:`storable_text` too before they are written.

:class:`OutputRecorder` is an event listener that keeps each node's capped and masked
outputs as ``{node_id: {port: value}}`` (``executions.output_data``), within a budget
per node and a budget for the whole run.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from glyphic_desktop.document.truncation import TRUNCATED_KEY
from glyphic_desktop.engine.events import NodeOutput, RunEvent

DEFAULT_NODE_OUTPUT_CAP = 1024 * 1024
DEFAULT_TOTAL_OUTPUT_CAP = 32 * 1024 * 1024
PREVIEW_CHARS = 1000


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class _TooBig(Exception):
    pass


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates escaped as ``\\uXXXX`` (see the module doc)."""
    if "\x00" not in text and (text.isascii() or _UNSTORABLE.search(text) is None):
        return text
    return _UNSTORABLE.sub(_escape_char, text)


def _scalar(value: Any, masker: Any = None) -> tuple[Any, int] | None:
    """(JSON value, approximate size) of a non-container, or None for containers.

    With ``masker``, a bytes preview is cut from the masked bytes (mask first, then cut).
    """
    if value is None or value is True or value is False:
        return value, 5
    kind = type(value)
    if kind is str:
        return storable_text(value), len(value) + 2
    if kind is int:
        return value, 8
    if kind is float:
        return (value if math.isfinite(value) else str(value)), 12
    if isinstance(value, str):
        return storable_text(str(value)), len(value) + 2
    if isinstance(value, bool | int):
        return int(value) if not isinstance(value, bool) else value, 8
    if isinstance(value, float):
        return (float(value) if math.isfinite(value) else str(value)), 12
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        cut = getattr(masker, "mask_bytes_head", None) if masker else None
        head = cut(raw, 48) if cut is not None else raw[:48]
        preview = base64.b64encode(head).decode("ascii")
        return {"__bytes__": len(raw), "preview": preview}, len(preview) + 32
    if isinstance(value, datetime | date | time):
        text = value.isoformat()
        return text, len(text) + 2
    if isinstance(value, Decimal):
        return (float(value) if value.is_finite() else str(value)), 12
    if isinstance(value, UUID | PurePath):
        text = str(value)
        return text, len(text) + 2
    if isinstance(value, Enum):
        return _scalar(value.value, masker)
    return None


def _convert(value: Any, budget: list[int], masker: Any = None) -> Any:
    scalar = _scalar(value, masker)
    if scalar is not None:
        budget[0] -= scalar[1]
        if budget[0] < 0:
            raise _TooBig
        return scalar[0]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        budget[0] -= 2
        for key, item in value.items():
            name = storable_text(key if type(key) is str else str(key))
            budget[0] -= len(name) + 4
            out[name] = _convert(item, budget, masker)
        if budget[0] < 0:
            raise _TooBig
        return out
    if isinstance(value, list | tuple | set | frozenset):
        budget[0] -= 2
        result = [_convert(item, budget, masker) for item in value]
        budget[0] -= len(result)
        if budget[0] < 0:
            raise _TooBig
        return result
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return _convert(dump(mode="json"), budget, masker)
        except TypeError:
            pass
    text = storable_text(repr(value))
    budget[0] -= len(text) + 2
    if budget[0] < 0:
        raise _TooBig
    return text


def approximate_size(value: Any) -> int:
    """The approximate size of ``value`` as JSON, in characters (iterative walk)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        scalar = _scalar(item)
        if scalar is not None:
            total += scalar[1]
        elif isinstance(item, Mapping):
            total += 2
            for key, sub in item.items():
                total += len(key if type(key) is str else str(key)) + 4
                stack.append(sub)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += len(repr(item)) + 2
    return total


def _json_default(value: Any, masker: Any = None) -> Any:
    scalar = _scalar(value, masker)
    if scalar is not None:
        return scalar[0]
    if isinstance(value, set | frozenset):
        return list(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return repr(value)


def preview_text(value: Any, limit: int = PREVIEW_CHARS, masker: Any = None) -> str:
    """The first ``limit`` characters of ``value`` as JSON (encoded lazily, not all of it).

    With ``masker`` the text is masked before it is cut: enough is encoded to cover
    ``limit`` characters plus the longest secret, and :meth:`mask_head` cuts it.
    """
    head = getattr(masker, "mask_head", None) if masker else None
    default = _json_default if head is None else (lambda item: _json_default(item, masker))
    encoder = json.JSONEncoder(default=default, ensure_ascii=False, check_circular=False)
    want = limit
    while True:
        parts: list[str] = []
        size = 0
        try:
            for chunk in encoder.iterencode(value):
                parts.append(chunk)
                size += len(chunk)
                if size >= want:
                    break
        except (ValueError, TypeError, RecursionError):
            parts.append(" …")
        text = "".join(parts)
        if head is None:
            return text[:limit] + ("…" if size >= limit else "")
        masked, more = head(text, limit)
        if len(masked) >= limit or size < want:
            return masked + ("…" if more or size >= want else "")
        want *= 2  # secrets masked away more than they left: encode further


def truncation_marker(value: Any, limit: int = PREVIEW_CHARS, masker: Any = None) -> dict[str, Any]:
    """The marker that stands in for ``value`` when it is over its budget."""
    try:
        size = approximate_size(value)
    except RecursionError:
        size = -1
    return {TRUNCATED_KEY: True, "bytes": size, "preview": preview_text(value, limit, masker)}


def cap_value(value: Any, max_bytes: int, masker: Any = None) -> tuple[Any, int]:
    """(JSON-ready ``value`` or its truncation marker, size charged).

    With ``masker`` (a SecretMasker) the previews cut from ``value`` are masked before
    they are cut; the caller still masks the whole result.
    """
    budget = [max_bytes]
    try:
        return _convert(value, budget, masker), max_bytes - budget[0]
    except (_TooBig, RecursionError):
        marker = truncation_marker(value, masker=masker)
        return marker, len(marker["preview"]) + 64


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data (no cap)."""
    return _convert(value, [1 << 62])


def dumps(value: Any) -> str:
    """Compact JSON text of any value (non-JSON values converted as above)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


class OutputRecorder:
    """Listener keeping every node's outputs, capped and masked, for ``output_data``.

    A node that runs several times (inside a loop body) keeps its last outputs. Once
    ``total_cap`` is spent, later outputs are stored as truncation markers.
    """

    def __init__(
        self,
        *,
        node_cap: int = DEFAULT_NODE_OUTPUT_CAP,
        total_cap: int = DEFAULT_TOTAL_OUTPUT_CAP,
        masker: Any = None,
    ) -> None:
        self.node_cap = node_cap
        self.total_cap = total_cap
        self.masker = masker
        self.outputs: dict[str, Any] = {}
        self.spent = 0

    def __call__(self, event: RunEvent) -> None:
        if type(event) is not NodeOutput:
            return
        allowance = max(0, min(self.node_cap, self.total_cap - self.spent))
        masker = self.masker or None
        capped: dict[str, Any] = {}
        for port, value in event.outputs.items():
            capped[str(port)], size = cap_value(value, allowance, masker)
            allowance = max(0, allowance - size)
            self.spent += size
        if masker:
            capped = masker.mask(capped)
        self.outputs[event.node_id] = capped
