"""Helpers shared by the built-in node types: services, paths, child processes, JSON.

Nothing here is a node type; each helper has one small job the catalog repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field

from glyphic_desktop.nodes import child_output
from glyphic_desktop.nodes.base import NodeContext, NodeError
from glyphic_desktop.nodes.tasks import run_all


def service(ctx: NodeContext, name: str) -> Any | None:
    """The engine service ``name`` (attribute or mapping key of ``ctx.services``), or None."""
    services = ctx.services
    if services is None:
        return None
    if isinstance(services, dict):
        return services.get(name)
    return getattr(services, name, None)


def require_service(ctx: NodeContext, name: str, what: str) -> Any:
    """The engine service ``name``; a clear NodeError when the engine does not provide it."""
    found = service(ctx, name)
    if found is None:
        raise NodeError(
            f"{what} needs the engine service {name!r}, which this run does not provide"
        )
    return found


def base_dir(ctx: NodeContext) -> Path:
    """Where relative file paths resolve: the engine's ``base_dir`` service, else files_dir()."""
    from glyphic_desktop.paths import files_dir

    found = service(ctx, "base_dir")
    if callable(found):
        found = found()
    return Path(found) if found else files_dir()


def resolve_path(ctx: NodeContext, raw: str, field: str = "path") -> Path:
    """``raw`` with ``~`` expanded; a relative path is taken under :func:`base_dir`."""
    if not raw or not raw.strip():
        raise NodeError(f"field {field!r} is empty: give a file path", field=field)
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        path = base_dir(ctx) / path
    return path


def resolve_paths(ctx: NodeContext, raws: Iterable[str], field: str) -> list[tuple[Path, str]]:
    """Each of ``raws`` resolved by :func:`resolve_path`, paired with ``field`` (the form
    ``child_sandbox.prepare`` takes its writable and readable paths in)."""
    return [(resolve_path(ctx, raw, field), field) for raw in raws]


def text_list_field(name: str, alias: str, description: str) -> Any:
    """A list-of-text field (empty by default) named ``name`` that also accepts ``alias``
    (its camelCase spelling, e.g. ``writablePaths``)."""
    return Field(
        default_factory=list,
        validation_alias=AliasChoices(name, alias),
        description=description,
    )


async def maybe_await(value: Any) -> Any:
    """``await value`` when it is awaitable, else ``value`` (services may be sync or async)."""
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def track_process(ctx: NodeContext, process: asyncio.subprocess.Process) -> None:
    """Tell the engine about a child process (so cancellation can kill it), if it listens."""
    tracker = service(ctx, "track_process")
    if callable(tracker):
        tracker(process)


def new_session_kwargs() -> dict[str, Any]:
    """Subprocess arguments that put the child in its own process group (so we can kill it all)."""
    if sys.platform == "win32":  # pragma: no cover - POSIX CI
        import subprocess

        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


async def start_child(
    ctx: NodeContext,
    argv: Sequence[str],
    *,
    stdin: int,
    cwd: str,
    env: Mapping[str, str],
) -> asyncio.subprocess.Process:
    """Start ``argv`` in its own process group with stdout and stderr piped, and tell the
    engine about it (:func:`track_process`); OSError when it cannot start."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        **new_session_kwargs(),
    )
    track_process(ctx, process)
    return process


async def feed_stdin(process: asyncio.subprocess.Process, payload: bytes | None) -> None:
    """Write ``payload`` to the child's stdin and close it; a child that stopped reading
    (broken pipe) is not an error. Nothing when there is no stdin pipe or no payload."""
    if process.stdin is None or payload is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(payload)
        await process.stdin.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.close()


async def supervise_child(
    process: asyncio.subprocess.Process,
    awaitables: Iterable[Awaitable[Any]],
    timeout: float | None,
) -> None:
    """Run ``awaitables`` (feeding and reading the child, waiting for it) together under
    ``timeout`` (:func:`~glyphic_desktop.nodes.tasks.run_all`); on any failure, the
    ``TimeoutError`` and cancellation included, kill the child's process group, then
    re-raise."""
    try:
        await run_all(awaitables, timeout)
    except BaseException:
        await kill_process(process)
        raise


def log_dropped_lines(ctx: NodeContext, budget: child_output.LineBudget) -> None:
    """Log (as a warning) how many of the child's lines the node's budget dropped since the
    last report, if any."""
    summary = budget.summary()
    if summary:
        ctx.log("warn", summary)


async def kill_process(process: asyncio.subprocess.Process, grace: float = 0.0) -> None:
    """Kill ``process`` and its process group, then reap it (never raises)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if sys.platform == "win32":  # pragma: no cover
                process.kill()
            else:
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(process.wait(), timeout=5)


def clip(text: str, limit: int = 300) -> str:
    """``text`` shortened to ``limit`` characters with a visible marker."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def node_masker(ctx: NodeContext) -> Any:
    """The run's masker plus the node's own credential (a SecretMasker, maybe empty)."""
    from glyphic_desktop.secrets.masking import SecretMasker
    from glyphic_desktop.secrets.types import credential_types

    masker = SecretMasker()
    run_masker = service(ctx, "masker")
    if isinstance(run_masker, SecretMasker):
        masker.merge(run_masker)
    credential = ctx.credential
    kind = (credential or {}).get("type")
    if credential and kind in credential_types:
        credential_types.get(kind).register_secrets(masker, credential)
    elif credential:  # an unknown shape: every value is treated as secret
        masker.add_credential(credential, [k for k in credential if k != "type"])
    return masker


def masked_clip(ctx: NodeContext, text: str, limit: int = 300) -> str:
    """:func:`clip` after masking every secret the run knows: mask first, then cut.

    A server that pads its error body so that a cut would fall inside a secret shows
    nothing of it.
    """
    masker = node_masker(ctx)
    text = text.strip()
    if not masker:
        return clip(text, limit)
    head, more = masker.mask_head(text, limit)
    if not more:
        return head
    return head + f"… [{max(len(text) - limit, 1)} more chars]"


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of ``exc``'s cause / context chain."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def connect_problem(exc: BaseException) -> str:
    """A short description of why a connection failed (``connection refused`` …)."""
    cause = root_cause(exc)
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower() if cause.strerror[0].isupper() else cause.strerror
    text = str(exc) or exc.__class__.__name__
    return "connection refused" if "refused" in text.lower() else text
