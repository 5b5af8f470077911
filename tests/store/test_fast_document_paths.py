"""The store's document paths: the bytes sent as a binary ``jsonb`` parameter, the lz4
compression of stored documents, and round trips through a real database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.document.io import read_workflow_file
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import User, Workflow
from glyphic_desktop.store.repositories import VersionRepository, WorkflowRepository
from glyphic_desktop.store.repositories.workflows import (
    document_param,
    dump_document_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "resources" / "examples").glob("*.json"),
        *(ROOT / "tests/document/samples").glob("*.json"),
    ]
)


def _user(db: Database) -> uuid.UUID:
    with db.session() as session:
        user = User(email="paths@example.org", name="paths")
        session.add(user)
        session.flush()
        return user.id


def _extras_everywhere(count: int = 3) -> WorkflowDocument:
    """A document with unknown keys at every level, non-ASCII text, optional keys left
    out, integer ids and port links that disagree with the edges."""
    nodes: list[dict[str, Any]] = [
        {
            "id": i,  # an integer id becomes a string
            "type": "log",
            "pos": [i, 2.5],
            "data": {
                "label": f"Schritt {i} – ünïcödé ✓",
                "fields": {"message": "日本語", "nested": {"a": [1, 2.5, None, True]}},
                "retries": 2 if i == 1 else 0,
                "timeout": 1.5 if i == 2 else None,
                "dataExtra": {"k": i},
            },
            "inputs": [{"name": "input", "link": 99, "portExtra": "in"}],
            "outputs": [{"name": "output", "links": None, "portExtra": ["out"]}],
            "nodeExtra": i,
        }
        for i in range(1, count + 1)
    ]
    nodes.append({"id": "bare", "type": "log"})  # every optional key missing
    edges = [
        {"id": i, "source": str(i), "target": str(i + 1), "edgeExtra": {"w": i}}
        for i in range(1, count)
    ]
    return WorkflowDocument.model_validate(
        {
            "nodes": nodes,
            "edges": edges,
            "groups": [{"title": "G", "groupExtra": 1}, {}],
            "last_node_id": count,
            "last_link_id": count - 1,
            "config": {"x": "ÿ"},
            "metadata": {"author": "Zoë"},
            "topExtra": {"deep": [{"a": 1}]},
        }
    )


def _documents() -> list[WorkflowDocument]:
    return [_extras_everywhere(), *(read_workflow_file(path).document for path in FILES)]


@pytest.mark.parametrize("document", _documents(), ids=["extras", *(p.name for p in FILES)])
def test_dumped_bytes_are_what_pydantic_writes_after_syncing_links(
    document: WorkflowDocument,
) -> None:
    expected = document.model_copy(deep=True)
    expected.sync_port_links()
    data = dump_document_bytes(document)
    assert data == expected.model_dump_json().encode()
    assert json.loads(data) == expected.to_data()
    assert document == expected  # the links were synced on the document itself


def test_dump_leaves_a_document_whose_links_are_in_sync_untouched() -> None:
    document = _extras_everywhere()
    document.sync_port_links()
    port = document.nodes[1].inputs[0]
    port_fields = set(port.model_fields_set)
    before = document.model_copy(deep=True)
    dump_document_bytes(document)
    assert document == before
    assert port.link == 1 and port.model_fields_set == port_fields


def test_the_document_parameter_is_sent_as_jsonb(db: Database) -> None:
    document = _extras_everywhere()
    with db.session() as session:
        row = session.execute(
            text(
                "SELECT pg_typeof(CAST(:data AS jsonb))::text AS kind, "
                "CAST(:data AS jsonb) = CAST(:expected AS jsonb) AS same"
            ),
            {"data": document_param(document), "expected": json.dumps(document.to_data())},
        ).one()
    assert row.kind == "jsonb" and row.same


def test_a_document_full_of_extras_round_trips_through_save_and_load(db: Database) -> None:
    user = _user(db)
    document = _extras_everywhere(5)
    with db.session() as session:
        record = WorkflowRepository(session, user).create("Extras", document)
    document.nodes[0].data.fields["message"] = "geändert"
    with db.session() as session:
        saved = WorkflowRepository(session, user).save(record.id, document, base_version=1)
    with db.session() as session:
        loaded = WorkflowRepository(session, user).get(record.id)
        stored = session.get(Workflow, record.id)
        assert stored is not None
        assert stored.workflow_data == document.to_data()
        snapshot = VersionRepository(session, user).get(record.id, 2).document
    assert saved.version == loaded.version == 2
    assert loaded.document == document == snapshot
    assert loaded.document.to_data() == document.to_data()
    assert loaded.document.nodes[0].inputs[0].link is None  # derived from the edges
    assert loaded.document.nodes[1].inputs[0].link == 1
    assert loaded.document.nodes[0].outputs[0].links == [1]
    assert loaded.document.model_extra == {"topExtra": {"deep": [{"a": 1}]}}
    assert loaded.document.nodes[0].data.model_extra == {"dataExtra": {"k": 1}}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_sample_document_round_trips_through_the_database(db: Database, path: Path) -> None:
    user = _user(db)
    document = read_workflow_file(path).document
    with db.session() as session:
        record = WorkflowRepository(session, user).create(path.stem, document)
    with db.session() as session:
        loaded = WorkflowRepository(session, user).get(record.id)
    assert loaded.document == document
    assert loaded.document.to_data() == document.to_data()


def _server_has_lz4(db: Database) -> bool:
    with db.session() as session:
        return bool(
            session.execute(
                text(
                    "SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                )
            ).scalar()
        )


def test_stored_documents_are_compressed_with_lz4_where_the_server_has_it(db: Database) -> None:
    if not _server_has_lz4(db):
        pytest.skip("this PostgreSQL was built without lz4; documents stay pglz-compressed")
    user = _user(db)
    document = _extras_everywhere(400)  # well over the 2 kB TOAST threshold
    with db.session() as session:
        record = WorkflowRepository(session, user).create("Big", document)
    with db.session() as session:
        columns = session.execute(
            text(
                "SELECT attrelid::regclass::text, attcompression FROM pg_attribute "
                "WHERE attname = 'workflow_data' "
                "AND attrelid IN ('workflows'::regclass, 'workflow_versions'::regclass)"
            )
        ).all()
        stored = session.execute(
            text(
                "SELECT (SELECT pg_column_compression(workflow_data) FROM workflows "
                "WHERE id = :id), (SELECT pg_column_compression(workflow_data) FROM "
                "workflow_versions WHERE workflow_id = :id)"
            ),
            {"id": record.id},
        ).one()
    assert sorted(columns) == [("workflow_versions", "l"), ("workflows", "l")]
    assert tuple(stored) == ("lz4", "lz4")


def test_save_stamps_updated_at_with_the_transaction_time_itself(db: Database) -> None:
    """The save's UPDATE writes what the updated_at trigger would (now()), so the trigger
    has nothing to rewrite."""
    user = _user(db)
    with db.session() as session:
        created = WorkflowRepository(session, user).create("Stamp", _extras_everywhere())
    with db.session() as session:
        now = session.execute(text("SELECT now()")).scalar_one()
        saved = WorkflowRepository(session, user).save(created.id, created.document, base_version=1)
    assert saved.updated_at == now > created.updated_at
    assert saved.created_at == created.created_at
    with db.session() as session:
        stored = session.get(Workflow, created.id)
        assert stored is not None and stored.updated_at == now
