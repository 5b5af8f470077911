"""`glyphic db upgrade|status|url|stop|prune`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from glyphic_desktop import paths
from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.migrations import discover
from glyphic_desktop.store.models import Execution, ExecutionLog, File, User
from glyphic_desktop.store.repositories import UserRepository, WorkflowRepository


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def schema_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "schema"
    shutil.copytree(paths.schema_dir(), target)
    monkeypatch.setenv("GLYPHIC_SCHEMA_DIR", str(target))
    return target


def test_db_help_lists_the_subcommands(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["db", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("upgrade", "status", "url", "stop", "prune"):
        assert command in out


def test_db_without_subcommand_prints_help_and_exits_2(capsys) -> None:
    assert main(["db"]) == 2
    assert "upgrade" in capsys.readouterr().out


def test_status_lists_applied_migrations(database_url: str, capsys) -> None:
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("database: postgresql+psycopg://")
    for migration in discover():
        line = next(line for line in out if migration.filename in line)
        assert line.startswith("applied ") and "UTC" in line
    assert out[-1] == f"{len(discover())} applied"


def test_status_and_upgrade_with_a_pending_file(database_url: str, schema_copy: Path, capsys):
    (schema_copy / "0900_extra.sql").write_text("CREATE TABLE extra_table (id int);\n")
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "pending  0900_extra.sql" in out
    assert out.splitlines()[-1] == f"{len(discover()) - 1} applied, 1 pending"

    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == "applied 0900_extra.sql\n"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.startswith("schema is up to date")


def test_status_of_an_edited_migration_fails_naming_it(
    database_url: str, schema_copy: Path, capsys
) -> None:
    core = schema_copy / "0001_core.sql"
    core.write_text(core.read_text() + "-- edited\n")
    assert main(["db", "status"]) == 1
    captured = capsys.readouterr()
    assert "changed  0001_core.sql" in captured.out
    assert "restore it or add a new migration" in captured.err

    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("glyphic: schema/0001_core.sql was changed after it was applied")
    assert len(err.splitlines()) == 1


def test_url_masks_the_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://me:s3cret@db.example:6543/glyphic")
    assert main(["db", "url"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == "postgresql+psycopg://me:***@db.example:6543/glyphic"
    assert "s3cret" not in out


def test_url_of_the_embedded_server_does_not_start_it(glyphic_home: Path, capsys) -> None:
    assert main(["db", "url"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("postgresql+psycopg://")
    assert "not running" in captured.err
    assert str(glyphic_home) in captured.err
    assert not (glyphic_home / "data" / "postgres" / "pgdata").exists()


def test_stop_with_an_external_server_has_nothing_to_stop(monkeypatch, capsys) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://me@127.0.0.1:1/none")
    assert main(["db", "stop"]) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_stop_when_the_embedded_server_is_not_running(capsys) -> None:
    assert main(["db", "stop"]) == 0
    assert capsys.readouterr().out == "embedded PostgreSQL was not running\n"


def test_unreachable_database_is_one_line_naming_host_and_port() -> None:
    result = _run(
        "db", "status", env={"GLYPHIC_DATABASE_URL": "postgresql://u:p@127.0.0.1:1/glyphic"}
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("glyphic: cannot reach PostgreSQL at 127.0.0.1:1")


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("3x", "expected a duration like 30d"),
        ("0d", "must be more than zero"),
        ("d", "expected a duration like 30d"),
    ],
)
def test_prune_bad_duration_exits_2_with_one_line(argument: str, message: str) -> None:
    result = _run("db", "prune", "--older-than", argument)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--older-than" in lines[0]


def test_prune_without_older_than_exits_2() -> None:
    result = _run("db", "prune")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def _seed_runs(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    """2,500 old finished runs, one old running run, one recent run; plus another user's."""
    with db.session() as session:
        me = UserRepository(session).ensure_local_user().id
        other = User(email="other@example.org")
        session.add(other)
        session.flush()
        mine = WorkflowRepository(session, me).create("Mine", WorkflowDocument())
        theirs = WorkflowRepository(session, other.id).create("Theirs", WorkflowDocument())
        old = datetime.now(UTC) - timedelta(days=40)
        session.execute(
            Execution.__table__.insert(),
            [
                {
                    "workflow_id": mine.id,
                    "user_id": me,
                    "status": "completed" if i % 2 else "failed",
                    "created_at": old,
                }
                for i in range(2500)
            ],
        )
        running = Execution(workflow_id=mine.id, user_id=me, status="running", created_at=old)
        recent = Execution(workflow_id=mine.id, user_id=me, status="completed")
        foreign = Execution(
            workflow_id=theirs.id, user_id=other.id, status="completed", created_at=old
        )
        session.add_all([running, recent, foreign])
        session.flush()
        first_old = session.scalar(
            select(Execution.id).where(Execution.status == "failed").limit(1)
        )
        session.add(ExecutionLog(execution_id=first_old, level="info", message="hello"))
        session.add(
            File(user_id=me, execution_id=first_old, filename="out.txt", storage_path="files/x")
        )
    return me, other.id


def test_prune_deletes_old_finished_runs_in_batches(db: Database, capsys) -> None:
    me, _other = _seed_runs(db)
    assert main(["db", "prune", "--older-than", "30d", "--batch-size", "1000"]) == 0
    assert capsys.readouterr().out.startswith("pruned 2500 finished executions created before ")
    with db.session() as session:
        remaining = sorted(
            (row.user_id == me, row.status)
            for row in session.execute(select(Execution.user_id, Execution.status))
        )
        assert remaining == [(False, "completed"), (True, "completed"), (True, "running")]
        assert session.scalar(select(func.count()).select_from(ExecutionLog)) == 0
        kept = session.scalars(select(File)).one()
        assert kept.execution_id is None and kept.filename == "out.txt"

    assert main(["db", "prune", "--older-than", "30d"]) == 0
    assert capsys.readouterr().out.startswith("pruned 0 finished executions")

    assert main(["db", "prune", "--older-than", "30d", "--all-users"]) == 0
    assert capsys.readouterr().out.startswith("pruned 1 finished execution created")
