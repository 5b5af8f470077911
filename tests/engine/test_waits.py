"""Waits stored as 'waiting' (issue 16 item 5), run in process against a real database:
a long Wait stores the run with its outputs so far and its resume token hash; a queue
runner promotes it when due and it completes from the Wait node's outputs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.queue import QueueRunner
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.engine.waits import cancel_waiting, resume_now, token_hash
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def waiting_workflow(db, user_id, wait_fields: dict, name: str = "waits"):
    nodes = [
        {"id": "start", "type": "manual", "data": {"label": "start"}},
        {"id": "wait", "type": "wait", "data": {"label": "wait", "fields": wait_fields}},
        {"id": "say", "type": "log", "data": {"label": "say", "fields": {"message": "after"}}},
    ]
    edges = [
        {"id": "1", "source": "start", "target": "wait"},
        {"id": "2", "source": "wait", "target": "say"},
    ]
    document = WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document).id


def row(db, execution_id):
    with db.session() as session:
        return session.execute(
            text(
                "SELECT status, resume_at, resume_token_hash, resume_state, claimed_by, "
                "process_id, output_data FROM executions WHERE id = :id"
            ),
            {"id": execution_id},
        ).one()


def logs(db, execution_id) -> list[str]:
    with db.session() as session:
        return [
            r.message
            for r in session.execute(
                text("SELECT message FROM execution_logs WHERE execution_id = :id ORDER BY seq"),
                {"id": execution_id},
            )
        ]


@pytest.fixture(autouse=True)
def short_threshold(monkeypatch):
    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "1")


def test_a_short_wait_sleeps_and_completes(db, user_id):
    workflow_id = waiting_workflow(db, user_id, {"mode": "duration", "seconds": 0.2})
    result = run_workflow(db, user_id, workflow_id, input={"n": 1})
    assert result.status == "completed"
    assert row(db, result.execution_id).status == "completed"


def test_a_long_wait_is_stored_then_resumed_by_a_queue_runner_once(db, user_id):
    workflow_id = waiting_workflow(db, user_id, {"mode": "duration", "seconds": 3})
    result = run_workflow(db, user_id, workflow_id, input={"n": 7})
    assert result.status == "waiting" and result.resume_token
    stored = row(db, result.execution_id)
    assert stored.status == "waiting"
    assert stored.claimed_by is None and stored.process_id is None
    assert bytes(stored.resume_token_hash) == token_hash(result.resume_token)
    assert stored.resume_state["node"] == "wait"
    assert stored.resume_state["outputs"]["wait"] == {"output": {"n": 7}}
    assert stored.resume_state["outputs"]["start"] == {"output": {"n": 7}}
    assert any(f"/resume/{result.execution_id}?token=" in m for m in logs(db, result.execution_id))
    runner = QueueRunner(db, agent="test-agent", concurrency=2)
    assert asyncio.run(runner.run_pending()) == 0  # not due yet: nothing runs
    assert row(db, result.execution_id).status == "waiting"
    with db.session() as session:
        session.execute(
            text("UPDATE executions SET resume_at = now() - interval '1 second' WHERE id = :id"),
            {"id": result.execution_id},
        )
    asyncio.run(runner.run_pending())
    done = row(db, result.execution_id)
    assert done.status == "completed"
    assert done.output_data["say"]["output"] == {"n": 7}
    assert logs(db, result.execution_id).count("after") == 1


def test_resume_token_and_cancel(db, user_id):
    workflow_id = waiting_workflow(db, user_id, {"mode": "resume", "max_seconds": 3600})
    result = run_workflow(db, user_id, workflow_id, input={"n": 1})
    assert result.status == "waiting"
    before = row(db, result.execution_id).resume_at
    assert before > datetime.now(UTC) + timedelta(minutes=59)
    assert resume_now(db, result.execution_id, "wrong") == "bad_token"
    assert resume_now(db, result.execution_id, "") == "bad_token"
    assert resume_now(db, "not-a-uuid'; DROP TABLE executions", "x") == "not_found"
    assert resume_now(db, "00000000-0000-0000-0000-000000000000", "x") == "not_found"
    assert resume_now(db, result.execution_id, result.resume_token) == "resumed"
    assert row(db, result.execution_id).resume_at < before
    assert cancel_waiting(db, result.execution_id)
    assert row(db, result.execution_id).status == "cancelled"
    assert not cancel_waiting(db, result.execution_id)
    assert resume_now(db, result.execution_id, result.resume_token) == "not_waiting"


def test_two_waits_in_a_row_are_stored_twice_and_the_run_completes_once(db, user_id):
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "start"}},
                {"id": "w1", "type": "wait", "data": {"fields": {"seconds": 3}}},
                {"id": "mid", "type": "log", "data": {"fields": {"message": "between"}}},
                {"id": "w2", "type": "wait", "data": {"fields": {"seconds": 3}}},
                {"id": "say", "type": "log", "data": {"fields": {"message": "after"}}},
            ],
            "edges": [
                {"id": "1", "source": "start", "target": "w1"},
                {"id": "2", "source": "w1", "target": "mid"},
                {"id": "3", "source": "mid", "target": "w2"},
                {"id": "4", "source": "w2", "target": "say"},
            ],
        }
    )
    with db.session() as session:
        workflow_id = WorkflowRepository(session, user_id).create("two", document).id
    result = run_workflow(db, user_id, workflow_id, input={"n": 2})
    assert result.status == "waiting"
    runner = QueueRunner(db, agent="test-agent", concurrency=2)

    def due_now() -> None:
        with db.session() as session:
            session.execute(
                text("UPDATE executions SET resume_at = now() - interval '1 s' WHERE id = :id"),
                {"id": result.execution_id},
            )

    due_now()
    asyncio.run(runner.run_pending())
    second = row(db, result.execution_id)
    assert second.status == "waiting" and second.resume_state["node"] == "w2"
    assert set(second.resume_state["outputs"]) >= {"start", "w1", "mid", "w2"}
    due_now()
    asyncio.run(runner.run_pending())
    assert row(db, result.execution_id).status == "completed"
    lines = logs(db, result.execution_id)
    assert lines.count("between") == 1 and lines.count("after") == 1
