"""Schema migrations: fresh upgrade, idempotence, edited files, failures, concurrent upgrades."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from glyphic_desktop import paths
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.store.migrations import discover, status, upgrade

SEED_TABLES = {
    "users",
    "workflows",
    "workflow_versions",
    "executions",
    "execution_logs",
    "integrations",
    "webhooks",
    "schedules",
    "files",
}


@pytest.fixture
def empty_database(pg_server_url: str) -> Iterator[str]:
    """A brand-new, empty database (no migrations applied)."""
    name = f"glyphic_m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    eng = create_engine(empty_database)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def schema_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped schema dir (named ``schema``), used via GLYPHIC_SCHEMA_DIR."""
    target = tmp_path / "schema"
    shutil.copytree(paths.schema_dir(), target)
    monkeypatch.setenv("GLYPHIC_SCHEMA_DIR", str(target))
    return target


def _recorded(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT version, filename FROM schema_migrations ORDER BY 1"))
        return [(r.version, r.filename) for r in rows]


def test_fresh_upgrade_applies_every_file_in_order(engine: Engine) -> None:
    files = discover()
    assert [m.filename for m in files][:2] == ["0001_core.sql", "0002_product_additions.sql"]
    assert [m.version for m in files] == sorted(m.version for m in files)

    applied = upgrade(engine)

    assert [m.filename for m in applied] == [m.filename for m in files]
    assert _recorded(engine) == [(m.version, m.filename) for m in files]
    tables = set(inspect(engine).get_table_names())
    assert SEED_TABLES | {"schema_migrations"} <= tables
    assert all(s.state == "applied" and s.applied_at is not None for s in status(engine))


def test_status_before_upgrade_lists_everything_pending(engine: Engine) -> None:
    rows = status(engine)
    assert rows and all(r.state == "pending" and r.applied_at is None for r in rows)
    assert [r.filename for r in rows] == [m.filename for m in discover()]


def test_second_upgrade_does_nothing(engine: Engine) -> None:
    upgrade(engine)
    before = _recorded(engine)
    assert upgrade(engine) == []
    assert _recorded(engine) == before


def test_checksums_are_recorded(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT filename, checksum FROM schema_migrations")).all())
    assert stored == {m.filename: m.checksum for m in discover()}


def test_edited_applied_migration_stops_the_upgrade(engine: Engine, schema_copy: Path) -> None:
    upgrade(engine)
    core = schema_copy / "0001_core.sql"
    core.write_text(core.read_text() + "\n-- an edit after the fact\n")
    (schema_copy / "0900_later.sql").write_text("CREATE TABLE later_table (id int);\n")

    with pytest.raises(GlyphicError) as caught:
        upgrade(engine)

    message = caught.value.message
    assert message.startswith("schema/0001_core.sql was changed after it was applied (checksum ")
    assert message.endswith("restore it or add a new migration")
    # Nothing else ran: the new file is still pending.
    assert "later_table" not in inspect(engine).get_table_names()
    states = {s.filename: s.state for s in status(engine)}
    assert states["0001_core.sql"] == "changed"
    assert states["0900_later.sql"] == "pending"


def test_crlf_checkout_is_not_a_change(engine: Engine, schema_copy: Path) -> None:
    upgrade(engine)
    core = schema_copy / "0001_core.sql"
    core.write_bytes(core.read_bytes().replace(b"\n", b"\r\n"))
    assert upgrade(engine) == []


def test_failing_migration_rolls_back_that_file_only(engine: Engine, schema_copy: Path) -> None:
    (schema_copy / "0900_good.sql").write_text("CREATE TABLE good_table (id int);\n")
    (schema_copy / "0901_bad.sql").write_text(
        "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nSELECT 1/0;\n"
    )
    (schema_copy / "0902_after.sql").write_text("CREATE TABLE after_table (id int);\n")

    with pytest.raises(GlyphicError) as caught:
        upgrade(engine)

    message = caught.value.message
    assert message.startswith("schema/0901_bad.sql failed and was rolled back: ")
    assert "division by zero" in message
    tables = set(inspect(engine).get_table_names())
    assert "good_table" in tables
    assert "half_done" not in tables
    assert "after_table" not in tables
    states = {s.filename: s.state for s in status(engine)}
    assert states["0900_good.sql"] == "applied"
    assert states["0901_bad.sql"] == "pending"
    assert states["0902_after.sql"] == "pending"

    # Fixing the file lets the next upgrade carry on from there.
    (schema_copy / "0901_bad.sql").write_text("CREATE TABLE half_done (id int);\n")
    assert [m.filename for m in upgrade(engine)] == ["0901_bad.sql", "0902_after.sql"]


def test_syntax_error_names_the_file_and_line(engine: Engine, schema_copy: Path) -> None:
    (schema_copy / "0900_typo.sql").write_text(
        "-- a comment\nCREATE TABLE typo_ok (id int);\nSELEC 1;\n"
    )
    with pytest.raises(GlyphicError) as caught:
        upgrade(engine)
    message = caught.value.message
    assert message.startswith("schema/0900_typo.sql failed and was rolled back: syntax error")
    assert message.endswith("(line 3)")
    assert "typo_ok" not in inspect(engine).get_table_names()


def test_advisory_lock_is_released_after_a_failure(engine: Engine, schema_copy: Path) -> None:
    (schema_copy / "0900_bad.sql").write_text("SELECT no_such_function();\n")
    with pytest.raises(GlyphicError):
        upgrade(engine)
    (schema_copy / "0900_bad.sql").write_text("SELECT 1;\n")
    assert [m.filename for m in upgrade(engine, lock_timeout=2)] == ["0900_bad.sql"]


def test_badly_named_file_is_reported(engine: Engine, schema_copy: Path) -> None:
    (schema_copy / "extra.sql").write_text("SELECT 1;\n")
    with pytest.raises(GlyphicError, match=r"schema/extra\.sql: migration files must be named"):
        upgrade(engine)


def test_duplicate_version_is_reported(engine: Engine, schema_copy: Path) -> None:
    (schema_copy / "0001_again.sql").write_text("SELECT 1;\n")
    with pytest.raises(GlyphicError, match=r"version 0001 is also used by"):
        upgrade(engine)


def test_missing_schema_dir_is_reported(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_SCHEMA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(GlyphicError, match="does not exist"):
        upgrade(engine)


def test_record_of_a_newer_glyphic_is_listed_as_unknown(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'abc', now())")
        )
    assert upgrade(engine) == []
    assert status(engine)[-1].state == "unknown"


_UPGRADER = textwrap.dedent(
    """
    import json, sys, time
    from sqlalchemy import create_engine
    from glyphic_desktop.store.migrations import upgrade
    start_at = float(sys.argv[2])
    while time.time() < start_at:
        time.sleep(0.005)
    engine = create_engine(sys.argv[1])
    print(json.dumps([m.filename for m in upgrade(engine)]))
    """
)


@pytest.mark.slow
def test_two_processes_upgrading_at_once_apply_each_file_once(
    empty_database: str, schema_copy: Path
) -> None:
    # A slow last file keeps the first process inside the lock while the other waits.
    (schema_copy / "0900_slow.sql").write_text(
        "SELECT pg_sleep(0.5);\nCREATE TABLE slow_marker (id int);\n"
    )
    import time

    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADER, empty_database, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    applied = [name for output in outputs for name in output]
    expected = [m.filename for m in discover()]
    assert sorted(applied) == sorted(expected)  # every file exactly once, in total
    engine = create_engine(empty_database)
    try:
        assert [f for _, f in _recorded(engine)] == expected
    finally:
        engine.dispose()


def test_every_table_with_updated_at_has_its_trigger(db) -> None:
    with db.engine.connect() as conn:
        with_column = set(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.columns "
                    "WHERE column_name = 'updated_at' AND table_schema = 'public'"
                )
            ).scalars()
        )
        triggered = set(
            conn.execute(
                text(
                    "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                    "WHERE action_statement LIKE '%glyphic_set_updated_at%'"
                )
            ).scalars()
        )
    assert with_column == {"users", "workflows", "integrations", "schedules"}
    assert triggered == with_column


def test_updated_at_follows_edits_not_bookkeeping(db) -> None:
    """An edit bumps updated_at; recording a run, a login or a firing does not."""
    with db.engine.begin() as conn:
        user = conn.execute(
            text("INSERT INTO users (email) VALUES ('t@example.org') RETURNING id")
        ).scalar()
        workflow = conn.execute(
            text(
                "INSERT INTO workflows (user_id, name, workflow_data, updated_at) "
                "VALUES (:u, 'w', '{}', now() - interval '1 day') RETURNING id"
            ),
            {"u": user},
        ).scalar()
        schedule = conn.execute(
            text(
                "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, updated_at) "
                "VALUES (:w, :u, 's', '* * * * *', now() - interval '1 day') RETURNING id"
            ),
            {"w": workflow, "u": user},
        ).scalar()
        conn.execute(
            text("UPDATE users SET updated_at = now() - interval '1 day' WHERE id = :u"),
            {"u": user},
        )

    def age(table: str, row_id) -> float:
        with db.engine.connect() as conn:
            return conn.execute(
                text(f"SELECT extract(epoch FROM now() - updated_at) FROM {table} WHERE id = :i"),
                {"i": row_id},
            ).scalar()

    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE workflows SET execution_count = execution_count + 1, "
                "last_executed_at = now() WHERE id = :w"
            ),
            {"w": workflow},
        )
        conn.execute(text("UPDATE users SET last_login_at = now() WHERE id = :u"), {"u": user})
        conn.execute(
            text("UPDATE schedules SET run_count = 1, last_run_at = now() WHERE id = :s"),
            {"s": schedule},
        )
    assert age("workflows", workflow) > 80000
    assert age("users", user) > 80000
    assert age("schedules", schedule) > 80000

    with db.engine.begin() as conn:
        conn.execute(text("UPDATE workflows SET name = 'renamed' WHERE id = :w"), {"w": workflow})
        conn.execute(text("UPDATE users SET name = 'T' WHERE id = :u"), {"u": user})
        conn.execute(
            text("UPDATE schedules SET cron_expression = '0 * * * *' WHERE id = :s"),
            {"s": schedule},
        )
    assert age("workflows", workflow) < 60
    assert age("users", user) < 60
    assert age("schedules", schedule) < 60

    # An explicit updated_at (an import keeping its dates) wins over the trigger.
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE workflows SET name = 'again', updated_at = '2020-01-01T00:00:00Z' "
                "WHERE id = :w"
            ),
            {"w": workflow},
        )
    assert age("workflows", workflow) > 86400 * 365


def test_node_type_index_replaces_the_document_index_on_an_existing_database(
    engine: Engine, schema_copy: Path
) -> None:
    """A database upgraded to 0002 with workflows in it moves to 0003: the whole-document
    GIN index goes, the node-type index comes, and it finds the stored workflows."""
    held_back = schema_copy / "0003_node_type_index.sql"
    later = held_back.read_text()
    held_back.unlink()
    upgrade(engine)
    with engine.begin() as conn:
        user = conn.execute(
            text("INSERT INTO users (email, name) VALUES ('a@b.c', 'a') RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO workflows (user_id, name, workflow_data) VALUES (:u, 'mail', "
                """'{"nodes": [{"id": "1", "type": "gmail"}]}'), (:u, 'other', """
                """'{"nodes": [{"id": "1", "type": "log"}]}')"""
            ),
            {"u": user},
        )
    held_back.write_text(later)
    assert [m.filename for m in upgrade(engine)] == ["0003_node_type_index.sql"]
    indexes = {i["name"] for i in inspect(engine).get_indexes("workflows")}
    assert "idx_workflows_node_types" in indexes
    assert "idx_workflows_workflow_data" not in indexes
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        found = conn.execute(
            text(
                "SELECT name FROM workflows WHERE jsonb_path_query_array(workflow_data, "
                """'$.nodes[*].type') @> '["gmail"]'"""
            )
        ).scalars()
        assert list(found) == ["mail"]
