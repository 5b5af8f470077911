"""The run-time type check of fields whose value is an expression.

Any field may hold a ``{{ … }}`` expression, number, boolean and choice fields
included: the document stores the expression text, saving and preflight accept it
(``engine/preflight.py`` skips fields holding an expression), and the executor checks
the rendered value against the node type's field model when the node runs. Pydantic's
lax mode converts what it can (``"5"`` → 5 for a number, ``"true"`` / ``"1"`` → True
for a boolean); anything else fails the node with one line naming the field, what it
expects and what the expression gave::

    field 'count' of node 'Limit': expected a whole number, the expression gave 'abc'

:func:`rendered_fields_message` builds that text from the ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from glyphic_desktop.engine.expressions import has_expression

_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "datetime_parsing": "a date and time",
    "datetime_type": "a date and time",
    "date_parsing": "a date",
    "url_parsing": "a URL",
    "url_type": "a URL",
}
_PREFIX = "Input should be "
_SHOWN = 80


def _expected(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in ("literal_error", "enum"):
        options = (error.get("ctx") or {}).get("expected")
        if options:
            return f"one of {options}"
    message = str(error.get("msg", "a valid value"))
    if message.startswith(_PREFIX):
        message = message[len(_PREFIX) :]
    return message[:1].lower() + message[1:]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(fields)"


def rendered_fields_message(exc: ValidationError, fields: Mapping[str, Any], label: str) -> str:
    """One ``; ``-joined line per failing field of a node's rendered fields.

    ``fields`` are the node's fields as written (to tell expression fields apart);
    ``label`` names the node. A field that held an expression says what the expression
    gave; others keep pydantic's message.
    """
    parts = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        path = _path(loc)
        where = f"field {path!r} of node {label!r}"
        dynamic = bool(loc) and has_expression(fields.get(loc[0]))
        if error.get("type") == "missing":
            parts.append(f"{where} is required")
        elif dynamic:
            parts.append(
                f"{where}: expected {_expected(error)}, "
                f"the expression gave {_shown(error.get('input'))}"
            )
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
