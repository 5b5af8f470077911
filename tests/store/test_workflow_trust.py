"""Workflow trust in the store (0005_workflow_trust.sql): untrusted node ids, trusting some
or all, copies of other users' workflows, the upgrade of a database that holds workflows,
and the preferences that hold the disabled node types."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from glyphic_desktop import paths
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.migrations import upgrade
from glyphic_desktop.store.repositories.preferences import PreferenceRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def _document(*types: str) -> WorkflowDocument:
    return WorkflowDocument.model_validate(
        {"nodes": [{"id": f"n{i}", "type": kind} for i, kind in enumerate(types, start=1)]}
    )


def _other_user(db) -> uuid.UUID:
    with db.session() as session:
        return session.execute(
            text("INSERT INTO users (email, name) VALUES ('other@x', 'other') RETURNING id")
        ).scalar_one()


def test_a_new_workflow_is_trusted_and_marks_add_up(db, user_id):
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        record = repo.create("flow", _document("manual", "code", "run_command"))
        assert record.trusted and record.untrusted_nodes == ()
        repo.mark_untrusted(record.id, ["n3", "n2"], "imported from a.json")
        repo.mark_untrusted(record.id, ["n2"], "pasted in the editor")
        repo.mark_untrusted(record.id, [], "nothing")  # no ids: no change
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        stored = repo.get(record.id)
        assert stored.untrusted_nodes == ("n2", "n3") and not stored.trusted
        assert stored.untrusted_source == "pasted in the editor"
        assert repo.trust_state(record.id) == (("n2", "n3"), "pasted in the editor")


def test_trusting_some_then_all(db, user_id):
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        record = repo.create("flow", _document("manual", "code", "run_command"))
        repo.mark_untrusted(record.id, ["n2", "n3"], "imported from a.json")
        assert repo.mark_trusted(record.id, ["n2"]) == (["n2"], "imported from a.json")
        assert repo.trust_state(record.id) == (("n3",), "imported from a.json")
        assert repo.mark_trusted(record.id) == (["n3"], "imported from a.json")
        assert repo.trust_state(record.id) == ((), None)
        assert repo.mark_trusted(record.id) == ([], None)


def test_trust_is_not_an_edit(db, user_id):
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        record = repo.create("flow", _document("code"))
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        repo.mark_untrusted(record.id, ["n1"], "imported from a.json")
        repo.mark_trusted(record.id)
        stored = repo.get(record.id)
    assert (stored.version, stored.updated_at) == (record.version, record.updated_at)


def test_another_users_workflow_cannot_be_trusted_or_marked(db, user_id):
    other = _other_user(db)
    with db.session() as session:
        theirs = WorkflowRepository(session, other).create("theirs", _document("code"))
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        with pytest.raises(NotFoundError):
            repo.mark_trusted(theirs.id)
        with pytest.raises(NotFoundError):
            repo.mark_untrusted(theirs.id, ["n1"], "x")
        with pytest.raises(NotFoundError):
            repo.trust_state(theirs.id)


def test_a_copy_of_another_users_public_workflow_is_untrusted(db, user_id):
    other = _other_user(db)
    with db.session() as session:
        theirs = WorkflowRepository(session, other).create(
            "theirs", _document("manual", "code"), is_public=True
        )
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        copy = repo.duplicate(theirs.id, "my copy")
        mine = repo.create("mine", _document("code"))
        repo.mark_untrusted(mine.id, ["n1"], "imported from m.json")
        own_copy = repo.duplicate(mine.id, "my own copy")
        copy_of_copy = repo.duplicate(repo.duplicate(mine.id, "x").id, "y")
        repo.mark_trusted(mine.id)
        trusted_again = repo.duplicate(mine.id, "z")
    assert copy.untrusted_nodes == ("n1", "n2")
    assert copy.untrusted_source == "copied from another user's workflow 'theirs'"
    assert own_copy.untrusted_nodes == ("n1",)
    assert own_copy.untrusted_source == "imported from m.json"
    assert copy_of_copy.untrusted_nodes == ("n1",)
    assert trusted_again.trusted


def test_upgrading_a_database_that_holds_workflows_keeps_them_trusted(
    pg_server_url, tmp_path: Path, monkeypatch
):
    copy = tmp_path / "schema"
    shutil.copytree(paths.schema_dir(), copy)
    monkeypatch.setenv("GLYPHIC_SCHEMA_DIR", str(copy))
    held_back = {p.name: p.read_text() for p in copy.glob("*.sql") if p.name >= "0005"}
    for name in held_back:
        (copy / name).unlink()
    name = f"glyphic_trust_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(pg_server_url).set(database=name))
    try:
        upgrade(engine)
        with engine.begin() as conn:
            user = conn.execute(
                text("INSERT INTO users (email, name) VALUES ('a@b.c', 'a') RETURNING id")
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO workflows (user_id, name, workflow_data) VALUES (:u, 'old', "
                    """'{"nodes": [{"id": "1", "type": "code"}]}')"""
                ),
                {"u": user},
            )
        for file_name, body in held_back.items():
            (copy / file_name).write_text(body)
        assert "0005_workflow_trust.sql" in [m.filename for m in upgrade(engine)]
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT untrusted_nodes, untrusted_source FROM workflows")
            ).one()
        assert (row.untrusted_nodes, row.untrusted_source) == ([], None)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_preferences_keys_are_set_and_removed_one_at_a_time(db, user_id):
    with db.session() as session:
        prefs = PreferenceRepository(session, user_id)
        assert prefs.get("disabled_node_types", []) == []
        prefs.set("theme", "dark")
        prefs.set("disabled_node_types", ["code"])
    with db.session() as session:
        prefs = PreferenceRepository(session, user_id)
        assert prefs.get("disabled_node_types") == ["code"]
        prefs.set("disabled_node_types", None)
        assert prefs.get("disabled_node_types") is None
        assert prefs.get("theme") == "dark"
    with db.session() as session, pytest.raises(NotFoundError):
        PreferenceRepository(session, uuid.uuid4()).set("theme", "light")
