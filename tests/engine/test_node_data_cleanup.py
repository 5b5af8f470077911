"""Node rows go with their execution without a foreign key (schema/0010's triggers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from engine.helpers import doc
from engine.partial_helpers import make_registry
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.store.retention import prune_executions


def _run(db, user_id, name):
    document = doc([("src", "p.source"), ("s1", "p.step", {"add": 1})], ["src->s1"])
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(name, document)
    result = run_workflow(db, user_id, record, registry=make_registry(), input=[1, 2])
    assert result.status == "completed"
    return record, result.execution_id


def _rows(db, execution_id):
    with db.session() as session:
        return session.execute(
            text("SELECT count(*) FROM execution_node_data WHERE execution_id = :id"),
            {"id": execution_id},
        ).scalar_one()


def test_node_rows_carry_no_foreign_key_check(db):
    with db.session() as session:
        fks = session.execute(
            text(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid = 'execution_node_data'::regclass"
            )
        ).scalar_one()
    assert fks == 0


def test_deleting_an_execution_deletes_its_node_rows_only(db, user_id):
    _, gone = _run(db, user_id, "cleanup one")
    _, kept = _run(db, user_id, "cleanup two")
    assert _rows(db, gone) == 2 and _rows(db, kept) == 2
    with db.session() as session:
        session.execute(text("DELETE FROM executions WHERE id = :id"), {"id": gone})
    assert _rows(db, gone) == 0
    assert _rows(db, kept) == 2


def test_deleting_a_workflow_or_pruning_runs_deletes_their_node_rows(db, user_id):
    record, first = _run(db, user_id, "cleanup workflow")
    with db.session() as session:
        session.execute(text("DELETE FROM workflows WHERE id = :id"), {"id": record.id})
    assert _rows(db, first) == 0
    _, pruned = _run(db, user_id, "cleanup prune")
    assert _rows(db, pruned) == 2
    prune_executions(db, datetime.now(UTC) + timedelta(minutes=1), user_id=user_id)
    assert _rows(db, pruned) == 0
