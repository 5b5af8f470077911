"""Helpers shared by the built-in node types: services, paths, child processes, JSON.

Nothing here is a node type; each helper has one small job the catalog repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from glyphic_desktop.nodes.base import NodeContext, NodeError


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
