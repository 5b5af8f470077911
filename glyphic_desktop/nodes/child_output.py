"""Reading a child process's output without holding unbounded data, and capping what is kept.

:func:`read_lines` reads a pipe in chunks and hands over one line at a time, each cut at
``max_line`` bytes (the rest of that line is counted, never stored); a caller may let some
lines (the Code child's result) grow to a larger cap.

A cut must not leave part of a secret behind: masking happens later, on whole lines, and
the head of a secret cut in two no longer matches it. So the reader keeps ``overhang``
bytes past the cap (the run's longest secret), and :func:`keep_line` masks the line
before it cuts it to the cap (``SecretMasker.mask_bytes_head``).

:class:`LineBudget` counts the lines a node keeps in one run; past its limit lines are
dropped and counted, and :meth:`LineBudget.summary` gives the one "N more lines dropped"
line.

Defaults: 64 KiB per line (``GLYPHIC_CHILD_LINE_BYTES``), 10,000 lines per node per run
(``GLYPHIC_CHILD_LOG_LINES``) and, so that 10,000 long lines cannot make 640 MB of log,
16 MB of kept text per node per run (``GLYPHIC_CHILD_LOG_BYTES``).
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

DEFAULT_LINE_BYTES = 64 * 1024
DEFAULT_MAX_LINES = 10_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
LINE_BYTES_ENV = "GLYPHIC_CHILD_LINE_BYTES"
MAX_LINES_ENV = "GLYPHIC_CHILD_LOG_LINES"
MAX_BYTES_ENV = "GLYPHIC_CHILD_LOG_BYTES"
CHUNK = 64 * 1024
#: Bytes of a line looked at to choose its cap (see ``long_line`` of :func:`read_lines`).
PREFIX = 32

# Budgets per (execution id, node id): a node run many times in one run (a loop body)
# shares one budget. Bounded: the oldest are forgotten.
_budgets: OrderedDict[tuple[str, str], LineBudget] = OrderedDict()
_BUDGETS_KEEP = 1024


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(minimum, int(raw))
    except ValueError:
        return default


def line_bytes_limit() -> int:
    """The longest line kept from a child, in bytes (``GLYPHIC_CHILD_LINE_BYTES``)."""
    return _env_int(LINE_BYTES_ENV, DEFAULT_LINE_BYTES, 256)


def max_lines_limit() -> int:
    """Lines kept per node per run (``GLYPHIC_CHILD_LOG_LINES``)."""
    return _env_int(MAX_LINES_ENV, DEFAULT_MAX_LINES, 1)


def max_bytes_limit() -> int:
    """Bytes of text kept per node per run (``GLYPHIC_CHILD_LOG_BYTES``)."""
    return _env_int(MAX_BYTES_ENV, DEFAULT_MAX_BYTES, 1024)


class LineBudget:
    """How many more lines (and bytes) a node may keep in this run; counts the ones dropped."""

    def __init__(self, limit: int, max_bytes: int | None = None) -> None:
        self.limit = limit
        self.max_bytes = max_bytes_limit() if max_bytes is None else max_bytes
        self.kept = 0
        self.kept_bytes = 0
        self.dropped = 0
        self._reported = 0

    def take(self, size: int = 0) -> bool:
        """True when one more line of ``size`` bytes may be kept (and counts it), else
        counts a drop."""
        if self.kept < self.limit and self.kept_bytes + size <= self.max_bytes:
            self.kept += 1
            self.kept_bytes += size
            return True
        self.dropped += 1
        return False

    def summary(self) -> str | None:
        """The "N more lines dropped" line for drops not reported yet, or None."""
        new = self.dropped - self._reported
        if new <= 0:
            return None
        self._reported = self.dropped
        if self.kept < self.limit:
            return (
                f"{new} more lines dropped (a node keeps {self.max_bytes} bytes of output "
                f"per run; {MAX_BYTES_ENV} changes it)"
            )
        return (
            f"{new} more lines dropped (a node keeps {self.limit} lines per run; "
            f"{MAX_LINES_ENV} changes it)"
        )


def budget_for(execution_id: str | None, node_id: str) -> LineBudget:
    """The line budget of ``node_id`` in run ``execution_id`` (a new one without an id)."""
    if execution_id is None:
        return LineBudget(max_lines_limit())
    key = (str(execution_id), str(node_id))
    budget = _budgets.get(key)
    if budget is None:
        budget = _budgets[key] = LineBudget(max_lines_limit())
        while len(_budgets) > _BUDGETS_KEEP:
            _budgets.popitem(last=False)
    else:
        _budgets.move_to_end(key)
    return budget


def cut_marker(dropped: int) -> str:
    """The marker put after a line that was cut."""
    return f" … [line cut: {dropped} more bytes]"


def decode_line(line: bytes, dropped: int) -> str:
    """A line as text (undecodable bytes replaced) with the cut marker when it was cut."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    return text + cut_marker(dropped) if dropped else text


def overhang_for(masker: Any) -> int:
    """Bytes to read past a line's cap so that :func:`keep_line` sees whole secrets."""
    longest = getattr(masker, "longest_bytes", 0) if masker is not None else 0
    return max(0, longest - 1)


def keep_line(line: bytes, dropped: int, cap: int, masker: Any = None) -> str:
    """A line read with :func:`overhang_for` bytes past ``cap``, as text cut at ``cap``
    bytes: masked first when it is cut, so no part of a secret survives the cut."""
    if len(line) <= cap:
        return decode_line(line, dropped)
    extra = len(line) - cap
    head = masker.mask_bytes_head(line, cap) if masker else line[:cap]
    return decode_line(head, dropped + extra)


async def read_lines(
    stream: asyncio.StreamReader,
    on_line: Callable[[bytes, int], None],
    *,
    max_line: int,
    long_line: Callable[[bytes], bool] | None = None,
    long_cap: int = 0,
    overhang: int = 0,
) -> bool:
    """Read ``stream`` to its end; call ``on_line(line, dropped_bytes)`` for each line.

    A line is kept up to ``max_line`` bytes (``long_cap`` when ``long_line(first bytes)``
    says so); the bytes past the cap are counted in ``dropped_bytes``, not stored. The
    newline is not part of ``line``; a last line without one is passed on too.
    ``overhang`` more bytes are kept past ``max_line`` (not past ``long_cap``) for the
    masker (:func:`keep_line` cuts them off). Returns whether the output ended with a
    newline (or was empty).
    """
    buf = bytearray()
    dropped = 0
    cap: int | None = None
    while True:
        data = await stream.read(CHUNK)
        if not data:
            break
        view = memoryview(data)
        pos = 0
        size = len(data)
        while pos < size:
            newline = data.find(b"\n", pos)
            end = size if newline < 0 else newline
            segment = view[pos:end]
            while len(segment):
                if cap is None:
                    if long_line is None:
                        cap = max_line + overhang
                    elif len(buf) >= PREFIX:
                        long = long_line(bytes(buf[:PREFIX]))
                        cap = long_cap if long else max_line + overhang
                    else:
                        take = PREFIX - len(buf)
                        buf += segment[:take]
                        segment = segment[take:]
                        continue
                room = max(0, cap - len(buf))
                if room:
                    buf += segment[:room]
                dropped += max(0, len(segment) - room)
                segment = segment[len(segment) :]
            if newline < 0:
                break
            if cap is not None and len(buf) > cap:  # the prefix went past a small cap
                dropped += len(buf) - cap
                del buf[cap:]
            on_line(bytes(buf), dropped)
            buf = bytearray()
            dropped = 0
            cap = None
            pos = newline + 1
    if buf or dropped:
        on_line(bytes(buf), dropped)
        return False
    return True
