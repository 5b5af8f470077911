"""The Run command node: an argument list (no shell unless asked), a timeout, captured output.

The program runs with a scrubbed environment and, where the OS allows, inside the sandbox
(``nodes/child_sandbox.py``: started through the ``nodes/sandbox.py`` launcher, it reads
system dirs and writes only its scratch dir, its ``cwd`` and the node's
``writable_paths``). Its output is read in chunks: each line is cut at 64 KiB, a node keeps
at most 10,000 lines per run and 10 MB per stream (``nodes/child_output.py``).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes import child_output
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import (
    feed_stdin,
    log_dropped_lines,
    masked_clip,
    node_masker,
    resolve_path,
    resolve_paths,
    start_child,
    supervise_child,
    text_list_field,
)
from glyphic_desktop.nodes.child_sandbox import ChildSetup, allowed_env_names, prepare
from glyphic_desktop.nodes.registry import register_node
from glyphic_desktop.nodes.sandbox import LAUNCHER_MARK

#: Most bytes of stdout / stderr kept in the output; the rest is cut with a marker.
MAX_CAPTURE = 10 * 1024 * 1024
SHELL = "/bin/sh"


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
    cwd: str | None = Field(
        default=None,
        description="Working folder, which the command may write (default: a scratch folder).",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    writable_paths: list[str] = text_list_field(
        "writable_paths",
        "writablePaths",
        "Folders the command may write besides its cwd and scratch dir (created when "
        "missing). Glyphic's own data, key and database stay out of reach.",
    )
    readable_paths: list[str] = text_list_field(
        "readable_paths",
        "readablePaths",
        "Folders or files the command may read (and run) besides the system and Python "
        "folders, e.g. input data outside the files folder.",
    )
    allowed_env: list[str] = text_list_field(
        "allowed_env",
        "allowedEnv",
        "Variables of Glyphic's environment the command sees besides PATH, HOME, LANG, "
        "TZ… (the workflow's allowedEnv counts too; GLYPHIC_* and database URLs never).",
    )
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


class _Capture:
    """One stream's kept text: lines within the node's budget and MAX_CAPTURE bytes."""

    def __init__(self, budget: child_output.LineBudget, masker: Any = None) -> None:
        self.cap = child_output.line_bytes_limit()
        self.masker = masker  # a line cut at the cap is masked before the cut
        self.overhang = child_output.overhang_for(masker)
        self.lines: list[str] = []
        self.size = 0
        self.cut_bytes = 0
        self.cut_lines = 0
        self.ended_with_newline = True
        self._budget = budget

    def add(self, raw: bytes, dropped: int) -> None:
        if self.size >= MAX_CAPTURE:
            self.cut_bytes += len(raw) + dropped + 1
            return
        if not self._budget.take(min(len(raw), self.cap)):
            self.cut_lines += 1
            return
        text = child_output.keep_line(raw, dropped, self.cap, self.masker)
        self.size += min(len(raw), self.cap) + 1
        self.lines.append(text)

    def text(self) -> str:
        text = "\n".join(self.lines)
        if self.lines and self.ended_with_newline:
            text += "\n"
        if self.cut_lines:
            text += f"… [{self.cut_lines} more lines dropped]\n"
        if self.cut_bytes:
            text += f"… [truncated, {self.cut_bytes} more bytes]"
        return text


async def _capture(stream: asyncio.StreamReader | None, capture: _Capture) -> None:
    if stream is None:
        return
    capture.ended_with_newline = await child_output.read_lines(
        stream, capture.add, max_line=capture.cap, overhang=capture.overhang
    )


def _program(argv: list[str], env: Mapping[str, str], cwd: Path) -> str:
    """The program file ``argv[0]`` names (looked up on the child's PATH); NodeError if none."""
    name = argv[0]
    if os.sep in name:
        path = Path(name).expanduser()
        found = str(path if path.is_absolute() else cwd / path)
        if not os.path.isfile(found):
            found = ""
    else:
        found = shutil.which(name, path=env.get("PATH", os.defpath)) or ""
    if not found:
        raise NodeError(
            f"command not found: {name!r} (is it installed and on PATH?)", field="command"
        )
    if not os.access(found, os.X_OK):
        raise NodeError(f"command {name!r} is not executable", field="command")
    return found


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
        writable = resolve_paths(ctx, fields.writable_paths, "writable_paths")
        readable = resolve_paths(ctx, fields.readable_paths, "readable_paths")
        if fields.cwd:
            cwd = resolve_path(ctx, fields.cwd, "cwd")
            if not cwd.is_dir():
                raise NodeError(f"working folder {str(cwd)!r} does not exist", field="cwd")
            writable.append((cwd, "cwd"))
        if fields.shell:
            shown = fields.shell_line()
            argv = [SHELL, "-c", shown]
        else:
            argv = fields.argv()
            shown = shlex.join(argv)
        with prepare(
            ctx,
            allowed_env=allowed_env_names(ctx, fields.allowed_env),
            env_values=fields.env,
            writable=writable,
            readable=readable,
        ) as setup:
            workdir = setup.named[-1] if fields.cwd else setup.scratch
            program = _program(argv, setup.env, workdir)
            if setup.policy is not None:
                setup.policy.read.append(os.path.realpath(program))
            return await self._run_process(ctx, fields, setup, [program, *argv[1:]], workdir, shown)

    async def _run_process(
        self,
        ctx: NodeContext,
        fields: RunCommandFields,
        setup: ChildSetup,
        argv: list[str],
        workdir: Path,
        shown: str,
    ) -> Mapping[str, Any]:
        stdin = asyncio.subprocess.PIPE if fields.stdin is not None else asyncio.subprocess.DEVNULL
        try:
            process = await start_child(
                ctx, setup.launcher(argv), stdin=stdin, cwd=str(workdir), env=setup.env
            )
        except PermissionError:
            raise NodeError(f"command {argv[0]!r} is not executable", field="command") from None
        except OSError as exc:
            raise NodeError(
                f"cannot start {shown!r}: {exc.strerror or exc}", field="command"
            ) from None
        payload = fields.stdin.encode() if fields.stdin is not None else None
        budget = child_output.budget_for(ctx.execution_id, ctx.node.id)
        masker = node_masker(ctx)
        out, err = _Capture(budget, masker), _Capture(budget, masker)
        try:
            await supervise_child(
                process,
                [
                    feed_stdin(process, payload),
                    _capture(process.stdout, out),
                    _capture(process.stderr, err),
                    process.wait(),
                ],
                fields.timeout,
            )
        except TimeoutError:
            shown_cut = masked_clip(ctx, shown, 120)
            raise NodeError(
                f"command {shown_cut!r} timed out after {fields.timeout:g} s and was killed",
                field="timeout",
            ) from None
        finally:
            log_dropped_lines(ctx, budget)
        if setup.policy is not None and process.returncode in (126, 127):
            first = err.lines[0] if err.lines else ""
            if first.startswith(LAUNCHER_MARK):
                raise NodeError(
                    f"{first[len(LAUNCHER_MARK) :]} (in the sandbox; GLYPHIC_SANDBOX=off runs "
                    "commands without it)",
                    field="command",
                )
        result = {
            "exit_code": process.returncode,
            "stdout": out.text(),
            "stderr": err.text(),
            "command": shown,
        }
        if process.returncode and fields.fail_on_nonzero:
            detail = masked_clip(ctx, result["stderr"] or result["stdout"], 300)
            raise NodeError(
                f"command {masked_clip(ctx, shown, 120)!r} exited with code {process.returncode}"
                + (f": {detail}" if detail else ""),
                field="command",
            )
        return {"output": result}
