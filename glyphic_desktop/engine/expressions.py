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

Every evaluation is bounded (``engine/bounded_templates.py``, ``engine/limits.py``): one node's
fields render under one budget of time (``config.expressionTimeout``, default 2 s, or the
node's ``timeout`` when shorter) and size (``config.expressionMaxBytes``, default 10 MB
of result); compiling never evaluates anything; a template too deeply nested to parse is
a syntax error. Cheap templates (names, lookups, operators) render in place; others
render on a worker thread (:func:`render_fields_async`) so the event loop that the
scheduler, webhooks and heartbeats share keeps turning, and cancelling stops them.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser

from glyphic_desktop.engine.bounded_templates import BoundedEnvironment, is_light
from glyphic_desktop.engine.limits import (
    DEFAULT_LIMITS,
    Budget,
    ExpressionLimits,
    LimitExceeded,
    MoveOffLoop,
    activate,
    current,
    human_size,
)
from glyphic_desktop.nodes.base import NodeError

_SINGLE = re.compile(r"^\s*\{\{(?P<body>.*?)\}\}\s*$", re.DOTALL)
MARKER = "{{"
SHOWN_CHARS = 80  # of an expression quoted in an error message
GRACE_SECONDS = 0.5  # past the deadline, a worker stuck in one operation is given up on
LOOP_BUILD_BYTES = 1024 * 1024  # built on the event loop before a render moves to a thread


class ExpressionError(NodeError):
    """An expression that failed to parse or evaluate (names the field and the expression)."""

    def __init__(self, message: str, *, field: str | None = None, expression: str = "") -> None:
        super().__init__(message, field=field)
        self.expression = expression


_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def expression_chars(value: Any, limit: int) -> int:
    """Characters of the strings in ``value`` (at any depth) that hold an expression;
    counting stops once past ``limit``."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            if MARKER in item:
                total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


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


@dataclass(frozen=True, slots=True)
class _Compiled:
    native: bool  # a lone expression: its value keeps its type
    template: Template
    light: bool  # cheap enough to render on the event loop


_CACHE: dict[str, _Compiled | str] = {}
_CACHE_SIZE = 8192
_CACHE_LOCK = threading.Lock()


def _build(text: str) -> _Compiled:
    body = _single_body(text)
    if body is None:
        tree = _ENV.parse(text)
    else:
        parser = Parser(_ENV, body.strip(), state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
        expr.set_environment(_ENV)
        assign = nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)
        tree = nodes.Template([assign], lineno=1)
    light = is_light(tree)
    return _Compiled(body is not None, _ENV.from_string(tree), light)


def _compile(text: str) -> _Compiled | str:
    """The compiled template of ``text``, or why it cannot compile (one line); cached."""
    found = _CACHE.get(text)
    if found is not None:
        return found
    try:
        result: _Compiled | str = _build(text)
    except TemplateSyntaxError as exc:
        result = exc.message or str(exc)
    except (RecursionError, SyntaxError):
        result = "it is nested too deeply"
    except MemoryError:
        result = "it is too large to compile"
    except Exception as exc:
        result = f"{exc.__class__.__name__}: {exc}"
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[text] = result
    return result


def shorten(text: str) -> str:
    """``text`` cut to :data:`SHOWN_CHARS` for an error message."""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def check_syntax(text: str) -> str | None:
    """The syntax error of template ``text`` as one line, or None when it parses."""
    if MARKER not in text:
        return None
    compiled = _compile(text)
    return compiled if isinstance(compiled, str) else None


def is_light_text(text: str) -> bool:
    """Whether template ``text`` renders cheaply enough for the event loop (or fails to parse)."""
    compiled = _compile(text)
    return isinstance(compiled, str) or compiled.light


def needs_thread(fields: Any) -> bool:
    """Whether any template in ``fields`` should render off the event loop."""
    return any(not is_light_text(text) for _, text in iter_expressions(fields, ""))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SecurityError):
        return f"blocked by the sandbox: {exc}"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply (RecursionError)"
    if isinstance(exc, MemoryError):
        return "it ran out of memory"
    message = str(exc) or exc.__class__.__name__
    if exc.__class__.__name__ == "UndefinedError":
        return message
    return f"{exc.__class__.__name__}: {message}"


def _evaluate(compiled: _Compiled, context: Mapping[str, Any], budget: Budget) -> Any:
    template = compiled.template
    ctx = template.new_context(dict(context))
    check = budget.check
    if compiled.native:
        for _ in template.root_render_func(ctx):
            check()
        result = ctx.vars["result"]
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()
        return result
    parts: list[str] = []
    size = 0
    cap = budget.max_bytes
    for chunk in template.root_render_func(ctx):
        size += len(chunk)
        if size > cap:
            raise LimitExceeded(f"its text grew over the limit of {human_size(cap)}")
        check()
        parts.append(chunk)
    return "".join(parts)


def make_budget(limits: ExpressionLimits | None = None, timeout: float | None = None) -> Budget:
    """A budget for one render: ``limits`` (defaults) and a node's ``timeout``, if shorter."""
    limits = limits or DEFAULT_LIMITS
    if timeout and timeout < limits.timeout:
        return Budget(timeout, limits.max_bytes, node_timeout=True)
    return Budget(limits.timeout, limits.max_bytes)


def render_string(text: str, context: Mapping[str, Any], field: str = "") -> Any:
    """Render one string; a lone expression returns its native value.

    Runs under the budget active on this thread (see :func:`render_fields`), else under
    a default one.
    """
    if MARKER not in text:
        return text
    compiled = _compile(text)
    if isinstance(compiled, str):
        raise ExpressionError(
            f"field {field!r}: expression {shorten(text)!r} does not parse: {compiled}",
            field=field,
            expression=text,
        )
    budget = current()
    own = budget is None
    if own:
        budget = make_budget()
        activate(budget)
    try:
        return _evaluate(compiled, context, budget)
    except MoveOffLoop:
        raise
    except LimitExceeded as exc:
        raise ExpressionError(
            f"field {field!r}: expression {shorten(text)!r} was stopped: {exc}",
            field=field,
            expression=text,
        ) from None
    except Exception as exc:
        raise ExpressionError(
            f"field {field!r}: expression {shorten(text)!r} failed: {_describe(exc)}",
            field=field,
            expression=text,
        ) from None
    finally:
        if own:
            activate(None)


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


def _render_all(fields: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: render_value(value, context, key) if has_expression(value) else value
        for key, value in fields.items()
    }


def render_fields(
    fields: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    limits: ExpressionLimits | None = None,
    timeout: float | None = None,
    on_loop: bool = False,
) -> dict[str, Any]:
    """A copy of a node's fields with every expression rendered, under one budget.

    ``limits`` bound the render (time and size); a node's ``timeout`` shortens the time
    when it is shorter. ``on_loop`` (light templates rendered on the event loop): once
    they built more than :data:`LOOP_BUILD_BYTES` of large values, :class:`MoveOffLoop`
    is raised and the caller renders them again with :func:`render_fields_async`.
    """
    budget = make_budget(limits, timeout)
    if on_loop:
        budget.leave_loop_after(LOOP_BUILD_BYTES)
    previous = activate(budget)
    try:
        return _render_all(fields, context)
    finally:
        activate(previous)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="glyphic-expressions")
        return _POOL


def _render_in_worker(
    budget: Budget, fields: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    budget.start()  # the budget counts from here, not from the wait for a free thread
    previous = activate(budget)
    try:
        return _render_all(fields, context)
    finally:
        activate(previous)


async def render_fields_async(
    fields: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    limits: ExpressionLimits | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """:func:`render_fields` on a worker thread, so the event loop keeps turning.

    The budget's clock starts when a worker takes the render (at most four run at once).
    Cancelling the awaiting task stops the render at its next check; a render still
    busy :data:`GRACE_SECONDS` after its deadline (inside one long operation) is given
    up on and fails.
    """
    budget = make_budget(limits, timeout)
    budget.started = None  # its clock starts when a worker thread takes it
    future = asyncio.wrap_future(_pool().submit(_render_in_worker, budget, fields, context))
    gave_up: list[bool] = []
    loop = asyncio.get_running_loop()

    def give_up() -> None:  # the worker is stuck inside one operation: stop waiting
        nonlocal timer
        if future.done():
            return
        left = budget.deadline + GRACE_SECONDS - time.monotonic()
        if budget.started is None or left > 0:  # still queued, or not over yet
            timer = loop.call_later(left if budget.started else budget.timeout, give_up)
            return
        budget.cancelled = True
        gave_up.append(True)
        future.cancel()

    timer = loop.call_later(budget.timeout + GRACE_SECONDS, give_up)
    try:
        return await future
    except asyncio.CancelledError:
        budget.cancelled = True
        task = asyncio.current_task()
        if gave_up and (task is None or not task.cancelling()):
            names = ", ".join(repr(path) for path, _ in iter_expressions(fields, ""))
            raise ExpressionError(
                f"fields {names}: the expressions were stopped: {budget.timeout_reason}"
            ) from None
        raise
    finally:
        timer.cancel()


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

    def snapshot(self) -> NodesView:
        """A view over a copy of today's outputs (for a render on another thread)."""
        return NodesView(dict(self._outputs), self._by_label)

    def __len__(self) -> int:
        return len(self._outputs)

    def __contains__(self, key: object) -> bool:
        return key in self._outputs or (
            isinstance(key, str) and self._by_label.get(key) in self._outputs
        )
