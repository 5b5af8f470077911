"""The child process of the Code node: ``python -m glyphic_desktop.nodes.builtin.code_child``.

Reads ``{"code", "input", "memory_mb"}`` as JSON on stdin, caps its address space
(``RLIMIT_AS``), runs the code, and writes JSON lines on stdout:

- ``{"type": "print", "text": ...}`` for each line the code prints;
- last, ``{"type": "result", "value": ...}`` (with ``"bytes": true`` when the result is
  bytes, sent as ``{"base64", "size"}``) or ``{"type": "error", "kind": ...,
  "message": ..., "traceback": ...}`` (kind: syntax, exception, memory or result).

The result is the return value of ``main(input)`` when the code defines ``main``, else
the value of a variable called ``result``, else None. This module imports only the
standard library: it must start fast and stay small under the memory cap.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import io
import json
import sys
import traceback
from typing import Any, TextIO

CODE_FILENAME = "<code>"


class _LineForwarder(io.TextIOBase):
    """A text stream that sends each complete line as a ``print`` message."""

    def __init__(self, sink: TextIO) -> None:
        self._sink = sink
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            _send(self._sink, {"type": "print", "text": line})
        return len(text)

    def flush(self) -> None:
        self._sink.flush()

    def close_pending(self) -> None:
        if self._pending:
            _send(self._sink, {"type": "print", "text": self._pending})
            self._pending = ""


def _send(sink: TextIO, message: dict[str, Any]) -> None:
    sink.write(json.dumps(message, ensure_ascii=False, default=_json_default) + "\n")
    sink.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii"), "size": len(value)}
    raise TypeError(f"a value of type {type(value).__name__} cannot be turned into JSON")


def _user_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CODE_FILENAME]
    lines = traceback.format_list(frames) if frames else []
    return "".join(lines) + "".join(traceback.format_exception_only(type(exc), exc))


def _user_line(exc: BaseException) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CODE_FILENAME]
    return frames[-1].lineno if frames else None


def _cap_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no RLIMIT_AS
        return
    limit = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(code: str, value: Any) -> Any:
    """Execute ``code`` with ``input`` bound to ``value``; return its result."""
    compiled = compile(code, CODE_FILENAME, "exec")
    namespace: dict[str, Any] = {"__name__": "__glyphic_code__", "input": value}
    exec(compiled, namespace)
    main = namespace.get("main")
    if callable(main):
        outcome = main(value)
        if hasattr(outcome, "__await__"):
            import asyncio

            outcome = asyncio.run(_await(outcome))
        return outcome
    return namespace.get("result")


async def _await(awaitable: Any) -> Any:
    return await awaitable


def main() -> int:
    """Entry point: read the job, run it, report the result; exit 0 when reported."""
    proto = sys.stdout
    request = json.loads(sys.stdin.read())
    forwarder = _LineForwarder(proto)
    sys.stdout = forwarder  # type: ignore[assignment]
    memory_mb = request.get("memory_mb")
    try:
        _cap_memory(memory_mb)
        result = run(request["code"], request.get("input"))
    except SyntaxError as exc:
        forwarder.close_pending()
        where = f"line {exc.lineno}" if exc.lineno else "the code"
        _send(
            proto,
            {
                "type": "error",
                "kind": "syntax",
                "line": exc.lineno,
                "message": f"syntax error at {where}: {exc.msg}",
                "traceback": "",
            },
        )
        return 0
    except MemoryError as exc:
        forwarder.close_pending()
        _send(
            proto,
            {
                "type": "error",
                "kind": "memory",
                "line": _user_line(exc),
                "message": f"ran out of memory (limit {memory_mb} MB)",
                "traceback": _user_traceback(exc),
            },
        )
        return 0
    except BaseException as exc:
        forwarder.close_pending()
        line = _user_line(exc)
        where = f" (line {line})" if line else ""
        if isinstance(exc, SystemExit):
            message = f"the code called exit({exc.code!r})"
        else:
            message = f"{type(exc).__name__}: {exc}{where}"
        _send(
            proto,
            {
                "type": "error",
                "kind": "exception",
                "line": line,
                "message": message,
                "traceback": _user_traceback(exc),
            },
        )
        return 0
    forwarder.close_pending()
    try:
        message: dict[str, Any] = {"type": "result", "value": result}
        if isinstance(result, bytes | bytearray):
            message["bytes"] = True  # the Code node saves it as a file of the run
        text = json.dumps(message, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        _send(
            proto,
            {
                "type": "error",
                "kind": "result",
                "line": None,
                "message": f"the result is not JSON data: {exc}",
                "traceback": "",
            },
        )
        return 0
    except MemoryError:
        _send(
            proto,
            {
                "type": "error",
                "kind": "memory",
                "line": None,
                "message": f"ran out of memory turning the result into JSON (limit {memory_mb} MB)",
                "traceback": "",
            },
        )
        return 0
    proto.write(text + "\n")
    proto.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
