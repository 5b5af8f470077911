"""What a node's child process may see: its environment, its scratch dir and its sandbox policy.

The Code and Run command nodes call :func:`prepare` before starting a child. It returns a
:class:`ChildSetup`: a fresh private scratch dir (the child's cwd and ``TMPDIR``, removed
afterwards), the scrubbed environment (see :func:`glyphic_desktop.nodes.sandbox.child_env`)
and, where the OS allows it, the :class:`~glyphic_desktop.nodes.sandbox.Policy` the child
applies to itself: read the system and Python dirs, write the scratch dir and the paths the
node names; never the Glyphic data dir, config dir (the key file), log dir or a database
socket dir.

``GLYPHIC_SANDBOX`` chooses: ``auto`` (default: sandbox where possible; otherwise the run
log says once per node that it is not sandboxed), ``require`` (a node that cannot be
sandboxed fails) or ``off`` (never; said once per node in the run log).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import site
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glyphic_desktop.frozen import python_argv
from glyphic_desktop.nodes import sandbox
from glyphic_desktop.nodes.base import NodeContext, NodeError

SANDBOX_ENV = "GLYPHIC_SANDBOX"
#: Where the launcher / the Code child load the sandbox from (a file, no package import).
SANDBOX_MODULE = str(Path(sandbox.__file__).resolve())


_SYSTEM_READ = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
)
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
_COMMON_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp/.s.PGSQL.5432")

# (execution id, node id) pairs already told "not sandboxed" (bounded, oldest forgotten).
_told: OrderedDict[tuple[str, str], None] = OrderedDict()
_TOLD_KEEP = 4096


def sandbox_mode() -> str:
    """``auto``, ``require`` or ``off`` from ``GLYPHIC_SANDBOX`` (anything else: ``auto``)."""
    value = os.environ.get(SANDBOX_ENV, "auto").strip().lower()
    if value in ("off", "0", "no", "false"):
        return "off"
    if value in ("require", "required", "on", "1", "yes", "true"):
        return "require"
    return "auto"


@functools.cache
def unavailable_reason() -> str | None:
    """Why this machine cannot sandbox children (None: Landlock and seccomp are there)."""
    if not sys.platform.startswith("linux"):
        return f"the OS sandbox needs Linux Landlock; this is {sys.platform}"
    abi = sandbox.landlock_abi()
    if abi <= 0:
        return "this kernel has no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    if sandbox._seccomp_program(sandbox._machine()) is None:
        return f"no seccomp filter for machine {sandbox._machine()!r}"
    return None


def protected_paths() -> list[Path]:
    """Paths no child may read: the data, config (key) and log dirs, database socket dirs."""
    env = os.environ
    key = (env.get("GLYPHIC_HOME"), env.get("GLYPHIC_DATABASE_URL"), env.get("HOME"))
    return list(_protected_paths(key))


@functools.lru_cache(maxsize=16)
def _protected_paths(_key: tuple[str | None, ...]) -> tuple[Path, ...]:
    from glyphic_desktop import paths
    from glyphic_desktop.secrets.keys import KEY_FILE_NAME

    found = [paths.data_dir(), paths.config_dir(), paths.config_dir() / KEY_FILE_NAME]
    found.append(paths.log_dir())
    with contextlib.suppress(Exception):
        from glyphic_desktop.store.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(paths.data_dir() / "postgres")
        found += [server.socket_dir, server.server_dir]  # as root: under /var/lib/glyphic
    found += [Path(p) for p in _COMMON_SOCKET_DIRS]
    found += _url_socket_dirs()
    return tuple(_real(p) for p in found)


def _url_socket_dirs() -> list[Path]:
    from urllib.parse import parse_qs, unquote, urlsplit

    url = os.environ.get("GLYPHIC_DATABASE_URL") or ""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    hosts = parse_qs(parts.query).get("host", [])
    if parts.hostname and unquote(parts.netloc.rpartition("@")[2]).startswith("/"):
        hosts.append(unquote(parts.netloc.rpartition("@")[2]))
    return [Path(h) for h in hosts if h.startswith("/")]


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _overlaps(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are the same, or one lies inside the other (real paths)."""
    x, y = str(a).rstrip("/") + "/", str(b).rstrip("/") + "/"
    return x.startswith(y) or y.startswith(x)


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or lies inside it (real paths)."""
    return (str(path).rstrip("/") + "/").startswith(str(root).rstrip("/") + "/")


def _files_root() -> Path:
    from glyphic_desktop.paths import files_dir

    return _real(files_dir())


def _python_dirs() -> list[str]:
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    with contextlib.suppress(Exception):
        dirs.update(site.getsitepackages())
    with contextlib.suppress(Exception):
        user_site = site.getusersitepackages()
        if user_site and os.path.isdir(user_site):
            dirs.add(user_site)
    return sorted(dirs)


@functools.cache
def _read_candidates() -> tuple[tuple[Path, ...], Path | None]:
    """System and Python dirs that exist (made real), and the real ``/etc/resolv.conf``."""
    roots = tuple(_real(raw) for raw in (*_SYSTEM_READ, *_python_dirs()) if os.path.exists(raw))
    resolv = None
    with contextlib.suppress(OSError):
        found = _real("/etc/resolv.conf")  # often a link into /run (systemd-resolved)
        resolv = found if found.is_file() else None
    return roots, resolv


def _read_roots(protected: list[Path]) -> list[str]:
    """System and Python dirs a child reads, minus any that would expose a protected path."""
    candidates, resolv = _read_candidates()
    if resolv is not None:
        candidates = (*candidates, resolv)
    return [str(c) for c in candidates if not any(_overlaps(c, p) for p in protected)]


def check_named_path(path: Path, field_name: str, protected: list[Path] | None = None) -> Path:
    """``path`` made real; a NodeError when it is, holds or lies inside a protected path.

    Inside the data dir only the produced-files folder (``files/``) may be named.
    """
    protected = protected_paths() if protected is None else protected
    real = _real(path)
    files_root = _files_root()
    for guarded in protected:
        if real == guarded or real in guarded.parents:
            raise NodeError(
                f"field {field_name!r}: {str(path)!r} would let the child reach {guarded}, "
                "which holds Glyphic's data, key or database; name a folder outside it",
                field=field_name,
            )
        if guarded in real.parents and not (real == files_root or files_root in real.parents):
            raise NodeError(
                f"field {field_name!r}: {str(path)!r} lies inside {guarded}, "
                "which holds Glyphic's data, key or database; name a folder outside it",
                field=field_name,
            )
    return real


@dataclass
class ChildSetup:
    """The scratch dir, environment and sandbox policy of one child process."""

    scratch: Path
    env: dict[str, str]
    policy: sandbox.Policy | None
    note: str | None = None
    named: list[Path] = field(default_factory=list)

    def policy_payload(self) -> dict[str, Any] | None:
        """What the Code child needs to restrict itself (None: no sandbox)."""
        if self.policy is None:
            return None
        return {
            "module": SANDBOX_MODULE,
            "read": self.policy.read,
            "write": self.policy.write,
            "devices": self.policy.devices,
        }

    def launcher(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped in the sandbox launcher (unchanged when there is no sandbox)."""
        if self.policy is None:
            return argv
        return [*python_argv("-I", "-S"), SANDBOX_MODULE, *self.policy.to_args(), "--", *argv]


def allowed_env_names(ctx: NodeContext, own: Iterable[str]) -> list[str]:
    """The variable names a child may inherit: the node's own and the workflow's ``allowedEnv``."""
    names = [name for name in own if isinstance(name, str)]
    services = ctx.services
    workflow = getattr(services, "allowed_env", None) if services is not None else None
    if isinstance(workflow, list | tuple):
        names += [name for name in workflow if isinstance(name, str)]
    return names


def _say_not_sandboxed(ctx: NodeContext, reason: str) -> None:
    key = (str(ctx.execution_id or id(ctx)), str(ctx.node.id))
    if key in _told:
        return
    _told[key] = None
    while len(_told) > _TOLD_KEEP:
        _told.popitem(last=False)
    ctx.log("warn", f"not sandboxed: {reason}")


@contextlib.contextmanager
def prepare(
    ctx: NodeContext,
    *,
    allowed_env: Iterable[str] = (),
    env_values: Mapping[str, str] | None = None,
    writable: Iterable[tuple[Path, str]] = (),
    readable: Iterable[tuple[Path, str]] = (),
) -> Iterator[ChildSetup]:
    """Set up one child: a scratch dir (removed on exit), its env, and its sandbox policy.

    ``writable`` and ``readable`` hold (path, field name) pairs the node names: folders or
    files the child may write (a missing folder is created) or only read and run.
    """
    mode = sandbox_mode()
    protected = protected_paths()
    read_only = [check_named_path(path, name, protected) for path, name in readable]
    named: list[Path] = []
    for path, field_name in writable:
        real = check_named_path(path, field_name, protected)
        if not real.exists():
            try:
                real.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                raise NodeError(
                    f"field {field_name!r}: cannot create {str(path)!r}: {exc.strerror or exc}",
                    field=field_name,
                ) from None
        named.append(real)
    scratch = Path(tempfile.mkdtemp(prefix="glyphic-child-"))
    try:
        overrides = {"TMPDIR": str(scratch), "TEMP": str(scratch), "TMP": str(scratch)}
        env = sandbox.child_env(allowed_env, overrides=overrides)
        if getattr(sys, "frozen", False):  # the bundle's libraries are not the system's
            env.pop("LD_LIBRARY_PATH", None)
            if os.environ.get("LD_LIBRARY_PATH_ORIG"):
                env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH_ORIG"]
        env.update(env_values or {})  # values the workflow itself wrote
        reason = "GLYPHIC_SANDBOX is off" if mode == "off" else unavailable_reason()
        policy = None
        if reason is None:
            read = _read_roots(protected) + [str(p) for p in read_only]
            write = [str(_real(scratch)), *(str(p) for p in named)]
            policy = sandbox.Policy(read=read, write=write, devices=list(_DEVICES))
            home = env.get("HOME")
            if home and not any(_inside(_real(home), Path(p)) for p in (*read, *write)):
                env["HOME"] = str(_real(scratch))  # the real one is out of reach (git, pip…)
        elif mode == "require":
            raise NodeError(f"cannot be sandboxed ({SANDBOX_ENV}=require): {reason}")
        else:
            _say_not_sandboxed(ctx, reason)
        yield ChildSetup(_real(scratch), env, policy, reason, named)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
