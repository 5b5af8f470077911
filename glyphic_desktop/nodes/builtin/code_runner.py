"""The Code node: Python run in a separate process with a timeout and a memory cap.

The child is ``python -m glyphic_desktop.nodes.builtin.code_child`` (see that module for
the protocol). Prints become ``info`` log lines, stderr lines ``warn`` lines, and the
result is the node's output. A syntax error, an exception, a MemoryError, a crash or a
timeout fails this node only, with a message saying which; the process (and its process
group) is killed on timeout and on cancellation.

When the code returns ``bytes``, they are saved as a file the run produced (under
``files_dir()/<execution id>/``, named by ``file_name``, recorded in the ``files`` table
with the run) and the output is that file's info (``path``, ``name``, ``size``,
``mime_type``) instead of the bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import signal
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType
from glyphic_desktop.nodes.builtin._common import (
    clip,
    kill_process,
    new_session_kwargs,
    track_process,
)
from glyphic_desktop.nodes.builtin.files import check_file_name, save_produced_file, sniff_type
from glyphic_desktop.nodes.registry import register_node

CHILD_MODULE = "glyphic_desktop.nodes.builtin.code_child"
#: Longest single protocol line read from the child (the result is one line).
MAX_LINE = 1024 * 1024 * 1024

DEFAULT_CODE = """\
# `input` holds the node's input. Set `result`, or define main(input) and return it.
def main(input):
    print("got", input)
    return input
"""


class CodeFields(BaseModel):
    """Fields of the Code node."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        default=DEFAULT_CODE,
        min_length=1,
        description=(
            "Python code; `input` is the node's input; return from main(input) or set `result`."
        ),
        json_schema_extra={"widget": "code", "language": "python"},
    )
    timeout: float = Field(
        default=30.0, gt=0, le=24 * 3600, description="Seconds before the process is killed."
    )
    memory_mb: int = Field(
        default=512, ge=64, le=65536, description="Address-space cap of the process (MB)."
    )
    file_name: str = Field(
        default="",
        description=(
            "Name of the file saved when the code returns bytes; empty: output.bin "
            "(or the extension the bytes show, e.g. output.png)."
        ),
    )

    @field_validator("file_name")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        return check_file_name(value)


@register_node
class CodeNode(NodeType):
    """Runs Python code in a child process; its return value is the output."""

    key: ClassVar[str] = "code"
    title: ClassVar[str] = "Code"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "code"
    description: ClassVar[str] = (
        "Runs Python in a separate process with a timeout and a memory cap; prints go to "
        "the log, the return value of main(input) (or `result`) is the output."
    )
    Fields: ClassVar[type[BaseModel]] = CodeFields
    runs_code: ClassVar[bool] = True
    code_fields: ClassVar[tuple[str, ...]] = ("code",)

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Start the child, stream its prints to the log, and return its result."""
        fields: CodeFields = ctx.fields  # type: ignore[assignment]
        try:
            payload = json.dumps(
                {"code": fields.code, "input": ctx.input, "memory_mb": fields.memory_mb},
                ensure_ascii=False,
            ).encode()
        except (TypeError, ValueError) as exc:
            raise NodeError(f"the input cannot be sent to the Code process: {exc}") from None
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            CHILD_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=MAX_LINE,
            **new_session_kwargs(),
        )
        track_process(ctx, process)
        outcome: dict[str, Any] = {}
        stderr_tail: list[str] = []
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    _feed(process, payload),
                    _read_protocol(process, ctx, outcome),
                    _read_stderr(process, ctx, stderr_tail),
                    process.wait(),
                ),
                fields.timeout,
            )
        except TimeoutError:
            await kill_process(process)
            raise NodeError(
                f"Code timed out after {fields.timeout:g} s; its process was killed",
                field="timeout",
            ) from None
        except BaseException:
            await kill_process(process)
            raise
        value = _result(process.returncode, outcome, stderr_tail, fields)
        if outcome.get("type") == "result" and outcome.get("bytes"):
            return {"output": await _save_bytes(ctx, fields, value)}
        return {"output": value}


async def _save_bytes(ctx: NodeContext, fields: CodeFields, value: Any) -> dict[str, Any]:
    """Save the bytes the code returned as a produced file; its info is the output."""
    try:
        data = base64.b64decode(value["base64"], validate=True)
    except (TypeError, KeyError, ValueError, binascii.Error):
        raise NodeError("the Code process sent bytes that are not valid base64") from None
    name = fields.file_name.strip()
    if not name:
        sniffed = sniff_type(data)
        name = "output" + (sniffed[0] if sniffed else ".bin")
    info = await save_produced_file(ctx, data, name, field="file_name")
    ctx.log("info", f"saved the {len(data)} bytes the code returned to {info['path']}")
    return info


async def _feed(process: asyncio.subprocess.Process, payload: bytes) -> None:
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(payload)
        await process.stdin.drain()
        process.stdin.close()


async def _read_protocol(
    process: asyncio.subprocess.Process, ctx: NodeContext, outcome: dict[str, Any]
) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or "type" not in message:
            ctx.log("info", text)  # written past sys.stdout (e.g. by a C extension)
            continue
        if message["type"] == "print":
            ctx.log("info", str(message.get("text", "")))
        else:
            outcome.clear()
            outcome.update(message)


async def _read_stderr(
    process: asyncio.subprocess.Process, ctx: NodeContext, tail: list[str]
) -> None:
    assert process.stderr is not None
    while line := await process.stderr.readline():
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        ctx.log("warn", text)
        tail.append(text)
        del tail[:-20]


def _result(
    returncode: int | None, outcome: dict[str, Any], tail: list[str], fields: CodeFields
) -> Any:
    kind = outcome.get("type")
    if kind == "result":
        return outcome.get("value")
    if kind == "error":
        message = outcome.get("message", "the code failed")
        if outcome.get("kind") == "memory":
            message = f"Code {message}; raise memory_mb or process less data"
            raise NodeError(message, field="memory_mb")
        raise NodeError(f"Code failed: {message}", field="code")
    # No report: the process died (a signal, the OOM killer, an interpreter crash).
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        raise NodeError(f"the Code process crashed ({name})", field="code")
    detail = "\n".join(tail)
    if "MemoryError" in detail:
        raise NodeError(
            f"Code ran out of memory (limit {fields.memory_mb} MB); "
            "raise memory_mb or process less data",
            field="memory_mb",
        )
    raise NodeError(
        f"the Code process exited with code {returncode} without a result"
        + (f": {clip(detail, 300)}" if detail else ""),
        field="code",
    )
