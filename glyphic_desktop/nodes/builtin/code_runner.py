"""The Code node: Python run in a separate, sandboxed process with a timeout and a memory cap.

The child is ``python -P .../code_child.py`` (see that module for the protocol; it imports
only the standard library and the sandbox module, by file path). It gets a scrubbed
environment and, where the OS allows, restricts itself before running the code (see
``nodes/child_sandbox.py``): it cannot read Glyphic's data dir, key file or database
socket, and writes only under its scratch dir (its cwd and ``TMPDIR``) and the node's
``writable_paths``. Prints become ``info`` log lines, stderr lines ``warn`` lines (each
cut at 64 KiB, at most 10,000 lines per node per run, see ``nodes/child_output.py``),
and the result is the node's output. A syntax error, an exception, a MemoryError, a crash or a
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
import json
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.frozen import python_argv
from glyphic_desktop.nodes import child_output
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType
from glyphic_desktop.nodes.builtin._common import (
    feed_stdin,
    log_dropped_lines,
    masked_clip,
    node_masker,
    resolve_paths,
    start_child,
    supervise_child,
    text_list_field,
)
from glyphic_desktop.nodes.builtin.files import check_file_name, save_produced_file, sniff_type
from glyphic_desktop.nodes.child_sandbox import ChildSetup, allowed_env_names, prepare
from glyphic_desktop.nodes.registry import register_node

CHILD_SCRIPT = str(Path(__file__).resolve().with_name("code_child.py"))
#: Longest result (or error report) line read from the child (the result is one line).
MAX_RESULT = 1024 * 1024 * 1024
#: How the child's last line (result or error) starts; other lines are capped as prints.
_FINAL_PREFIXES = (b'{"type": "result"', b'{"type": "error"')

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

    writable_paths: list[str] = text_list_field(
        "writable_paths",
        "writablePaths",
        "Folders the code may write (besides its scratch dir, its cwd and TMPDIR); "
        "created when missing. Glyphic's own data, key and database stay out of reach.",
    )
    readable_paths: list[str] = text_list_field(
        "readable_paths",
        "readablePaths",
        "Folders or files the code may read (and run) besides the system and Python "
        "folders, e.g. input data outside the files folder.",
    )
    allowed_env: list[str] = text_list_field(
        "allowed_env",
        "allowedEnv",
        "Environment variables the code may see besides PATH, HOME, LANG, TZ… "
        "(the workflow's allowedEnv counts too; GLYPHIC_* and database URLs never).",
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
        "Runs Python in a separate, sandboxed process with a timeout and a memory cap; prints "
        "go to the log, the return value of main(input) (or `result`) is the output."
    )
    Fields: ClassVar[type[BaseModel]] = CodeFields
    runs_code: ClassVar[bool] = True
    code_fields: ClassVar[tuple[str, ...]] = ("code",)

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Start the child, stream its prints to the log, and return its result."""
        fields: CodeFields = ctx.fields  # type: ignore[assignment]
        with prepare(
            ctx,
            allowed_env=allowed_env_names(ctx, fields.allowed_env),
            writable=resolve_paths(ctx, fields.writable_paths, "writable_paths"),
            readable=resolve_paths(ctx, fields.readable_paths, "readable_paths"),
        ) as setup:
            return await self._run_child(ctx, fields, setup)

    async def _run_child(
        self, ctx: NodeContext, fields: CodeFields, setup: ChildSetup
    ) -> Mapping[str, Any]:
        max_line = child_output.line_bytes_limit()
        lines = _Lines(ctx, max_line, node_masker(ctx))
        try:
            payload = json.dumps(
                {
                    "code": fields.code,
                    "input": ctx.input,
                    "memory_mb": fields.memory_mb,
                    # the child cuts prints past this; the secrets a cut would split
                    # are masked here before the line is cut to max_line
                    "max_line": max_line + lines.overhang,
                    "sandbox": setup.policy_payload(),
                },
                ensure_ascii=False,
            ).encode()
        except (TypeError, ValueError) as exc:
            raise NodeError(f"the input cannot be sent to the Code process: {exc}") from None
        process = await start_child(
            ctx,
            [*python_argv("-P"), CHILD_SCRIPT],
            stdin=asyncio.subprocess.PIPE,
            cwd=str(setup.scratch),
            env=setup.env,
        )
        outcome: dict[str, Any] = {}
        stderr_tail: list[str] = []
        try:
            await supervise_child(
                process,
                [
                    feed_stdin(process, payload),
                    _read_protocol(process, lines, outcome),
                    _read_stderr(process, lines, stderr_tail),
                    process.wait(),
                ],
                fields.timeout,
            )
        except TimeoutError:
            raise NodeError(
                f"Code timed out after {fields.timeout:g} s; its process was killed",
                field="timeout",
            ) from None
        finally:
            log_dropped_lines(ctx, lines.budget)
        value = _result(process.returncode, outcome, stderr_tail, fields, ctx)
        if outcome.get("type") == "result" and outcome.get("bytes"):
            return {"output": await _save_bytes(ctx, fields, value)}
        return {"output": value}


class _Lines:
    """The node's log lines from its child, within the node's per-run line budget; a
    line longer than ``max_line`` is masked, then cut (no part of a secret survives)."""

    def __init__(self, ctx: NodeContext, max_line: int, masker: Any = None) -> None:
        self._ctx = ctx
        self.max_line = max_line
        self.masker = masker
        self.overhang = child_output.overhang_for(masker)
        self.budget = child_output.budget_for(ctx.execution_id, ctx.node.id)

    def head(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of ``text``, masked first when it is longer."""
        if len(text) <= limit:
            return text
        return self.masker.mask_head(text, limit)[0] if self.masker else text[:limit]

    def log(self, level: str, text: str, cut: int = 0) -> None:
        """Log ``text`` (``cut``: characters the child already dropped after it)."""
        if self.budget.take(min(len(text), self.max_line)):
            if len(text) > self.max_line or cut:
                cut += max(0, len(text) - self.max_line)
                text = self.head(text, self.max_line) + f" … [line cut: {cut} more characters]"
            self._ctx.log(level, text)  # type: ignore[arg-type]

    def log_raw(self, level: str, raw: bytes, dropped: int) -> str:
        """Log a raw line read with :attr:`overhang` (``dropped``: bytes not read), masked
        and cut at ``max_line`` bytes once; returns the text."""
        text = child_output.keep_line(raw, dropped, self.max_line, self.masker)
        if self.budget.take(min(len(raw), self.max_line)):
            self._ctx.log(level, text)  # type: ignore[arg-type]
        return text


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


async def _read_protocol(
    process: asyncio.subprocess.Process, lines: _Lines, outcome: dict[str, Any]
) -> None:
    assert process.stdout is not None

    def on_line(raw: bytes, dropped: int) -> None:
        message = None
        if not dropped:
            try:
                message = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                message = None
        if not isinstance(message, dict) or "type" not in message:
            # Written past sys.stdout (e.g. by a C extension or os.write), or cut.
            lines.log_raw("info", raw, dropped)
            return
        if message["type"] == "print":
            cut = message.get("cut")
            lines.log("info", str(message.get("text", "")), cut if isinstance(cut, int) else 0)
        else:
            outcome.clear()
            outcome.update(message)

    await child_output.read_lines(
        process.stdout,
        on_line,
        # A print message is JSON: its text (cut at max_line + overhang characters by
        # the child) may grow up to 6 times when escaped.
        max_line=6 * (lines.max_line + lines.overhang) + 256,
        long_line=lambda prefix: prefix.startswith(_FINAL_PREFIXES),
        long_cap=MAX_RESULT,
    )


async def _read_stderr(process: asyncio.subprocess.Process, lines: _Lines, tail: list[str]) -> None:
    assert process.stderr is not None

    def on_line(raw: bytes, dropped: int) -> None:
        text = lines.log_raw("warn", raw, dropped)
        tail.append(lines.head(text, 2000))
        del tail[:-20]

    await child_output.read_lines(
        process.stderr, on_line, max_line=lines.max_line, overhang=lines.overhang
    )


def _result(
    returncode: int | None,
    outcome: dict[str, Any],
    tail: list[str],
    fields: CodeFields,
    ctx: NodeContext,
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
        + (f": {masked_clip(ctx, detail, 300)}" if detail else ""),
        field="code",
    )
