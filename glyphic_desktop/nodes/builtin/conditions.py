"""Comparison operators shared by the If and Switch nodes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_empty",
    "is_not_empty",
    "is_true",
    "is_false",
]

#: Operators that ignore the value compared to.
UNARY_OPERATORS: frozenset[str] = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})

_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0", ""}
_SIZED = (Mapping, Sequence, set, frozenset)


class ConditionError(ValueError):
    """The operands cannot be compared with the operator (message says why)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, _SIZED):
        return len(value) == 0
    return False


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return bool(value)


def _equals(left: Any, right: Any) -> bool:
    if left == right:
        return True
    lnum, rnum = _number(left), _number(right)
    if lnum is not None and rnum is not None:
        return lnum == rnum
    if isinstance(left, bool) or isinstance(right, bool):
        other = right if isinstance(left, bool) else left
        flag = left if isinstance(left, bool) else right
        if isinstance(other, str) and other.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return _truthy(other) is flag
    return False


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, str):
        return str(right) in left
    if isinstance(left, Mapping):
        return right in left
    if isinstance(left, Sequence | set | frozenset):
        return any(_equals(item, right) for item in left)
    if left is None:
        return False
    raise ConditionError(f"'contains' needs text, a list or an object, got {type(left).__name__}")


def _order(op: str, left: Any, right: Any) -> bool:
    lnum, rnum = _number(left), _number(right)
    if lnum is not None and rnum is not None:
        a, b = lnum, rnum
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right  # type: ignore[assignment]
    else:
        raise ConditionError(f"{op!r} compares numbers (or two texts); got {left!r} and {right!r}")
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def _matches(left: Any, right: Any) -> bool:
    try:
        pattern = re.compile(str(right))
    except re.error as exc:
        raise ConditionError(f"{right!r} is not a valid regular expression: {exc}") from exc
    return pattern.search("" if left is None else str(left)) is not None


_BINARY: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "not_equals": lambda a, b: not _equals(a, b),
    "contains": _contains,
    "not_contains": lambda a, b: not _contains(a, b),
    "starts_with": lambda a, b: a is not None and str(a).startswith(str(b)),
    "ends_with": lambda a, b: a is not None and str(a).endswith(str(b)),
    "matches": _matches,
}


def evaluate(
    value: Any, operator: str, compare_to: Any = None, *, case_sensitive: bool = True
) -> bool:
    """Whether ``value <operator> compare_to`` holds; ConditionError when it cannot be decided."""
    if operator == "is_empty":
        return _is_empty(value)
    if operator == "is_not_empty":
        return not _is_empty(value)
    if operator == "is_true":
        return _truthy(value)
    if operator == "is_false":
        return not _truthy(value)
    if not case_sensitive:
        value = value.lower() if isinstance(value, str) else value
        compare_to = compare_to.lower() if isinstance(compare_to, str) else compare_to
    if operator in ("gt", "gte", "lt", "lte"):
        return _order(operator, value, compare_to)
    try:
        return _BINARY[operator](value, compare_to)
    except KeyError:
        raise ConditionError(f"unknown operator {operator!r}") from None
