"""n8n expressions (``={{ $json.x }}``) rewritten to Glyphic's (``{{ input.x }}``).

n8n marks an expression parameter with a leading ``=`` and writes JavaScript inside
``{{ }}``. What maps (the rest of the text is kept as it is):

- ``$json.x`` / ``$json["x"]`` -> ``input.x`` / ``input["x"]``
- ``$('Node').item.json.x`` (also ``.first()`` / ``.last()`` / ``$items("Node")[0]``
  is *not* mapped) and ``$node["Node"].json.x`` -> ``nodes['Node'].output.x``
- ``$now`` -> ``now``; ``$execution.id`` -> ``execution.id``; ``$env.X`` -> ``env.X``

An expression that still holds n8n or JavaScript syntax after that (``$input``,
``$items``, arrow functions, ``===``, ``?.``, method calls such as ``.toUpperCase()``)
is left verbatim and reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_BLOCK = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = r"""(?:'([^'\\]*)'|"([^"\\]*)")"""
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"\$\(\s*" + _NAME + r"\s*\)\.item\.json\b"),
        lambda m: f"nodes[{_quote(m.group(1) or m.group(2))}].output",
    ),
    (
        re.compile(r"\$node\[\s*" + _NAME + r"\s*\]\.json\b"),
        lambda m: f"nodes[{_quote(m.group(1) or m.group(2))}].output",
    ),
    (re.compile(r"\$json\b"), lambda m: "input"),
    (re.compile(r"\$now\b"), lambda m: "now"),
    (re.compile(r"\$execution\.id\b"), lambda m: "execution.id"),
    (re.compile(r"\$env\b"), lambda m: "env"),
]
# What Jinja cannot read: n8n variables left over and JavaScript-only syntax.
_LEFTOVER = re.compile(r"\$\w+|\$\(|=>|===|!==|\?\.|\?\?|\.\w+\(|\bnew\s|`")


def _quote(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_expression(value: Any) -> bool:
    """Whether an n8n parameter value is an expression (``=`` then text with ``{{``)."""
    return isinstance(value, str) and value.startswith("=") and "{{" in value


def rewrite(text: str) -> tuple[str, str | None]:
    """``(glyphic text, None)`` when every ``{{ }}`` of n8n ``text`` maps, else
    ``(text unchanged, why)``."""
    body = text[1:] if text.startswith("=") else text
    problems: list[str] = []

    def block(match: re.Match[str]) -> str:
        inner = match.group(1)
        for pattern, replace in _RULES:
            inner = pattern.sub(replace, inner)
        leftover = _LEFTOVER.search(inner)
        if leftover:
            problems.append(f"no Glyphic equivalent for {leftover.group(0).strip()!r}")
        return "{{" + inner + "}}"

    converted = _BLOCK.sub(block, body)
    if problems:
        return text, problems[0]
    return converted, None


def rewrite_fields(
    value: Any, path: str, report: Callable[[str, str, str], None]
) -> tuple[Any, int]:
    """``value`` with every n8n expression in it rewritten; how many were.

    ``report(path, text, why)`` is called for each expression left as it was.
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        count = 0
        for key, item in value.items():
            out[key], n = rewrite_fields(item, f"{path}.{key}" if path else str(key), report)
            count += n
        return out, count
    if isinstance(value, list):
        items: list[Any] = []
        count = 0
        for index, item in enumerate(value):
            new, n = rewrite_fields(item, f"{path}[{index}]", report)
            items.append(new)
            count += n
        return items, count
    if is_expression(value):
        converted, why = rewrite(value)
        if why is not None:
            report(path, value, why)
            return value, 0
        return converted, 1
    return value, 0
