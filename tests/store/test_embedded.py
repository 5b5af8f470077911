"""The embedded PostgreSQL lifecycle: start, share, crash, stale files, concurrent starts, stop.

Every test uses its own root and stops its server in teardown. Roots live in a temporary
directory outside ``/tmp/pytest-of-<user>``: every new pytest session resets that directory to
0700, which (when several sessions run at once) would lock the server's OS user out of a
cluster in the middle of its start.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from sqlalchemy import create_engine, text

from glyphic_desktop import paths
from glyphic_desktop.errors import DatabaseUnavailable, GlyphicError
from glyphic_desktop.store import embedded
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.embedded import (
    MAX_SOCKET_PATH,
    OWNER_FILE,
    SERVER_OS_USER,
    SOCKET_NAME,
    SYSTEM_DIR,
    EmbeddedPostgres,
    PidFile,
    binaries_dir,
    default_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0


def _postgres_in(pgdata: Path) -> list[psutil.Process]:
    """Every live postgres process whose working directory is ``pgdata``."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if (
                proc.info["name"] == "postgres"
                and proc.status() != psutil.STATUS_ZOMBIE
                and proc.cwd() == str(pgdata)
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.fixture
def base() -> Iterator[Path]:
    """A fresh directory for this test's server roots, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="glyphic-pgtest-"))
    # The test's own dir, open to traversal: the server's user (as root) reaches roots below
    # it, as under a user's data dir. The product never changes such modes itself.
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def template_pgdata() -> Iterator[Path]:
    """A stopped cluster (with its glyphic database) made once, copied by tests that only
    need *a* cluster: initdb is the slow part of a first start."""
    path = Path(tempfile.mkdtemp(prefix="glyphic-pgtest-template-"))
    path.chmod(0o711)  # see base(): the server's user reaches the root below it
    server = EmbeddedPostgres(path / "pg")
    try:
        server.ensure_running()
        server.stop()
        yield server.pgdata
    finally:
        server.stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_server(
    base: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., EmbeddedPostgres]]:
    """Build EmbeddedPostgres instances; stop every one of them afterwards.

    ``cluster=True`` starts from a copy of an existing cluster instead of an empty root.
    """
    servers: list[EmbeddedPostgres] = []

    def make(root: Path | None = None, *, cluster: bool = False) -> EmbeddedPostgres:
        root = root or base / f"pg{len(servers)}"
        if cluster:
            template = request.getfixturevalue("template_pgdata")
            root.mkdir(parents=True)
            subprocess.run(["cp", "-a", str(template), str(root / "pgdata")], check=True)
        server = EmbeddedPostgres(root)
        servers.append(server)
        return server

    yield make
    for server in servers:
        try:
            server.stop()
        finally:
            leftovers = _postgres_in(server.pgdata)
            for proc in leftovers:
                proc.kill()
            if server.root not in server.socket_dir.parents:
                shutil.rmtree(server.socket_dir, ignore_errors=True)
            if server.server_dir != server.root:
                shutil.rmtree(server.server_dir, ignore_errors=True)
        assert not leftovers, f"server processes leaked in {server.pgdata}"


def _query(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    info = PidFile.read(server.pgdata / "postmaster.pid")
    assert info is not None
    return info.pid


def _dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def unrelated_sleep() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that has nothing to do with PostgreSQL."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


# --------------------------------------------------------------------------- basics


def test_first_start_creates_cluster_and_database(make_server) -> None:
    server = make_server()
    assert not server.is_running()
    url = server.ensure_running()
    assert url == f"postgresql+psycopg://postgres@/glyphic?host={server.socket_dir}"
    assert url == server.url()
    assert server.url("postgres").startswith("postgresql+psycopg://postgres@/postgres?host=")
    assert server.is_running()
    assert _query(url, "SELECT current_database()") == "glyphic"
    assert _query(url, "SELECT current_user") == "postgres"
    assert _query(url, "SHOW server_encoding") == "UTF8"
    pid = _postmaster_pid(server)
    assert server.ensure_running() == url  # idempotent
    assert _postmaster_pid(server) == pid
    assert not (server.root / "pgdata.init").exists()


def test_socket_only_no_tcp_and_host_connections_rejected(make_server) -> None:
    server = make_server(cluster=True)
    url = server.ensure_running()
    assert _query(url, "SHOW listen_addresses") == ""
    rules = create_engine(url)
    with rules.connect() as conn:
        hba = conn.execute(text("SELECT type, auth_method FROM pg_hba_file_rules")).all()
    rules.dispose()
    assert ("local", "trust") in hba
    assert all(method == "reject" for kind, method in hba if kind.startswith("host"))
    assert any(kind == "host" for kind, _ in hba)
    postmaster = psutil.Process(_postmaster_pid(server))
    assert postmaster.net_connections(kind="inet") == []
    assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700
    assert server.socket_dir.parent == server.root


@pytest.mark.skipif(not IS_ROOT, reason="the unprivileged-user path only applies to root")
def test_as_root_the_server_runs_as_unprivileged_user(make_server, base: Path) -> None:
    private = base / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    modes_before = {p: stat.S_IMODE(p.stat().st_mode) for p in binaries_dir().parents}
    server = make_server(private / "pg")
    url = server.ensure_running()
    owner = pwd.getpwnam(SERVER_OS_USER)
    assert psutil.Process(_postmaster_pid(server)).username() == SERVER_OS_USER
    for path in (server.pgdata, server.socket_dir, server.log_path):
        assert path.stat().st_uid == owner.pw_uid, path
    assert stat.S_IMODE(server.pgdata.stat().st_mode) == 0o700
    assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700
    # A directory the product did not make keeps its mode: the cluster moved to a
    # product-made dir the server user can reach instead.
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert server.server_dir.parent == SYSTEM_DIR
    assert (server.server_dir / OWNER_FILE).read_text().strip() == str(server.root)
    assert server.pgdata.parent == server.server_dir
    assert stat.S_IMODE(server.server_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(SYSTEM_DIR.stat().st_mode) == 0o710
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in binaries_dir().parents} == modes_before
    # The root client connects through the 0700 socket directory.
    assert _query(url, "SELECT 1") == 1
    # Another process (a new instance) finds the same cluster.
    assert EmbeddedPostgres(private / "pg").pgdata == server.pgdata


@pytest.mark.skipif(not IS_ROOT, reason="the unprivileged-user path only applies to root")
def test_as_root_a_reachable_root_keeps_its_cluster_and_opens_only_to_the_server_group(
    make_server,
) -> None:
    server = make_server()
    server.ensure_running()
    owner = pwd.getpwnam(SERVER_OS_USER)
    assert server.server_dir == server.root
    info = server.root.stat()
    assert stat.S_IMODE(info.st_mode) == 0o710 and info.st_gid == owner.pw_gid


def test_cluster_works_whatever_the_users_locale(make_server, monkeypatch) -> None:
    monkeypatch.setenv("LANG", "xx_YY.UTF-8")
    monkeypatch.setenv("LC_ALL", "xx_YY.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "xx_YY.UTF-8")
    server = make_server()
    url = server.ensure_running()
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_encoding_to_char(encoding), datcollate, datctype "
                "FROM pg_database WHERE datname = 'glyphic'"
            )
        ).one()
    engine.dispose()
    assert tuple(row) == ("UTF8", "C.UTF-8", "C.UTF-8")


def test_long_root_uses_a_short_private_socket_dir(make_server, base: Path) -> None:
    root = base / ("very-long-directory-name-" * 4) / "pg"
    server = make_server(root)
    assert len(str(root / "socket" / SOCKET_NAME)) > MAX_SOCKET_PATH
    assert server.socket_dir.parent == Path("/tmp")
    assert server.socket_dir.name.startswith("glyphic-pg-")
    url = server.ensure_running()
    assert _query(url, "SELECT current_database()") == "glyphic"
    assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700
    assert EmbeddedPostgres(root).socket_dir == server.socket_dir  # stable per root


def test_database_recreated_when_it_went_missing(make_server) -> None:
    server = make_server(cluster=True)
    server.ensure_running()
    with psycopg.connect(
        host=str(server.socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("DROP DATABASE glyphic")
    fresh = EmbeddedPostgres(server.root)
    url = fresh.ensure_running()
    assert _query(url, "SELECT current_database()") == "glyphic"


# ------------------------------------------------------------------ crash and stale


def test_restart_after_kill_9(make_server) -> None:
    server = make_server(cluster=True)
    url = server.ensure_running()
    with psycopg.connect(
        host=str(server.socket_dir), user="postgres", dbname="glyphic", autocommit=True
    ) as conn:
        conn.execute("CREATE TABLE survivor (id int)")
        conn.execute("INSERT INTO survivor VALUES (7)")
    old = psutil.Process(_postmaster_pid(server))
    old.kill()
    deadline = time.monotonic() + 5
    while not _dead(old):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The dead postmaster may linger as a zombie: it must not count as running.
    assert not server.is_running()
    assert server.ensure_running() == url
    assert server.is_running()
    assert _postmaster_pid(server) != old.pid
    assert _query(url, "SELECT id FROM survivor") == 7


SPIN_FOREVER = "DO $$BEGIN LOOP PERFORM 1; END LOOP; END$$"
SPIN_TWO_SECONDS = (
    "DO $$DECLARE t timestamptz := clock_timestamp(); "
    "BEGIN WHILE clock_timestamp() < t + interval '2 seconds' LOOP END LOOP; END$$"
)


@contextlib.contextmanager
def _crash_with_busy_backend(server: EmbeddedPostgres, statement: str) -> Iterator[psutil.Process]:
    """kill -9 the postmaster while a backend runs a CPU-bound statement; yield that backend.

    A CPU-bound statement never notices the postmaster's death, so the orphaned backend keeps
    the old shared memory attached and a new postmaster refuses to start meanwhile.
    """
    busy = psycopg.connect(host=str(server.socket_dir), user="postgres", dbname="glyphic")
    backend = psutil.Process(busy.info.backend_pid)

    def spin() -> None:
        with contextlib.suppress(psycopg.Error):
            busy.execute(statement)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    time.sleep(0.2)
    os.kill(_postmaster_pid(server), signal.SIGKILL)
    time.sleep(0.2)
    assert not _dead(backend)
    try:
        yield backend
    finally:
        with contextlib.suppress(psutil.Error):
            backend.kill()
        spinner.join(5)
        busy.close()


def test_restart_after_crash_ends_a_busy_orphaned_backend(make_server) -> None:
    server = make_server(cluster=True)
    url = server.ensure_running()
    with _crash_with_busy_backend(server, SPIN_FOREVER) as backend:
        assert server.ensure_running() == url
        assert _query(url, "SELECT 1") == 1
        assert _dead(backend)


def test_start_is_retried_while_the_old_shared_memory_is_in_use(
    make_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(cluster=True)
    url = server.ensure_running()
    # Leave the orphan alone: the start must wait (bounded) until it has gone by itself.
    monkeypatch.setattr(EmbeddedPostgres, "_leftover_processes", lambda self: [])
    with _crash_with_busy_backend(server, SPIN_TWO_SECONDS):
        assert server.ensure_running() == url
        assert _query(url, "SELECT 1") == 1
    assert "is still in use" in server.log_path.read_text()


def test_start_gives_up_after_a_bounded_wait_with_one_clear_line(
    make_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(cluster=True)
    server.ensure_running()
    monkeypatch.setattr(EmbeddedPostgres, "_leftover_processes", lambda self: [])
    monkeypatch.setattr(embedded, "START_TIMEOUT", 1.5)
    with (
        _crash_with_busy_backend(server, SPIN_FOREVER),
        pytest.raises(DatabaseUnavailable) as caught,
    ):
        server.ensure_running()
    message = str(caught.value)
    assert message.startswith("embedded PostgreSQL did not start: FATAL: pre-existing shared")
    assert "is still in use" in message
    assert message.endswith(f"(log: {server.log_path})")
    assert "\n" not in message


def _write_pid_file(server: EmbeddedPostgres, pid: int) -> None:
    server.pgdata.joinpath("postmaster.pid").write_text(
        f"{pid}\n{server.pgdata}\n{int(time.time())}\n5432\n{server.socket_dir}\n\n"
        "  1234567         7\nready   \n"
    )


def _leave_socket_file(path: Path) -> None:
    """A socket file nobody listens on, as a killed server leaves behind."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


def test_stale_pid_file_naming_a_reused_pid_is_not_trusted(
    make_server, unrelated_sleep: subprocess.Popen[bytes]
) -> None:
    server = make_server(cluster=True)
    server.ensure_running()
    assert server.stop()
    _write_pid_file(server, unrelated_sleep.pid)
    _leave_socket_file(server.socket_path)
    assert not server.is_running()
    assert not server.stop()  # must not signal the unrelated process
    url = server.ensure_running()
    assert _query(url, "SELECT 1") == 1
    assert _postmaster_pid(server) != unrelated_sleep.pid
    assert server.stop()
    assert unrelated_sleep.poll() is None, "the unrelated process was killed"


@pytest.mark.skipif(not IS_ROOT, reason="needs a process of the server's OS user")
def test_stale_socket_lock_and_lock_files(make_server) -> None:
    server = make_server(cluster=True)
    server.ensure_running()
    assert server.stop()
    # A live process of the server's own user named in the socket lock file would make
    # postgres refuse to start ("lock file already exists") if the file were left there.
    owner = pwd.getpwnam(SERVER_OS_USER)
    sleeper = subprocess.Popen(["sleep", "120"], user=owner.pw_uid, group=owner.pw_gid)
    try:
        _leave_socket_file(server.socket_path)
        (server.socket_dir / f"{SOCKET_NAME}.lock").write_text(
            f"{sleeper.pid}\n{server.pgdata}\n0\n5432\n{server.socket_dir}\n"
        )
        server.lock_path.write_text("stale 12345\n")
        _write_pid_file(server, 2**22 + 17)  # a PID that does not exist
        assert not server.is_running()
        url = server.ensure_running()
        assert _query(url, "SELECT 1") == 1
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


# ----------------------------------------------------------- external stop, sharing


def test_restart_after_stop_by_another_instance_and_by_pg_ctl(make_server) -> None:
    first = make_server(cluster=True)
    url = first.ensure_running()
    other = EmbeddedPostgres(first.root)
    assert other.is_running()
    assert other.stop()
    assert not first.is_running()
    assert not other.stop()
    assert first.ensure_running() == url  # no cached "already running"
    assert _query(url, "SELECT 1") == 1

    owner = first.pgdata.stat().st_uid
    extra = {"user": owner, "group": first.pgdata.stat().st_gid} if IS_ROOT else {}
    subprocess.run(
        [str(binaries_dir() / "pg_ctl"), "stop", "-D", str(first.pgdata), "-m", "fast", "-w"],
        check=True,
        capture_output=True,
        cwd="/",
        **extra,
    )
    assert not first.is_running()
    assert first.ensure_running() == url
    assert _query(url, "SELECT 1") == 1


def test_a_big_server_log_moves_aside_at_the_next_start(make_server, monkeypatch) -> None:
    """postgres.log never grows without bound: over the limit it becomes postgres.log.1
    when the server next starts (not while it runs: it writes there)."""
    server = make_server(cluster=True)
    server.ensure_running()
    monkeypatch.setattr(embedded, "LOG_KEEP_BYTES", 1024)
    with server.log_path.open("ab") as log:
        log.write(b"old line\n" * 400)
    server._rotate_log()
    assert not server.log_path.with_name("postgres.log.1").exists()  # running: left alone
    assert server.stop()
    server.ensure_running()
    rotated = server.log_path.with_name("postgres.log.1")
    assert b"old line" in rotated.read_bytes()
    assert b"old line" not in server.log_path.read_bytes()
    assert server.log_path.stat().st_size < 1024 * 4  # this start's lines only
    assert _query(server.ensure_running(), "SELECT 1") == 1


def test_default_server_is_cached_per_root_but_liveness_is_not(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLYPHIC_HOME", str(base / "home"))
    server = default_server()
    assert server is default_server()
    assert server.root == Path(os.path.realpath(paths.data_dir() / "postgres"))
    try:
        url = server.ensure_running()
        database = Database(url, embedded=True)
        try:
            assert database.engine.connect().execute(text("SELECT 1")).scalar() == 1
            assert EmbeddedPostgres(server.root).stop()
            database.dispose()
            # The next pooled connection starts the server again (do_connect hook).
            with database.engine.connect() as conn:
                assert conn.execute(text("SELECT current_database()")).scalar() == "glyphic"
        finally:
            database.dispose()
    finally:
        server.stop()
        if server.server_dir != server.root:  # as root, under a 0700 data dir
            shutil.rmtree(server.server_dir, ignore_errors=True)


def test_stop_when_never_started(make_server) -> None:
    server = make_server()
    assert not server.stop()
    assert not server.is_running()


_STARTER = """
import json, os, sys, time
from pathlib import Path
from sqlalchemy import create_engine, text
from glyphic_desktop.store.embedded import EmbeddedPostgres
root, go, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.002)
url = EmbeddedPostgres(Path(root)).ensure_running()
engine = create_engine(url)
with engine.connect() as conn:
    sysid = conn.execute(text("SELECT system_identifier FROM pg_control_system()")).scalar()
    db = conn.execute(text("SELECT current_database()")).scalar()
engine.dispose()
print(json.dumps({"url": url, "sysid": str(sysid), "db": db}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 3])
def test_concurrent_first_starts_make_one_cluster(make_server, base: Path, processes: int) -> None:
    server = make_server()
    go = base / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, str(server.root), str(go), str(base / f"ready{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i in range(processes)
    ]
    deadline = time.monotonic() + 30
    while not all((base / f"ready{i}").exists() for i in range(processes)):
        assert time.monotonic() < deadline, "the starter processes did not come up"
        time.sleep(0.005)
    go.touch()  # every interpreter is at the starting line: go at once
    results = []
    for starter in starters:
        out, err = starter.communicate(timeout=60)
        assert starter.returncode == 0, err
        results.append(json.loads(out))
    assert {r["url"] for r in results} == {server.url()}
    assert {r["db"] for r in results} == {"glyphic"}
    assert len({r["sysid"] for r in results}) == 1  # one cluster
    assert not (server.root / "pgdata.init").exists()
    # The server outlives the processes that started it.
    assert all(starter.poll() is not None for starter in starters)
    assert server.is_running()


# ------------------------------------------------------------------------- errors


def test_root_below_a_regular_file_is_a_clear_error(make_server, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    server = make_server(blocker / "pg")
    with pytest.raises(GlyphicError) as caught:
        server.ensure_running()
    message = str(caught.value)
    assert isinstance(caught.value, DatabaseUnavailable)
    assert str(blocker / "pg") in message
    assert "Not a directory" in message
    assert "\n" not in message


def test_root_that_is_a_file_is_a_clear_error(make_server, tmp_path: Path) -> None:
    root = tmp_path / "pgfile"
    root.write_text("x")
    with pytest.raises(DatabaseUnavailable, match="a file of that name exists") as caught:
        make_server(root).ensure_running()
    assert str(root) in str(caught.value)


def test_server_that_never_comes_up_gives_one_line_with_the_log(make_server) -> None:
    server = make_server(cluster=True)
    server.ensure_running()
    assert server.stop()
    with (server.pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nglyphic_nonsense_setting = 1\n")
    with pytest.raises(DatabaseUnavailable) as caught:
        server.ensure_running()
    message = str(caught.value)
    assert message.startswith("embedded PostgreSQL did not start: FATAL:")
    assert "configuration file" in message
    assert f"(log: {server.log_path})" in message
    assert "\n" not in message
    assert not server.is_running()


def test_data_dir_without_cluster_is_refused(make_server) -> None:
    server = make_server()
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "important.txt").write_text("keep me")
    with pytest.raises(DatabaseUnavailable, match="holds no PostgreSQL cluster") as caught:
        server.ensure_running()
    assert str(server.pgdata) in str(caught.value)
    assert (server.pgdata / "important.txt").read_text() == "keep me"
