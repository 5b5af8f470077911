"""The Run command node: an argument list (no shell unless asked), a timeout, captured output."""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import (
    clip,
    kill_process,
    new_session_kwargs,
    resolve_path,
    track_process,
)
from glyphic_desktop.nodes.registry import register_node

#: Most bytes of stdout / stderr kept in the output; the rest is cut with a marker.
MAX_CAPTURE = 10 * 1024 * 1024


class RunCommandFields(BaseModel):
    """Fields of the Run command node."""

    model_config = ConfigDict(extra="forbid")

    command: list[str] | str = Field(
        description=(
            "The program and its arguments as a list, e.g. ['git', 'status']. "
            "A text is split like a shell would (or run by the shell when 'shell' is on)."
        ),
        json_schema_extra={"widget": "json"},
    )
    shell: bool = Field(default=False, description="Run through the system shell (/bin/sh -c).")
    cwd: str | None = Field(default=None, description="Working folder (default: the files folder).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    stdin: str | None = Field(
        default=None,
        description="Text sent to the command's standard input.",
        json_schema_extra={"widget": "multiline"},
    )
    timeout: float = Field(
        default=60.0, gt=0, le=24 * 3600, description="Seconds before it is killed."
    )
    fail_on_nonzero: bool = Field(
        default=False, description="Fail the node when the exit code is not 0."
    )

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [str(part) if isinstance(part, int | float) else part for part in value]
        return value

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: list[str] | str) -> list[str] | str:
        parts = value if isinstance(value, list) else [value]
        if not parts or not str(parts[0]).strip():
            raise ValueError("command is empty: give the program to run")
        return value

    def argv(self) -> list[str]:
        """The argument list to execute (without a shell)."""
        if isinstance(self.command, list):
            return list(self.command)
        try:
            return shlex.split(self.command)
        except ValueError as exc:
            raise NodeError(
                f"command cannot be split into arguments: {exc}", field="command"
            ) from None

    def shell_line(self) -> str:
        """The command line given to the shell."""
        return self.command if isinstance(self.command, str) else shlex.join(self.command)


def _decode(data: bytes) -> str:
    text = data[:MAX_CAPTURE].decode("utf-8", errors="replace")
    if len(data) > MAX_CAPTURE:
        text += f"\n… [truncated, {len(data) - MAX_CAPTURE} more bytes]"
    return text


@register_node
class RunCommandNode(NodeType):
    """Runs a program and outputs its exit code, stdout and stderr."""

    key: ClassVar[str] = "run_command"
    title: ClassVar[str] = "Run command"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "terminal"
    description: ClassVar[str] = (
        "Runs a program (an argument list, no shell unless asked) and outputs exit_code, "
        "stdout and stderr."
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Result"),)
    Fields: ClassVar[type[BaseModel]] = RunCommandFields
    runs_code: ClassVar[bool] = True
    code_fields: ClassVar[tuple[str, ...]] = ("command", "stdin")

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Start the process in its own group; kill the group on timeout or cancellation."""
        fields: RunCommandFields = ctx.fields  # type: ignore[assignment]
        cwd = resolve_path(ctx, fields.cwd, "cwd") if fields.cwd else resolve_path(ctx, ".", "cwd")
        if not cwd.is_dir():
            if fields.cwd:
                raise NodeError(f"working folder {str(cwd)!r} does not exist", field="cwd")
            cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **fields.env} if fields.env else None
        stdin = asyncio.subprocess.PIPE if fields.stdin is not None else asyncio.subprocess.DEVNULL
        common: dict[str, Any] = {
            "stdin": stdin,
            "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.PIPE,
            "cwd": str(cwd),
            "env": env,
            **new_session_kwargs(),
        }
        if fields.shell:
            shown = fields.shell_line()
            starter = asyncio.create_subprocess_shell(shown, **common)
        else:
            argv = fields.argv()
            shown = shlex.join(argv)
            starter = asyncio.create_subprocess_exec(*argv, **common)
        try:
            process = await starter
        except FileNotFoundError:
            program = fields.argv()[0] if not fields.shell else shown
            raise NodeError(
                f"command not found: {program!r} (is it installed and on PATH?)", field="command"
            ) from None
        except PermissionError:
            raise NodeError(
                f"command {fields.argv()[0]!r} is not executable", field="command"
            ) from None
        except OSError as exc:
            raise NodeError(
                f"cannot start {shown!r}: {exc.strerror or exc}", field="command"
            ) from None
        track_process(ctx, process)
        payload = fields.stdin.encode() if fields.stdin is not None else None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(payload), fields.timeout)
        except TimeoutError:
            await kill_process(process)
            raise NodeError(
                f"command {clip(shown, 120)!r} timed out after {fields.timeout:g} s and was killed",
                field="timeout",
            ) from None
        except BaseException:
            await kill_process(process)
            raise
        result = {
            "exit_code": process.returncode,
            "stdout": _decode(stdout),
            "stderr": _decode(stderr),
            "command": shown,
        }
        if process.returncode and fields.fail_on_nonzero:
            detail = clip(result["stderr"] or result["stdout"], 300)
            raise NodeError(
                f"command {clip(shown, 120)!r} exited with code {process.returncode}"
                + (f": {detail}" if detail else ""),
                field="command",
            )
        return {"output": result}
