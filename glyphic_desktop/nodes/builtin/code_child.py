"""The child process of the Code node: ``python -P .../code_child.py`` (run by file path).

Reads ``{"code", "input", "memory_mb", "max_line", "sandbox"}`` as JSON on stdin; when
``sandbox`` is given (``{"module": path of nodes/sandbox.py, "read", "write",
"devices"}``), loads that module by file path and restricts itself for good; then caps its
address space (``RLIMIT_AS``), runs the code, and writes JSON lines on stdout:

- ``{"type": "print", "text": ...}`` for each line the code prints (cut at ``max_line``
  characters, with a marker);
- last, ``{"type": "result", "value": ...}`` (with ``"bytes": true`` when the result is
  bytes, sent as ``{"base64", "size"}``) or ``{"type": "error", "kind": ...,
  "message": ..., "traceback": ...}`` (kind: syntax, exception, memory or result).

The result is the return value of ``main(input)`` when the code defines ``main``, else
the value of a variable called ``result``, else None. This module imports only the
standard library (never ``glyphic_desktop``): it must start fast, stay small under the
memory cap, and run where the sandbox lets it read only system and Python dirs.
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

    def __init__(self, sink: TextIO, max_line: int = 64 * 1024) -> None:
        self._sink = sink
        self._pending = ""
        self._cut = 0  # characters of the pending line beyond max_line, dropped
        self._max_line = max_line

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        length = len(text)
        while text:
            head, newline, text = text.partition("\n")
            room = self._max_line - len(self._pending)
            if room > 0:
                self._pending += head[:room]
            self._cut += max(0, len(head) - max(room, 0))
            if newline:
                self._emit()
        return length

    def _emit(self) -> None:
        message: dict[str, Any] = {"type": "print", "text": self._pending}
        if self._cut:  # the parent masks, then cuts and marks the line
            message["cut"] = self._cut
        self._pending = ""
        self._cut = 0
        _send(self._sink, message)

    def flush(self) -> None:
        self._sink.flush()

    def close_pending(self) -> None:
        if self._pending or self._cut:
            self._emit()


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


def _sandbox(spec: dict[str, Any] | None) -> str | None:
    """Restrict this process as ``spec`` says (None: no sandbox); why not, or None."""
    if not spec:
        return None
    import importlib.util

    loader = importlib.util.spec_from_file_location("_glyphic_sandbox", spec["module"])
    if loader is None or loader.loader is None:
        return f"cannot load the sandbox module {spec['module']}"
    module = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.loader.exec_module(module)
    policy = module.Policy(
        read=spec.get("read", []), write=spec.get("write", []), devices=spec.get("devices", [])
    )
    return module.restrict(policy)


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
    forwarder = _LineForwarder(proto, int(request.get("max_line") or 64 * 1024))
    problem = _sandbox(request.get("sandbox"))
    if problem:
        _send(
            proto,
            {
                "type": "error",
                "kind": "sandbox",
                "line": None,
                "message": (
                    f"the sandbox could not be set up: {problem} "
                    "(GLYPHIC_SANDBOX=off runs without it)"
                ),
                "traceback": "",
            },
        )
        return 0
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
