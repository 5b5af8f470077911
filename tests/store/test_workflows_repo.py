"""Workflows and versions repositories against a real migrated database."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

import glyphic_desktop.store.repositories.workflows as workflows_module
from glyphic_desktop.document.model import Edge, WorkflowDocument
from glyphic_desktop.errors import ConflictError, GlyphicError, NotFoundError, UsageError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import Execution, User, Workflow, WorkflowVersion
from glyphic_desktop.store.repositories import (
    DuplicateNameError,
    ReadOnlyError,
    VersionRepository,
    WorkflowRepository,
)


def _user(db: Database, email: str) -> uuid.UUID:
    with db.session() as session:
        user = User(email=email, name=email.split("@")[0])
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture
def alice(db: Database) -> uuid.UUID:
    return _user(db, "alice@example.org")


@pytest.fixture
def bob(db: Database) -> uuid.UUID:
    return _user(db, "bob@example.org")


def _doc(*types: str, **extra: Any) -> WorkflowDocument:
    nodes = [
        {
            "id": str(i),
            "type": t,
            "pos": [i * 10.0, 0.0],
            "data": {"label": f"{t} {i}", "nodeType": t, "fields": {}},
            "inputs": [{"name": "input", "type": "any"}],
            "outputs": [{"name": "output", "type": "any"}],
        }
        for i, t in enumerate(types or ("manual_trigger",), start=1)
    ]
    edges = [{"id": i, "source": str(i), "target": str(i + 1)} for i in range(1, len(nodes))]
    return WorkflowDocument.model_validate(
        {"nodes": nodes, "edges": edges, "last_node_id": len(nodes), "last_link_id": len(edges)}
        | extra
    )


def _create(db: Database, user: uuid.UUID, name: str, *types: str, **kwargs: Any):
    with db.session() as session:
        return WorkflowRepository(session, user).create(name, _doc(*types), **kwargs)


# -- create / get / resolve ------------------------------------------------------------


def test_create_stores_version_one_and_its_snapshot(db: Database, alice: uuid.UUID) -> None:
    document = _doc("manual_trigger", "log")
    with db.session() as session:
        record = WorkflowRepository(session, alice).create(
            "Daily report", document, description="sends it", tags=["mail", "daily", "mail"]
        )
    assert record.version == 1 and document.revision == 1
    assert document.id == str(record.id) == record.document.id
    assert record.tags == ("mail", "daily")
    assert record.is_active and not record.is_public and record.owned
    assert record.execution_count == 0 and record.last_executed_at is None
    with db.session() as session:
        versions = VersionRepository(session, alice).list(record.id)
        stored = session.get(Workflow, record.id)
        assert stored.workflow_data["revision"] == 1
    assert [(v.version, v.change_summary, v.created_by) for v in versions] == [
        (1, "created", alice)
    ]
    # Port links were derived from the edges on the way in.
    assert stored.workflow_data["nodes"][0]["outputs"][0]["links"] == [1]
    assert stored.workflow_data["nodes"][1]["inputs"][0]["link"] == 1


def test_get_by_name_and_resolve(db: Database, alice: uuid.UUID) -> None:
    record = _create(db, alice, "Report", "log")
    with db.session() as session:
        repo = WorkflowRepository(session, alice)
        assert repo.get(record.id).name == "Report"
        assert repo.get_by_name("Report").id == record.id
        assert repo.get_by_name("Nope") is None
        assert repo.resolve("Report").id == record.id
        assert repo.resolve(str(record.id)).id == record.id
        assert repo.resolve(record.id).document == record.document
        with pytest.raises(NotFoundError, match="no workflow named 'Nope'"):
            repo.resolve("Nope")
        missing = uuid.uuid4()
        with pytest.raises(NotFoundError, match=r"no workflow named .* \(nor with that id\)"):
            repo.resolve(str(missing))
        with pytest.raises(NotFoundError, match=f"no workflow with id {missing}"):
            repo.get(missing)


def test_duplicate_names_are_refused(db: Database, alice: uuid.UUID) -> None:
    _create(db, alice, "Report")
    other = _create(db, alice, "Other")
    with db.session() as session:
        repo = WorkflowRepository(session, alice)
        with pytest.raises(DuplicateNameError, match="a workflow named 'Report' already exists"):
            repo.create("Report", _doc())
        with pytest.raises(DuplicateNameError):
            repo.rename(other.id, "Report")
        with pytest.raises(UsageError, match="must not be empty"):
            repo.create("   ", _doc())


def test_same_name_for_two_users_is_fine(db: Database, alice, bob) -> None:
    a = _create(db, alice, "Report")
    b = _create(db, bob, "Report")
    assert a.id != b.id


# -- save and conflicts ------------------------------------------------------------------


def test_save_writes_row_and_snapshot_and_bumps_version(db: Database, alice: uuid.UUID) -> None:
    record = _create(db, alice, "Report", "log")
    document = record.document
    document.nodes[0].data.fields["message"] = "v2"
    with db.session() as session:
        saved = WorkflowRepository(session, alice).save(
            record.id, document, base_version=1, change_summary="new message"
        )
    assert saved.version == 2 and document.revision == 2
    assert saved.updated_at >= record.updated_at
    with db.session() as session:
        loaded = WorkflowRepository(session, alice).get(record.id)
        versions = VersionRepository(session, alice)
        assert [v.version for v in versions.list(record.id)] == [2, 1]
        assert versions.get(record.id, 2).change_summary == "new message"
        assert versions.get(record.id, 1).document.nodes[0].data.fields == {}
    assert loaded.version == 2
    assert loaded.document.revision == 2
    assert loaded.document.nodes[0].data.fields == {"message": "v2"}


def test_stale_save_raises_conflict_and_writes_nothing(db: Database, alice: uuid.UUID) -> None:
    record = _create(db, alice, "Report", "log")
    mine = record.document.model_copy(deep=True)
    theirs = record.document.model_copy(deep=True)
    theirs.nodes[0].data.label = "theirs"
    with db.session() as session:
        WorkflowRepository(session, alice).save(record.id, theirs, base_version=1)

    mine.nodes[0].data.label = "mine"
    with pytest.raises(ConflictError) as caught, db.session() as session:
        WorkflowRepository(session, alice).save(record.id, mine, base_version=1)
    assert caught.value.base_version == 1
    assert caught.value.stored_version == 2
    assert "version 1" in caught.value.message and "version 2" in caught.value.message
    assert mine.revision == 1  # the caller's document is untouched

    with db.session() as session:
        loaded = WorkflowRepository(session, alice).get(record.id)
        count = session.scalar(
            select(func.count())
            .select_from(WorkflowVersion)
            .where(WorkflowVersion.workflow_id == record.id)
        )
    assert loaded.version == 2 and loaded.document.nodes[0].data.label == "theirs"
    assert count == 2


def test_save_with_a_base_newer_than_stored_is_a_conflict(db: Database, alice) -> None:
    record = _create(db, alice, "Report")
    with pytest.raises(ConflictError) as caught, db.session() as session:
        WorkflowRepository(session, alice).save(record.id, record.document, base_version=7)
    assert (caught.value.base_version, caught.value.stored_version) == (7, 1)


def test_save_of_unknown_workflow_is_not_found(db: Database, alice) -> None:
    with pytest.raises(NotFoundError), db.session() as session:
        WorkflowRepository(session, alice).save(uuid.uuid4(), _doc(), base_version=1)


# -- unknown keys ------------------------------------------------------------------------


def _document_full_of_extra_keys() -> dict[str, Any]:
    return {
        "id": None,
        "revision": 0,
        "last_node_id": 2,
        "last_link_id": 1,
        "x_top": {"nested": [1, 2, {"deep": True}]},
        "nodes": [
            {
                "id": "1",
                "type": "http_request",
                "pos": [1.5, 2.5],
                "size": [270.0, 145.0],
                "x_node": "kept",
                "data": {
                    "label": "Fetch",
                    "nodeType": "http_request",
                    "fields": {"url": "https://example.org", "x_field": {"a": [None, 1.25]}},
                    "x_data": 42,
                },
                "inputs": [{"name": "input", "type": "any", "link": None, "x_in": "in"}],
                "outputs": [{"name": "output", "type": "object", "links": [1], "x_out": [1]}],
            },
            {
                "id": "2",
                "type": "log",
                "pos": [300.0, 2.5],
                "data": {"label": "Log", "nodeType": "log", "fields": {"message": "é ✓ 日本"}},
                "inputs": [{"name": "input", "type": "any", "link": 1}],
                "outputs": [],
            },
        ],
        "edges": [
            {
                "id": 1,
                "source": "1",
                "sourceHandle": "output",
                "target": "2",
                "targetHandle": "input",
                "type": "object",
                "x_edge": {"color": "#f00"},
            }
        ],
        "groups": [
            {"id": "g1", "title": "Fetching", "bounding": [0, 0, 400, 300], "x_group": [True]}
        ],
        "config": {"x_config": {"retries": 3}},
        "metadata": {"created_by": "someone", "x_meta": "kept"},
    }


def test_unknown_keys_survive_the_database_at_every_level(db: Database, alice) -> None:
    original = _document_full_of_extra_keys()
    document = WorkflowDocument.model_validate(copy.deepcopy(original))
    with db.session() as session:
        record = WorkflowRepository(session, alice).create("Extras", document)
    with db.session() as session:
        loaded = WorkflowRepository(session, alice).get(record.id)

    expected = copy.deepcopy(original) | {"id": str(record.id), "revision": 1}
    assert loaded.document.to_data() == WorkflowDocument.model_validate(expected).to_data()
    data = loaded.document.to_data()
    assert data["x_top"] == original["x_top"]
    assert data["nodes"][0]["x_node"] == "kept"
    assert data["nodes"][0]["data"]["x_data"] == 42
    assert data["nodes"][0]["data"]["fields"]["x_field"] == {"a": [None, 1.25]}
    assert data["nodes"][0]["inputs"][0]["x_in"] == "in"
    assert data["nodes"][0]["outputs"][0]["x_out"] == [1]
    assert data["nodes"][1]["data"]["fields"]["message"] == "é ✓ 日本"
    assert data["edges"][0]["x_edge"] == {"color": "#f00"}
    assert data["groups"][0]["x_group"] == [True]
    assert data["config"] == original["config"]
    assert data["metadata"] == original["metadata"]

    # And through a save and a version snapshot.
    with db.session() as session:
        WorkflowRepository(session, alice).save(record.id, loaded.document, base_version=1)
        snapshot = VersionRepository(session, alice).get(record.id, 2).document
    assert snapshot.to_data() == loaded.document.to_data()


# -- scoping -----------------------------------------------------------------------------


def test_another_user_cannot_see_load_or_change_a_workflow(db: Database, alice, bob) -> None:
    record = _create(db, alice, "Secret", "log")
    with db.session() as session:
        repo = WorkflowRepository(session, bob)
        assert repo.list() == []
        assert repo.get_by_name("Secret") is None
        with pytest.raises(NotFoundError):
            repo.get(record.id)
        with pytest.raises(NotFoundError):
            repo.resolve("Secret")
        with pytest.raises(NotFoundError):
            repo.save(record.id, _doc(), base_version=1)
        with pytest.raises(NotFoundError):
            repo.rename(record.id, "Mine now")
        with pytest.raises(NotFoundError):
            repo.delete(record.id)
        with pytest.raises(NotFoundError):
            repo.set_active(record.id, False)
        with pytest.raises(NotFoundError):
            repo.duplicate(record.id, "Copy")
        versions = VersionRepository(session, bob)
        with pytest.raises(NotFoundError):
            versions.list(record.id)
        with pytest.raises(NotFoundError):
            versions.get(record.id, 1)
        with pytest.raises(NotFoundError):
            versions.restore(record.id, 1, base_version=1)
    with db.session() as session:
        still = WorkflowRepository(session, alice).get(record.id)
    assert still.name == "Secret" and still.version == 1 and still.is_active


def test_public_workflows_are_visible_read_only_when_asked(db: Database, alice, bob) -> None:
    shared = _create(db, alice, "Shared", "gmail", is_public=True)
    with db.session() as session:
        repo = WorkflowRepository(session, bob)
        assert repo.list() == []
        listed = repo.list(include_public=True)
        assert [(s.name, s.owned) for s in listed] == [("Shared", False)]
        assert repo.list(include_public=True, node_type="gmail")[0].id == shared.id
        loaded = repo.get(shared.id, include_public=True)
        assert not loaded.owned and loaded.user_id == alice
        assert repo.resolve("Shared", include_public=True).id == shared.id
        with pytest.raises(ReadOnlyError, match="belongs to another user and is read-only"):
            repo.save(shared.id, loaded.document, base_version=1)
        with pytest.raises(ReadOnlyError):
            repo.rename(shared.id, "Taken")
        with pytest.raises(ReadOnlyError):
            repo.delete(shared.id)
        copied = repo.duplicate(shared.id, "My copy")
    assert copied.owned and copied.user_id == bob and not copied.is_public
    assert copied.version == 1 and copied.document.revision == 1
    assert copied.document.id == str(copied.id)
    assert [n.type for n in copied.document.nodes] == ["gmail"]


# -- list and search ---------------------------------------------------------------------


def test_list_shows_tags_and_the_last_run(db: Database, alice) -> None:
    ran = _create(db, alice, "Ran", "log", tags=["ops"])
    never = _create(db, alice, "Never ran", "log")
    now = datetime.now(UTC)
    with db.session() as session:
        session.add_all(
            [
                Execution(
                    workflow_id=ran.id,
                    user_id=alice,
                    status="completed",
                    started_at=now - timedelta(hours=2),
                    created_at=now - timedelta(hours=2),
                ),
                Execution(
                    workflow_id=ran.id,
                    user_id=alice,
                    status="failed",
                    started_at=now - timedelta(minutes=5),
                    created_at=now - timedelta(minutes=5),
                ),
            ]
        )
    with db.session() as session:
        summaries = {s.name: s for s in WorkflowRepository(session, alice).list()}
    assert summaries["Ran"].tags == ("ops",)
    assert summaries["Ran"].last_status == "failed"
    assert abs(summaries["Ran"].last_run_at - (now - timedelta(minutes=5))) < timedelta(seconds=1)
    assert summaries["Never ran"].last_status is None
    assert summaries["Never ran"].last_run_at is None
    assert summaries["Never ran"].id == never.id


def test_list_is_one_query(db: Database, alice) -> None:
    for i in range(6):
        record = _create(db, alice, f"W{i}", "log")
        with db.session() as session:
            session.add(Execution(workflow_id=record.id, user_id=alice, status="completed"))
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as session:
            listed = WorkflowRepository(session, alice).list()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(listed) == 6 and all(s.last_status == "completed" for s in listed)
    assert len([s for s in statements if "workflows" in s]) == 1


def test_search_by_name_tag_and_node_type(db: Database, alice) -> None:
    _create(db, alice, "Morning mail", "schedule_trigger", "gmail", tags=["mail", "daily"])
    _create(db, alice, "Slack ping", "manual_trigger", "slack", tags=["chat"])
    _create(db, alice, "100% done_", "log", description="Mail digest")
    # A node whose *field* is called type must not match a node-type search.
    with db.session() as session:
        document = _doc("log")
        document.nodes[0].data.fields["type"] = "gmail"
        WorkflowRepository(session, alice).create("Decoy", document)

    with db.session() as session:
        repo = WorkflowRepository(session, alice)

        def names(**kwargs: Any) -> set[str]:
            return {s.name for s in repo.list(**kwargs)}

        assert names(search="MAIL") == {"Morning mail", "100% done_"}
        assert names(search="100%") == {"100% done_"}
        assert names(search="%") == {"100% done_"}
        assert names(search="g_") == set()  # "_" is literal, not a wildcard
        assert names(tag="mail") == {"Morning mail"}
        assert names(tag="chat") == {"Slack ping"}
        assert names(tag="ma") == set()
        assert names(node_type="gmail") == {"Morning mail"}
        assert names(node_type="slack") == {"Slack ping"}
        assert names(node_type="log") == {"100% done_", "Decoy"}
        assert names(node_type="nothing") == set()
        assert names(search="morning", tag="daily", node_type="gmail") == {"Morning mail"}
        assert names(search="morning", tag="chat") == set()


def test_node_type_search_reads_the_node_types_index(db: Database, alice) -> None:
    """The query the repository sends for a node-type search is answered from
    idx_workflows_node_types once the user has many workflows."""
    _create(db, alice, "Morning mail", "schedule_trigger", "gmail")
    with db.session() as session:
        session.execute(
            text(
                "INSERT INTO workflows (user_id, name, workflow_data) SELECT :uid, 'w' || g, "
                "jsonb_build_object('nodes', jsonb_build_array(jsonb_build_object('id', '1', "
                "'type', 'log'))) FROM generate_series(1, 3000) g"
            ),
            {"uid": alice},
        )
        session.execute(text("ANALYZE workflows"))
    sent: list[tuple[str, Any]] = []

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:
        if "jsonb_path_query_array" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        with db.session() as session:
            assert [s.name for s in WorkflowRepository(session, alice).list(node_type="gmail")] == [
                "Morning mail"
            ]
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    ((statement, parameters),) = sent
    with db.session() as session:
        connection = session.connection()
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )
    assert "idx_workflows_node_types" in plan, plan


# -- rename, delete, active, duplicate ------------------------------------------------------


def test_rename_delete_and_set_active(db: Database, alice) -> None:
    record = _create(db, alice, "Old name", "log")
    with db.session() as session:
        repo = WorkflowRepository(session, alice)
        repo.rename(record.id, "  New name ")
        repo.set_active(record.id, False)
        repo.set_tags(record.id, ["a", "b"])
        repo.set_description(record.id, "described")
        loaded = repo.get(record.id)
    assert loaded.name == "New name" and not loaded.is_active
    assert loaded.tags == ("a", "b") and loaded.description == "described"
    assert loaded.version == 1  # metadata changes are not document versions
    with db.session() as session:
        repo = WorkflowRepository(session, alice)
        repo.delete(record.id)
        with pytest.raises(NotFoundError):
            repo.get(record.id)
        with pytest.raises(NotFoundError):
            repo.delete(record.id)
        assert session.scalar(select(func.count()).select_from(WorkflowVersion)) == 0


def test_duplicate_copies_the_document_as_a_new_workflow(db: Database, alice) -> None:
    record = _create(db, alice, "Original", "gmail", "log", tags=["x"], description="d")
    with db.session() as session:
        WorkflowRepository(session, alice).save(record.id, record.document, base_version=1)
        copy_record = WorkflowRepository(session, alice).duplicate(record.id, "Copy")
        with pytest.raises(DuplicateNameError):
            WorkflowRepository(session, alice).duplicate(record.id, "Original")
        versions = VersionRepository(session, alice).list(copy_record.id)
    assert copy_record.id != record.id and copy_record.name == "Copy"
    assert copy_record.version == 1 and copy_record.document.revision == 1
    assert copy_record.document.id == str(copy_record.id)
    assert copy_record.tags == ("x",) and copy_record.description == "d"
    assert [n.type for n in copy_record.document.nodes] == ["gmail", "log"]
    assert [v.change_summary for v in versions] == ["duplicated from 'Original'"]


# -- versions ------------------------------------------------------------------------------


def test_restore_writes_a_new_version_with_the_old_document(db: Database, alice) -> None:
    record = _create(db, alice, "Report", "log")
    document = record.document
    document.nodes[0].data.label = "second"
    with db.session() as session:
        WorkflowRepository(session, alice).save(record.id, document, base_version=1)
    with db.session() as session:
        restored = VersionRepository(session, alice).restore(record.id, 1, base_version=2)
    assert restored.version == 3
    assert restored.document.revision == 3
    assert restored.document.id == str(record.id)
    assert restored.document.nodes[0].data.label == "log 1"
    with db.session() as session:
        versions = VersionRepository(session, alice)
        assert [v.version for v in versions.list(record.id)] == [3, 2, 1]
        assert versions.list(record.id)[0].change_summary == "restored version 1"
        assert versions.get(record.id, 3).document.to_data() == restored.document.to_data()


def test_restore_conflict_and_unknown_version(db: Database, alice) -> None:
    record = _create(db, alice, "Report", "log")
    with db.session() as session:
        WorkflowRepository(session, alice).save(record.id, record.document, base_version=1)
    with pytest.raises(ConflictError) as caught, db.session() as session:
        VersionRepository(session, alice).restore(record.id, 1, base_version=1)
    assert (caught.value.base_version, caught.value.stored_version) == (1, 2)
    with pytest.raises(NotFoundError, match="has no version 9"), db.session() as session:
        VersionRepository(session, alice).restore(record.id, 9, base_version=2)
    with pytest.raises(NotFoundError, match="has no version 9"), db.session() as session:
        VersionRepository(session, alice).get(record.id, 9)
    with db.session() as session:
        assert WorkflowRepository(session, alice).get(record.id).version == 2


def test_a_corrupt_stored_document_is_reported_by_name(db: Database, alice) -> None:
    record = _create(db, alice, "Broken", "log")
    with db.session() as session:
        row = session.get(Workflow, record.id)
        row.workflow_data = {"nodes": [{"id": "1"}]}
    with pytest.raises(GlyphicError) as caught, db.session() as session:
        WorkflowRepository(session, alice).get(record.id)
    assert "stored workflow 'Broken'" in str(caught.value)
    assert "nodes.0.type" in str(caught.value)


def test_a_save_with_stale_port_links_stores_links_derived_from_the_edges(
    db: Database, alice
) -> None:
    """Edges changed without touching the ports: the save notices while the server
    parses, sends the synced document again in the same transaction, one version."""
    record = _create(db, alice, "Relinked", "manual_trigger", "log", "log")
    document = record.document
    document.edges.pop()  # 2 -> 3
    document.edges.append(Edge(id=document.next_link_id(), source="1", target="3"))
    assert document.nodes[2].inputs[0].link == 2  # stale
    with db.session() as session:
        saved = WorkflowRepository(session, alice).save(record.id, document, base_version=1)
    assert saved.version == 2 and document.nodes[2].inputs[0].link == 3
    with db.session() as session:
        stored = session.get(Workflow, record.id).workflow_data
        snapshots = session.scalars(
            select(WorkflowVersion.version).where(WorkflowVersion.workflow_id == record.id)
        ).all()
    assert stored["nodes"][0]["outputs"][0]["links"] == [1, 3]
    assert stored["nodes"][1]["outputs"][0]["links"] == []
    assert stored["nodes"][2]["inputs"][0]["link"] == 3
    assert sorted(snapshots) == [1, 2]


def test_saving_without_pipeline_mode_gives_the_same_result(
    db: Database, alice, monkeypatch
) -> None:
    """A libpq without pipeline mode (before 14): the link check runs after the UPDATE."""
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    record = _create(db, alice, "No pipeline", "manual_trigger", "log")
    document = record.document
    document.edges.clear()  # stale links: the fallback path must still resend
    with db.session() as session:
        saved = WorkflowRepository(session, alice).save(record.id, document, base_version=1)
    with db.session() as session:
        stored = session.get(Workflow, record.id).workflow_data
    assert saved.version == 2 and stored["edges"] == []
    assert stored["nodes"][1]["inputs"][0]["link"] is None


def test_a_connection_lost_during_a_save_is_a_database_error_and_loses_nothing(
    db: Database, alice, monkeypatch
) -> None:
    """The save's UPDATE goes to the driver directly (pipeline mode); a server that
    goes away there still surfaces as SQLAlchemy's DBAPIError, like every other query,
    the stored version is untouched, and the pool hands out a live connection after."""
    record = _create(db, alice, "Lost", "log")
    document = record.document
    document.nodes[0].data.label = "changed"
    admin = create_engine(db.engine.url, poolclass=NullPool)
    with pytest.raises(DBAPIError) as caught, db.session() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # The row lock query would notice first; skip it to reach the pipelined UPDATE.
        monkeypatch.setattr(workflows_module, "lock_for_save", lambda *args: ("Lost", 1))
        WorkflowRepository(session, alice).save(record.id, document, base_version=1)
    assert "UPDATE workflows" in str(caught.value.statement)  # raised by the save itself
    admin.dispose()
    monkeypatch.undo()
    assert document.revision == 1
    with db.session() as session:
        stored = WorkflowRepository(session, alice).get(record.id)
    assert stored.version == 1 and stored.document.nodes[0].data.label != "changed"


def test_a_value_jsonb_cannot_hold_is_one_clear_error(db: Database, alice) -> None:
    record = _create(db, alice, "Nul", "log")
    document = record.document
    document.nodes[0].data.fields["message"] = "a\x00b"
    with pytest.raises(GlyphicError) as caught, db.session() as session:
        WorkflowRepository(session, alice).save(record.id, document, base_version=1)
    assert caught.value.message.startswith("workflow 'Nul' cannot be stored: ")
    assert "\\u0000" in caught.value.message
    assert document.revision == 1
    with pytest.raises(GlyphicError, match="cannot be stored"), db.session() as session:
        WorkflowRepository(session, alice).create("Nul 2", document)
    with db.session() as session:
        assert WorkflowRepository(session, alice).get(record.id).version == 1


def test_a_name_race_is_still_a_duplicate_name_error(db: Database, alice, monkeypatch) -> None:
    """Two processes creating one name at once: the unique index decides, clearly."""
    first = _create(db, alice, "Raced")
    second = _create(db, alice, "Other")
    monkeypatch.setattr(WorkflowRepository, "_ensure_name_free", lambda self, *a, **k: None)
    with pytest.raises(DuplicateNameError), db.session() as session:
        WorkflowRepository(session, alice).create("Raced", _doc())
    with pytest.raises(DuplicateNameError), db.session() as session:
        WorkflowRepository(session, alice).rename(second.id, "Raced")
    with pytest.raises(DuplicateNameError), db.session() as session:
        WorkflowRepository(session, alice).duplicate(first.id, "Raced")


def test_create_keeps_a_files_document_id_when_asked_and_free(db) -> None:
    """A shared file keeps its identity on first import; a taken id gets a fresh one."""
    import uuid as _uuid

    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    file_id = str(_uuid.uuid4())
    with db.session() as session:
        repo = WorkflowRepository(session, current_user_id(db))
        first = repo.create("Shared", WorkflowDocument(id=file_id), keep_document_id=True)
        second = repo.create("Copy", WorkflowDocument(id=file_id), keep_document_id=True)
        plain_id = str(_uuid.uuid4())
        third = repo.create("Plain", WorkflowDocument(id=plain_id))
    assert str(first.id) == file_id
    assert str(second.id) != file_id
    assert first.document.id == file_id
    assert str(third.id) != plain_id
