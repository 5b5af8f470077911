"""Saving a workflow schedules its Schedule trigger nodes (0004): one schedule per node."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import UsageError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.schedules import ScheduleRepository
from glyphic_desktop.store.repositories.versions import VersionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def _document(*schedules: tuple[str, dict[str, Any]], disabled: bool = False) -> WorkflowDocument:
    nodes: list[dict[str, Any]] = [
        {
            "id": node_id,
            "type": "schedule",
            "data": {"label": f"At {node_id}", "fields": fields, "disabled": disabled},
        }
        for node_id, fields in schedules
    ]
    nodes.append({"id": "say", "type": "log", "data": {"fields": {"message": "tick"}}})
    edges = [
        {"id": number, "source": node_id, "target": "say"}
        for number, (node_id, _fields) in enumerate(schedules, start=1)
    ]
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def _rows(db: Database, workflow_id: uuid.UUID) -> dict[str, Any]:
    with db.session() as session:
        rows = session.execute(
            text(
                "SELECT node_id, name, cron_expression, timezone, next_run_at, run_count, "
                "is_active FROM schedules WHERE workflow_id = :id"
            ),
            {"id": workflow_id},
        ).all()
    return {row.node_id: row for row in rows}


def _save(db: Database, user_id: uuid.UUID, record: Any, document: WorkflowDocument) -> Any:
    with db.session() as session:
        return WorkflowRepository(session, user_id).save(
            record.id, document, base_version=record.version
        )


def test_creating_a_workflow_schedules_each_schedule_node(db, user_id) -> None:
    document = _document(
        ("nine", {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}),
        ("hourly", {"cron": "0 * * * *"}),
    )
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Reports", document)
    rows = _rows(db, record.id)
    assert set(rows) == {"nine", "hourly"}
    assert (
        rows["nine"].cron_expression == "0 9 * * 1-5" and rows["nine"].timezone == "Europe/Berlin"
    )
    assert rows["nine"].name == "At nine" and rows["nine"].is_active
    assert rows["hourly"].timezone == "UTC"
    assert rows["hourly"].next_run_at.minute == 0 and rows["hourly"].next_run_at.second == 0


def test_saves_change_only_what_the_nodes_changed(db, user_id) -> None:
    document = _document(("a", {"cron": "0 * * * *"}), ("b", {"cron": "30 * * * *"}))
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Twice", document)
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET run_count = 7 WHERE workflow_id = :id"), {"id": record.id}
        )
    before = _rows(db, record.id)

    document.nodes[0].data.fields["cron"] = "15 * * * *"  # a: new cron
    document.nodes[1].data.label = "Half past"  # b: renamed only
    record = _save(db, user_id, record, document)
    after = _rows(db, record.id)
    assert after["a"].cron_expression == "15 * * * *" and after["a"].next_run_at.minute == 15
    assert after["a"].run_count == 7  # counters survive a change
    assert after["b"].name == "Half past"
    assert after["b"].next_run_at == before["b"].next_run_at

    del document.nodes[0]  # a removed
    document.edges = [edge for edge in document.edges if edge.source != "a"]
    record = _save(db, user_id, record, document)
    assert set(_rows(db, record.id)) == {"b"}


def test_a_disabled_or_invalid_node_is_not_scheduled(db, user_id) -> None:
    with db.session() as session:
        off = WorkflowRepository(session, user_id).create(
            "Off", _document(("x", {"cron": "0 * * * *"}), disabled=True)
        )
        bad = WorkflowRepository(session, user_id).create(
            "Bad", _document(("y", {"cron": "every day"}))
        )
        never = WorkflowRepository(session, user_id).create(
            "Never",
            _document(("z", {"cron": "0 0 30 2 *"})),  # 30 February: saved, not run
        )
    assert _rows(db, off.id) == {} and _rows(db, bad.id) == {} and _rows(db, never.id) == {}


def test_a_paused_node_schedule_stays_paused_when_its_cron_changes(db, user_id) -> None:
    document = _document(("a", {"cron": "0 * * * *"}))
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Paused", document)
    with db.session() as session:
        repo = ScheduleRepository(session, user_id)
        (schedule,) = repo.list(workflow_id=record.id)
        repo.pause(schedule.id)
    document.nodes[0].data.fields["cron"] = "5 * * * *"
    record = _save(db, user_id, record, document)
    row = _rows(db, record.id)["a"]
    assert row.cron_expression == "5 * * * *" and not row.is_active and row.next_run_at is None


def test_schedules_added_by_hand_are_left_alone_and_node_ones_cannot_be_removed(
    db, user_id
) -> None:
    document = _document(("a", {"cron": "0 * * * *"}))
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Mixed", document)
        by_hand = ScheduleRepository(session, user_id).create(record.id, "by hand", "0 0 * * *")
    document.nodes.clear()
    document.edges.clear()
    record = _save(db, user_id, _refresh(db, user_id, record), document)
    with db.session() as session:
        left = ScheduleRepository(session, user_id).list(workflow_id=record.id)
    assert [s.id for s in left] == [by_hand.id]

    document = _document(("n", {"cron": "0 * * * *"}))
    _save(db, user_id, record, document)
    with pytest.raises(UsageError, match="comes from its Schedule node"), db.session() as session:
        repo = ScheduleRepository(session, user_id)
        node_schedule = next(s for s in repo.list(workflow_id=record.id) if s.node_id == "n")
        repo.remove(node_schedule.id)


def _refresh(db: Database, user_id: uuid.UUID, record: Any) -> Any:
    with db.session() as session:
        return WorkflowRepository(session, user_id).get(record.id)


def test_restoring_a_version_restores_its_schedules(db, user_id) -> None:
    document = _document(("a", {"cron": "0 * * * *"}))
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Restored", document)
    document.nodes[0].data.fields["cron"] = "45 * * * *"
    record = _save(db, user_id, record, document)
    with db.session() as session:
        VersionRepository(session, user_id).restore(record.id, 1, base_version=record.version)
    assert _rows(db, record.id)["a"].cron_expression == "0 * * * *"


def test_the_agent_fires_a_saved_schedule_node(db, user_id) -> None:
    """End to end: the node's schedule comes due, the agent fires and runs the workflow,
    and the trigger node outputs the firing."""
    from glyphic_desktop.agent.service import Agent
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    document = _document(("a", {"cron": "* * * * *", "data": {"report": "daily"}}))
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Every minute", document)
        session.execute(
            text(
                "UPDATE schedules SET next_run_at = date_trunc('minute', now()) "
                "WHERE workflow_id = :id"
            ),
            {"id": record.id},
        )
    assert asyncio.run(Agent(db, name="fires", heartbeat_interval=0.2).run_once()) == 1
    with db.session() as session:
        (run,) = ExecutionRepository(session, user_id).list_for_workflow(record.id)
        full = ExecutionRepository(session, user_id).get(run.id)
    assert full.status == "completed" and full.trigger_type == "schedule"
    assert full.output_data["a"]["output"]["data"] == {"report": "daily"}
