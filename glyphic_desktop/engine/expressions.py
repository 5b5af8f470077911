"""``{{ … }}`` expressions in node fields, rendered in Jinja2's sandbox.

Any string inside a node's ``data.fields`` (at any depth of dicts and lists) that
contains ``{{`` is a template, rendered with Jinja2's :class:`SandboxedEnvironment` and
``StrictUndefined`` over these names:

- ``input``: the value on the node's ``input`` port (for a node without connected
  inputs: the run's input);
- ``inputs``: every connected input port's value, by port name;
- ``nodes``: the outputs of nodes that already ran, by node id or by label, each a
  mapping ``{port: value}`` (``{{ nodes['Fetch'].output.status }}``);
- ``execution``: ``id``, ``trigger`` and ``started_at`` (ISO-8601 text) of the run;
- ``now``: the current time (timezone-aware ``datetime``, UTC);
- ``env``: the environment variables the workflow allows in ``config.allowedEnv`` (a
  list of names); every other variable is absent.

A field whose whole text is one expression (``"{{ input.count + 1 }}"``) keeps the
value's type: a number stays a number, a list a list. Text around or between
expressions makes the result a string. A string with ``{%`` but no ``{{`` is left as it
is. An undefined name, an error while evaluating, or an attempt to reach outside the
sandbox (``{{ ''.__class__.__mro__ }}``) raises :class:`ExpressionError` naming the field
and the expression. Compiled templates are cached by source text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from glyphic_desktop.nodes.base import NodeError

_SINGLE = re.compile(r"^\s*\{\{(?P<body>.*?)\}\}\s*$", re.DOTALL)
MARKER = "{{"


class ExpressionError(NodeError):
    """An expression that failed to parse or evaluate (names the field and the expression)."""

    def __init__(self, message: str, *, field: str | None = None, expression: str = "") -> None:
        super().__init__(message, field=field)
        self.expression = expression


class _Env(SandboxedEnvironment):
    """The sandbox: no attribute starting with '_' and no unsafe callables, strict names."""


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def has_expression(value: Any) -> bool:
    """Whether ``value`` (a string, dict or list, at any depth) holds a ``{{`` expression."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            if MARKER in item:
                return True
        elif kind is dict:
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif isinstance(item, str):
            if MARKER in item:
                return True
        elif isinstance(item, dict):
            extend(item.values())
        elif isinstance(item, list | tuple):
            extend(item)
    return False


def iter_expressions(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (field path, template text) in ``value``; paths look like ``headers.Accept``."""
    if isinstance(value, str):
        if MARKER in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_expressions(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_expressions(item, f"{path}[{index}]")


def _single_body(text: str) -> str | None:
    match = _SINGLE.match(text)
    if match is None:
        return None
    body = match.group("body")
    if "{{" in body or "}}" in body:
        return None  # several expressions: "{{ a }} {{ b }}"
    return body


@lru_cache(maxsize=8192)
def _compile(text: str) -> tuple[bool, Any]:
    """(native, compiled) for ``text``: a native expression or a template."""
    body = _single_body(text)
    if body is not None:
        return True, _ENV.compile_expression(body.strip(), undefined_to_none=False)
    return False, _ENV.from_string(text)


def check_syntax(text: str) -> str | None:
    """The syntax error of template ``text`` as one line, or None when it parses."""
    if MARKER not in text:
        return None
    try:
        _compile(text)
    except TemplateSyntaxError as exc:
        return exc.message or str(exc)
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"blocked by the sandbox: {exc}"
    message = str(exc) or exc.__class__.__name__
    if exc.__class__.__name__ == "UndefinedError":
        return message
    return f"{exc.__class__.__name__}: {message}"


def render_string(text: str, context: Mapping[str, Any], field: str = "") -> Any:
    """Render one string; a lone expression returns its native value."""
    if MARKER not in text:
        return text
    try:
        native, compiled = _compile(text)
    except TemplateSyntaxError as exc:
        raise ExpressionError(
            f"field {field!r}: expression {text!r} does not parse: {exc.message}",
            field=field,
            expression=text,
        ) from None
    try:
        if native:
            result = compiled(**context)
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            return result
        return compiled.render(context)
    except Exception as exc:
        raise ExpressionError(
            f"field {field!r}: expression {text!r} failed: {_describe(exc)}",
            field=field,
            expression=text,
        ) from None


def render_value(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every template in ``value`` (a copy where something changed; else ``value``)."""
    if isinstance(value, str):
        return render_string(value, context, path) if MARKER in value else value
    if isinstance(value, dict):
        return {
            key: render_value(item, context, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render_value(item, context, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def render_fields(fields: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a node's fields with every expression rendered."""
    return {
        key: render_value(value, context, key) if has_expression(value) else value
        for key, value in fields.items()
    }


class NodesView(Mapping[str, Any]):
    """Outputs of earlier nodes, by id or by label, without copying anything."""

    __slots__ = ("_by_label", "_outputs")

    def __init__(self, outputs: Mapping[str, Any], by_label: Mapping[str, str]) -> None:
        self._outputs = outputs
        self._by_label = by_label

    def __getitem__(self, key: str) -> Any:
        try:
            return self._outputs[key]
        except KeyError:
            node_id = self._by_label.get(key)
            if node_id is not None and node_id in self._outputs:
                return self._outputs[node_id]
            raise KeyError(key) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def __contains__(self, key: object) -> bool:
        return key in self._outputs or (
            isinstance(key, str) and self._by_label.get(key) in self._outputs
        )
