"""The Jinja2 sandbox expressions run in, with every evaluation bounded.

:class:`BoundedEnvironment` is Jinja2's :class:`SandboxedEnvironment` (no attribute
starting with ``_``, no unsafe callables) plus:

- **no compile-time evaluation**: the optimizer (which folds constants such as
  ``9**(9**9)`` while compiling) is off, and ``**``, ``*``, ``+`` and ``%`` are
  intercepted, so compiling never runs user work;
- **time**: every call, attribute lookup, intercepted operator, filter and loop step
  checks the active :class:`~glyphic_desktop.engine.limits.Budget` (deadline and
  cancel flag); loops are bounded because each ``{% for %}`` iterable is wrapped in a
  checking iterator when the template is compiled;
- **size**: an operation whose result would exceed the cap is refused *before* it is
  done (``'x' * 10**9``, ``2 ** 10**9``, ``'{:>999999999}'.format(1)``, ``join``,
  ``replace``, ``center``, ``indent``, ``wordwrap``, ``batch``, ``slice``, ``~`` and
  list growth through ``append``/``extend``/``update``); results are checked after;
  ``range`` keeps the sandbox's cap of 100,000 items.

:func:`is_light` says whether a compiled template is cheap enough to render on the event
loop (names, lookups, operators, ``~``, comparisons and a few O(1) filters); anything
else (loops, calls, other filters, macros) renders on a worker thread.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, safe_range

from glyphic_desktop.engine.limits import (
    ITEM_BYTES,
    MAX_INT_BITS,
    LimitExceeded,
    active,
    check_size,
    size_of,
)

_BIG_NUMBER = re.compile(r"\d{8,}")  # a width or precision of 100,000,000 or more
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")  # '{:{}}': a width taken from the arguments
_STAR_SPEC = re.compile(r"%[#0\- +]*(\*|\d*\.\*)")  # '%*s' / '%.*f'
_LIGHT_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "first",
        "float",
        "int",
        "last",
        "length",
        "lower",
        "round",
        "title",
        "trim",
        "upper",
    }
)
_LIGHT_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Assign,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.CondExpr,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
    nodes.BinExpr,
    nodes.Concat,
    nodes.Test,
    nodes.Keyword,
)


def _int_arg(value: Any) -> int | None:
    return value if type(value) is int else None


def _check_format_text(fmt: str, args: Iterable[Any], budget: Any, star: bool) -> None:
    """Refuse a format string whose widths would build a result over the cap."""
    if _BIG_NUMBER.search(fmt):
        raise LimitExceeded("a width or precision in the format text is over the size limit")
    if star:
        for arg in args:
            width = _int_arg(arg)
            if width is not None and width > budget.max_bytes:
                budget.refuse(width, "a width taken from the arguments")


def _estimate_join(items: Any, separator: Any) -> tuple[list[Any], int]:
    items = items if isinstance(items, list | tuple) else list(items)
    sep = len(separator) if isinstance(separator, str | bytes) else 0
    total = max(0, len(items) - 1) * sep
    for item in items:
        if isinstance(item, str | bytes):
            total += len(item)
    return items, total


def _estimate_replace(text: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return 0
    growth = len(new) - len(old)
    if growth <= 0:
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    if type(count) is int and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * growth


# -- operators ---------------------------------------------------------------------------


def _check_binop(operator: str, left: Any, right: Any, budget: Any) -> None:
    if operator == "**":
        if type(left) is int and type(right) is int and right > 0 and abs(left) > 1:
            bits = left.bit_length() * right
            if bits > MAX_INT_BITS:
                raise LimitExceeded(
                    f"the power would have about {bits:,} bits, over the limit of "
                    f"{MAX_INT_BITS:,} bits"
                )
    elif operator == "*":
        lt, rt = type(left), type(right)
        if lt is int and rt is int:
            bits = left.bit_length() + right.bit_length()
            if bits > MAX_INT_BITS:
                raise LimitExceeded(
                    f"the product would have about {bits:,} bits, over the limit of "
                    f"{MAX_INT_BITS:,} bits"
                )
        elif rt is int or lt is int:
            times, seq = (right, left) if rt is int else (left, right)
            if times > 0 and isinstance(seq, str | bytes | list | tuple):
                budget.refuse(size_of(seq) * times, "the repeated value")
    elif operator == "+":
        if isinstance(left, str | bytes | list | tuple) and type(left) is type(right):
            budget.refuse(size_of(left) + size_of(right))
    elif operator == "%" and isinstance(left, str):
        args = right if isinstance(right, tuple) else (right,)
        _check_format_text(left, args, budget, bool(_STAR_SPEC.search(left)))


# -- methods -----------------------------------------------------------------------------

_GROWING_CONTAINERS = (list, dict, set)
_SMALL_SUM = frozenset({int, float, bool})


def _check_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Any) -> Any:
    """Refuse a method call on a str/bytes/list/dict/set whose result is over the cap.

    Returns replacement ``args`` (``join`` materialises a generator once) or None.
    """
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str | bytes | bytearray):
        if name in ("ljust", "rjust", "center", "zfill"):
            width = _int_arg(args[0]) if args else None
            if width is not None:
                budget.refuse(width)
        elif name == "expandtabs":
            size = _int_arg(args[0] if args else kwargs.get("tabsize", 8)) or 8
            tab = "\t" if isinstance(owner, str) else b"\t"
            budget.refuse(len(owner) + owner.count(tab) * max(size, 0))
        elif name == "replace" and len(args) >= 2:
            budget.refuse(_estimate_replace(owner, args[0], args[1], args[2:3] and args[2]))
        elif name == "join" and args:
            items, total = _estimate_join(args[0], owner)
            budget.refuse(total)
            return (items, *args[1:])
    elif isinstance(owner, _GROWING_CONTAINERS):
        if name in ("append", "add", "insert", "setdefault"):
            budget.refuse((len(owner) + 1) * ITEM_BYTES, "the collection")
        elif name in ("extend", "update") and args:
            extra = args[0]
            if not hasattr(extra, "__len__"):
                extra = list(extra)
                args = (extra, *args[1:])
            budget.refuse((len(owner) + len(extra)) * ITEM_BYTES, "the collection")
            return args
    return None


# -- filters -----------------------------------------------------------------------------


def _filter_check(name: str, args: list[Any], kwargs: dict[str, Any], budget: Any) -> None:
    """Refuse a filter call whose result would be over the cap (``args[0]`` is the value)."""
    value = args[0] if args else None

    def arg(index: int, key: str, default: Any = None) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "join":
        items, total = _estimate_join(value, arg(1, "d", ""))
        args[0] = items
        budget.refuse(total)
    elif name == "replace":
        budget.refuse(_estimate_replace(value, arg(1, "old"), arg(2, "new"), arg(3, "count")))
    elif name == "center":
        width = _int_arg(arg(1, "width", 80))
        if width is not None:
            budget.refuse(width)
    elif name == "indent" and isinstance(value, str):
        width = arg(1, "width", 4)
        prefix = len(width) if isinstance(width, str) else (_int_arg(width) or 0)
        budget.refuse(len(value) + (value.count("\n") + 1) * prefix)
    elif name == "wordwrap" and isinstance(value, str):
        width = _int_arg(arg(1, "width", 79)) or 79
        wrap = arg(3, "wrapstring") or "\n"
        if isinstance(wrap, str):
            budget.refuse(len(value) + (len(value) // max(width, 1) + 1) * len(wrap))
    elif name == "format" and isinstance(value, str):
        _check_format_text(value, [*args[1:], *kwargs.values()], budget, True)
    elif name == "batch":
        size = _int_arg(arg(1, "linecount"))
        if size is not None and arg(2, "fill_with") is not None:
            budget.refuse(size * ITEM_BYTES, "the batch")
    elif name == "slice":
        slices = _int_arg(arg(1, "slices"))
        if slices is not None:
            budget.refuse(slices * ITEM_BYTES * 8, "the slices")
    elif name == "tojson":
        indent = _int_arg(arg(1, "indent"))
        if indent is not None and indent > 64:
            raise LimitExceeded(f"tojson indent {indent} is over 64")
    elif name == "truncate":
        end = arg(3, "end", "...")
        if isinstance(end, str):
            budget.refuse(len(end))


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = active()
        budget.check()
        user = list(args[skip:])
        _filter_check(name, user, kwargs, budget)
        result = function(*args[:skip], *user, **kwargs)
        return check_size(result, budget)

    return guarded


def _guarded_lipsum(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def lipsum(n: int = 5, *args: Any, **kwargs: Any) -> Any:
        if type(n) is int and n > 100:
            raise LimitExceeded(f"lipsum of {n} paragraphs is over 100")
        return function(n, *args, **kwargs)

    return lipsum


def _range(*args: Any) -> range:
    active().check()
    return safe_range(*args)


def guard_iterable(iterable: Any) -> Iterator[Any]:
    """``iterable``, checking the active budget before each item (wraps every for loop)."""
    budget = active()
    check = budget.check
    check()
    for item in iterable:
        check()
        yield item


def guard_concat(*parts: Any) -> str:
    """``a ~ b ~ c`` with the result size checked before it is built."""
    texts = [part if type(part) is str else str(part) for part in parts]
    budget = active()
    total = sum(map(len, texts))
    budget.refuse(total)
    budget.charge(total)
    return "".join(texts)


def _concat_call(concat: nodes.Concat) -> nodes.Call:
    return nodes.Call(
        nodes.EnvironmentAttribute("guard_concat"),
        concat.nodes,
        [],
        None,
        None,
        lineno=concat.lineno,
    )


def bound_tree(tree: nodes.Template) -> nodes.Template:
    """Wrap every for loop's iterable and every ``~`` in their guards (one pass, in place)."""
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.For):
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("guard_iterable"),
                [node.iter],
                [],
                None,
                None,
                lineno=node.lineno,
            )
        for name in node.fields:
            value = getattr(node, name, None)
            if isinstance(value, nodes.Concat):
                value = _concat_call(value)
                setattr(node, name, value)
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, nodes.Concat):
                        item = value[index] = _concat_call(item)
                    if isinstance(item, nodes.Node):
                        stack.append(item)
            elif isinstance(value, nodes.Node):
                stack.append(value)
    return tree


def is_light(tree: nodes.Node) -> bool:
    """Whether every node of ``tree`` is cheap enough to evaluate on the event loop."""
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Filter):
            if node.name not in _LIGHT_FILTERS:
                return False
        elif not isinstance(node, _LIGHT_NODES):
            return False
    return True


class BoundedEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox with bounded time and size (see the module docstring)."""

    intercepted_binops = frozenset({"**", "*", "+", "%"})

    def __init__(self, **options: Any) -> None:
        options.setdefault("optimized", False)
        super().__init__(**options)
        self.globals["range"] = _range
        self.globals["lipsum"] = _guarded_lipsum(self.globals["lipsum"])
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.guard_iterable = guard_iterable
        self.guard_concat = guard_concat

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        return super()._generate(bound_tree(source), name, filename, defer_init=defer_init)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = active()
        budget.check()
        if operator == "+" and type(left) in _SMALL_SUM and type(right) in _SMALL_SUM:
            return left + right  # numbers: never bigger than the larger one plus a bit
        _check_binop(operator, left, right, budget)
        return check_size(self.binop_table[operator](left, right), budget)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        active().check()
        return self.unop_table[operator](arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        active().check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        active().check()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = active()
        budget.check()
        replaced = _check_method(__obj, args, kwargs, budget)
        if replaced is not None:
            args = replaced
        result = super().call(__context, __obj, *args, **kwargs)
        return check_size(result, budget)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text = value.__self__
        star = bool(_NESTED_SPEC.search(text))

        def bounded(*args: Any, **kwargs: Any) -> str:
            budget = active()
            budget.check()
            values = [*args, *kwargs.values()]
            if value.__name__ == "format_map" and args and isinstance(args[0], dict):
                values = list(args[0].values())
            _check_format_text(text, values, budget, star)
            return check_size(wrapper(*args, **kwargs), budget)

        return bounded
