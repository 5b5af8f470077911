"""Bounds on one expression evaluation: a time budget, a size cap, and cancellation.

A :class:`Budget` is active on the thread that renders (:func:`active`); the sandbox's
hooks (every call, attribute lookup, intercepted operator, filter, loop step and output
chunk) call :meth:`Budget.check`, which raises :class:`LimitExceeded` once the deadline
passed or the render was cancelled. Size checks (:func:`check_size` and the estimates in
``expressions.py``) refuse work whose result would exceed the cap *before* it is done.

Defaults: :data:`DEFAULT_EXPRESSION_TIMEOUT` seconds of CPU per render and
:data:`DEFAULT_EXPRESSION_MAX_BYTES` of result; a workflow changes them with
``config.expressionTimeout`` (seconds) and ``config.expressionMaxBytes``. Integers are
capped at :data:`MAX_INT_BITS` bits (Python cannot print more than 4,300 digits anyway),
and one render builds at most :data:`BUILT_FACTOR` times the cap of large values in all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_EXPRESSION_TIMEOUT = 2.0
DEFAULT_EXPRESSION_MAX_BYTES = 10 * 1024 * 1024
MAX_INT_BITS = 1_000_000
ITEM_BYTES = 8  # what one list, tuple, set or dict item counts for against the cap
BUILT_FACTOR = 10  # a render may build this many times the cap in all (large values)
CHARGED_FROM = 4096  # values from this size on are counted in Budget.built


class LimitExceeded(Exception):
    """An expression ran over its time budget or size cap, or was cancelled."""


class MoveOffLoop(Exception):
    """A render on the event loop built more than a loop turn should: render it on a thread.

    Raised only for budgets made with ``on_loop``; such templates have no calls, so
    rendering them again elsewhere has no side effect.
    """


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Per-render bounds: ``timeout`` seconds and ``max_bytes`` of result."""

    timeout: float = DEFAULT_EXPRESSION_TIMEOUT
    max_bytes: int = DEFAULT_EXPRESSION_MAX_BYTES

    @classmethod
    def from_config(cls, config: Any) -> ExpressionLimits:
        """Limits from a workflow's ``config`` (bad or missing values keep the defaults)."""
        config = config if isinstance(config, dict) else {}
        timeout = config.get("expressionTimeout")
        size = config.get("expressionMaxBytes")
        ok_timeout = isinstance(timeout, int | float) and not isinstance(timeout, bool)
        ok_size = isinstance(size, int) and not isinstance(size, bool)
        return cls(
            timeout=float(timeout) if ok_timeout and timeout > 0 else DEFAULT_EXPRESSION_TIMEOUT,
            max_bytes=size if ok_size and size > 0 else DEFAULT_EXPRESSION_MAX_BYTES,
        )


DEFAULT_LIMITS = ExpressionLimits()


def human_size(size: float) -> str:
    """``10485760`` → ``'10 MB'``."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" or size >= 10 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.0f} TB"  # pragma: no cover


class Budget:
    """The bounds of one render: a deadline, a size cap and a cancel flag.

    :attr:`timeout_reason` is what the error says when the deadline passes (the render
    budget, or the node's timeout when ``node_timeout`` says that is the shorter one).
    """

    __slots__ = (
        "build_limit",
        "built",
        "cancelled",
        "deadline",
        "max_bytes",
        "node_timeout",
        "on_loop",
        "started",
        "timeout",
    )

    def __init__(self, timeout: float, max_bytes: int, node_timeout: bool = False) -> None:
        self.timeout = timeout
        self.started: float | None = time.monotonic()  # None while waiting for a thread
        self.deadline = self.started + timeout
        self.max_bytes = max_bytes
        self.built = 0  # bytes of large values built so far (see charge)
        self.build_limit = max_bytes * BUILT_FACTOR
        self.on_loop = False
        self.cancelled = False
        self.node_timeout = node_timeout

    def leave_loop_after(self, size: int) -> None:
        """On the event loop: past ``size`` bytes built, :class:`MoveOffLoop` is raised."""
        self.on_loop = True
        self.build_limit = min(self.build_limit, size)

    @property
    def timeout_reason(self) -> str:
        """Why the render stopped when its deadline passed (one phrase)."""
        if self.node_timeout:
            return f"over the node's timeout of {self.timeout:g} s"
        return f"over its time budget of {self.timeout:g} s"

    def start(self) -> None:
        """Start the clock now (a render that waited for a worker thread)."""
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout

    def check(self) -> None:
        """Raise :class:`LimitExceeded` when the render was cancelled or is over time."""
        if self.cancelled:
            raise LimitExceeded("was cancelled")
        if time.monotonic() > self.deadline:
            raise LimitExceeded(self.timeout_reason)

    def charge(self, size: int) -> None:
        """Count ``size`` bytes built; over :data:`BUILT_FACTOR` times the cap in all, raise.

        Bounds the memory of many large values held at once (``[s * n, s * n, …]``,
        ``a ~ b ~ c``) and the work of building them again and again in a loop.
        """
        self.built += size
        if self.built > self.build_limit:
            if self.on_loop:
                raise MoveOffLoop
            raise LimitExceeded(
                f"it built over {human_size(self.max_bytes * BUILT_FACTOR)} of values in all"
            )

    def refuse(self, estimate: float, what: str = "the result") -> None:
        """Raise when ``estimate`` bytes would exceed the cap."""
        if estimate > self.max_bytes:
            raise LimitExceeded(
                f"{what} would be about {human_size(estimate)}, over the limit of "
                f"{human_size(self.max_bytes)}"
            )


_local = threading.local()


def active() -> Budget:
    """The budget of the render running on this thread (a fresh default one when none is)."""
    budget = getattr(_local, "budget", None)
    if budget is None:
        return Budget(DEFAULT_EXPRESSION_TIMEOUT, DEFAULT_EXPRESSION_MAX_BYTES)
    return budget


def current() -> Budget | None:
    """The budget active on this thread, or None."""
    return getattr(_local, "budget", None)


def activate(budget: Budget | None) -> Budget | None:
    """Make ``budget`` this thread's active budget; returns the previous one."""
    previous = getattr(_local, "budget", None)
    _local.budget = budget
    return previous


def size_of(value: Any) -> int:
    """What ``value`` counts for against the size cap (its top level only)."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bytearray:
        return len(value)
    if kind is int:
        return value.bit_length() // 8
    if kind is list or kind is tuple or kind is dict or kind is set or kind is frozenset:
        return len(value) * ITEM_BYTES
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    return 0


def check_size(value: Any, budget: Budget) -> Any:
    """``value`` itself, or :class:`LimitExceeded` when it is over the cap."""
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(
            f"the result is an integer of {value.bit_length():,} bits, over the limit of "
            f"{MAX_INT_BITS:,} bits"
        )
    size = size_of(value)
    if size > budget.max_bytes:
        budget.refuse(size)
    if size >= CHARGED_FROM:
        budget.charge(size)
    return value
