"""`glyphic doctor`: each check, its exit code (0 fine, 1 a problem), --json, and that it
never starts the embedded server nor fails on an unreachable database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from glyphic_desktop import __version__
from glyphic_desktop.agent.processes import register_process, unregister_process
from glyphic_desktop.cli.doctor import check_qt_platform
from glyphic_desktop.cli.main import main
from glyphic_desktop.secrets.keys import KEY_ENV, encode_key, generate_key
from glyphic_desktop.store.embedded import EmbeddedPostgres

pytestmark = pytest.mark.usefixtures("no_os_keyring")


def _doctor(capsys) -> tuple[int, dict, str]:
    code = main(["doctor", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    return code, {check["name"]: check for check in report["checks"]}, err


def _qt_fine() -> bool:
    return check_qt_platform().status != "problem"


def test_a_healthy_installation_exits_0_and_names_every_version(db, capsys, monkeypatch) -> None:
    if not _qt_fine():
        pytest.skip("the xcb libraries are not installed here")
    code, checks, _ = _doctor(capsys)
    assert code == 0, checks
    assert list(checks) == [
        "versions",
        "paths",
        "database",
        "migrations",
        "key",
        "qt_platform",
        "agents",
    ]
    versions = checks["versions"]["details"]
    assert versions["glyphic"] == __version__ and versions["pyside6"]
    database = checks["database"]
    assert database["status"] == "ok" and database["details"]["kind"] == "external"
    with db.engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar()
    assert database["details"]["server_version"] == server
    password = db.engine.url.password
    if password:
        assert f":{password}@" not in json.dumps(checks)
        assert ":***@" in database["details"]["url"]
    assert checks["migrations"]["status"] == "ok"
    assert checks["key"]["summary"].startswith("no key yet")
    assert checks["agents"]["summary"].startswith("no agent is running")
    assert main(["doctor"]) == 0
    text_out = capsys.readouterr().out
    assert text_out.splitlines()[0].startswith("ok      versions     Glyphic ")


def test_an_unreachable_database_is_reported_not_raised(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://someone:hunter2pw@127.0.0.1:9/x")
    code, checks, err = _doctor(capsys)
    assert code == 1
    assert checks["database"]["status"] == "problem"
    assert "unreachable" in checks["database"]["summary"]
    assert "hunter2pw" not in json.dumps(checks) + err
    assert checks["migrations"]["summary"] == "not checked (no database to ask)"
    assert checks["agents"]["summary"] == "not checked (no database to ask)"
    assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    assert "PROBLEM database" in captured.out and captured.err == "1 problem(s) found\n"


def test_a_stopped_embedded_server_is_a_note_and_is_not_started(glyphic_home, capsys) -> None:
    server = EmbeddedPostgres(glyphic_home / "data" / "postgres")
    code, checks, _ = _doctor(capsys)
    database = checks["database"]
    assert database["status"] == "note" and database["details"]["state"] == "stopped"
    assert "starts on first use" in database["summary"]
    assert not server.is_running()
    assert not (server.pgdata / "PG_VERSION").exists()
    assert code == (0 if _qt_fine() else 1)


def test_a_changed_migration_is_a_problem(db, capsys) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"))
    code, checks, _ = _doctor(capsys)
    assert code == 1
    assert checks["migrations"]["status"] == "problem"
    assert "changed after being applied: 0001_" in checks["migrations"]["summary"]


def test_pending_migrations_are_a_note(db, capsys) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM schema_migrations "
                "WHERE version = (SELECT max(version) FROM schema_migrations)"
            )
        )
    _code, checks, _ = _doctor(capsys)
    assert (
        checks["migrations"]["status"] == "note" and " pending (" in checks["migrations"]["summary"]
    )


def test_the_key_source_is_named(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://x@127.0.0.1:9/x")
    monkeypatch.setenv(KEY_ENV, encode_key(generate_key()))
    _, checks, _ = _doctor(capsys)
    assert checks["key"]["status"] == "ok"
    assert checks["key"]["summary"].startswith(f"from the environment variable {KEY_ENV}")
    monkeypatch.setenv(KEY_ENV, "YWJj")
    code, checks, _ = _doctor(capsys)
    assert code == 1 and checks["key"]["status"] == "problem"
    assert "must be 32 bytes" in checks["key"]["summary"]


def test_live_agents_are_listed(db, capsys) -> None:
    process = register_process(db, "agent", name="night-box")
    try:
        _, checks, _ = _doctor(capsys)
    finally:
        unregister_process(db, process)
    agents = checks["agents"]
    assert agents["status"] == "ok"
    assert agents["summary"] == f"1 alive: night-box (pid {os.getpid()} on {os.uname().nodename})"


def test_a_missing_platform_plugin_is_a_problem(capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://x@127.0.0.1:9/x")
    monkeypatch.setenv("QT_QPA_PLATFORM", "nosuchplatform")
    code, checks, _ = _doctor(capsys)
    assert code == 1
    qt = checks["qt_platform"]
    assert qt["status"] == "problem" and "no such platform plugin" in qt["summary"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a plugin")
def test_a_missing_xcb_library_names_the_apt_get_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    (tmp_path / "dep.c").write_text("int glyphic_dep(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text(
        "int glyphic_dep(void);\nint glyphic_plugin(void) { return glyphic_dep(); }\n"
    )
    libdir = tmp_path / "lib"
    libdir.mkdir()
    gcc = ["gcc", "-shared", "-fPIC", "-o"]
    subprocess.run(
        [
            *gcc,
            str(libdir / "libxcb-doctortest.so.3"),
            str(tmp_path / "dep.c"),
            "-Wl,-soname,libxcb-doctortest.so.3",
        ],
        check=True,
    )
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    subprocess.run(
        [
            *gcc,
            str(platforms / "libqxcb.so"),
            str(tmp_path / "plugin.c"),
            f"-L{libdir}",
            "-l:libxcb-doctortest.so.3",
        ],
        check=True,
    )
    (libdir / "libxcb-doctortest.so.3").unlink()
    check = check_qt_platform(tmp_path / "plugins")
    assert check.status == "problem"
    assert "libxcb-doctortest.so.3" in check.details["missing"]
    assert "sudo apt-get install libxcb-doctortest3" in check.summary
