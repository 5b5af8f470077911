"""Error workflows (issue 16 item 6): a failed run queues the workflow its
``config.errorWorkflow`` names (trigger_type 'error'), a real agent runs it and its Error
trigger outputs the failure; loops stop (a workflow that is its own error workflow runs
once as its error handler; A -> B -> A runs B then A), with a log line saying why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.queue import QueueRunner
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.agent.test_webhooks_agents import Agents, _wait

pytestmark = [pytest.mark.usefixtures("no_os_keyring")]


@pytest.fixture
def agents(database_url: str, glyphic_home: Path) -> Iterator[Agents]:
    group = Agents(database_url, glyphic_home)
    try:
        yield group
    finally:
        group.close()


def failing(db, user_id, name: str, error_workflow: str | None, first: str = "manual"):
    """``first`` (a trigger) -> Stop with error "boom in <name>"."""
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": first, "data": {"label": "start"}},
                {
                    "id": "stop",
                    "type": "stop_error",
                    "data": {"label": "Explode", "fields": {"message": f"boom in {name}"}},
                },
            ],
            "edges": [{"id": "1", "source": "start", "target": "stop"}],
            "config": {"errorWorkflow": error_workflow} if error_workflow else {},
        }
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document).id


def alert(db, user_id):
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "on_error", "type": "error_trigger", "data": {"label": "on error"}},
                {
                    "id": "say",
                    "type": "log",
                    "data": {"label": "say", "fields": {"message": "alerted"}},
                },
            ],
            "edges": [{"id": "1", "source": "on_error", "target": "say"}],
        }
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create("Alert", document).id


def runs(db) -> list:
    with db.session() as session:
        return session.execute(
            text(
                "SELECT e.id, w.name, e.status, e.trigger_type, e.trigger_data, e.output_data "
                "FROM executions e JOIN workflows w ON w.id = e.workflow_id ORDER BY e.created_at"
            )
        ).all()


def messages(db, execution_id) -> list[str]:
    with db.session() as session:
        return list(
            session.execute(
                text("SELECT message FROM execution_logs WHERE execution_id = :id ORDER BY seq"),
                {"id": execution_id},
            ).scalars()
        )


@pytest.mark.slow
def test_a_failing_run_queues_its_error_workflow_and_an_agent_runs_it(db, user_id, agents):
    workflow_id = failing(db, user_id, "Orders", "alert")  # a name, in any case
    alert_id = alert(db, user_id)
    result = run_workflow(db, user_id, workflow_id)  # as `glyphic run` runs it
    assert result.status == "failed"
    queued = [r for r in runs(db) if r.trigger_type == "error"]
    assert [r.id for r in queued] == [result.error_execution]
    assert queued[0].status == "pending"
    error = queued[0].trigger_data["error"]
    assert error["execution"] == {"id": str(result.execution_id)}
    assert error["workflow"] == {"id": str(workflow_id), "name": "Orders"}
    assert error["node"] == {"id": "stop", "label": "Explode"}
    assert "boom in Orders" in error["message"]
    assert error["time"]
    assert queued[0].trigger_data["chain"] == [str(alert_id)]
    assert any("error workflow 'Alert' queued" in m for m in messages(db, result.execution_id))
    agents.start("agent")
    _wait(lambda: [r.status for r in runs(db) if r.trigger_type == "error"] == ["completed"], 60)
    done = next(r for r in runs(db) if r.trigger_type == "error")
    assert done.output_data["on_error"]["output"]["workflow"]["name"] == "Orders"
    assert done.output_data["say"]["output"]["message"].startswith("node 'Explode'")
    with db.session() as session:
        ran = session.execute(
            text("SELECT workflow_id FROM executions WHERE id = :id"), {"id": done.id}
        ).scalar_one()
    assert ran == alert_id


@pytest.mark.slow
def test_an_error_workflow_failing_into_itself_runs_once(db, user_id, agents):
    looping = failing(db, user_id, "Loop", "Loop", first="error_trigger")
    first = run_workflow(db, user_id, looping)
    assert first.status == "failed" and first.error_execution is not None
    agents.start("agent")
    _wait(lambda: all(r.status == "failed" for r in runs(db)) and len(runs(db)) == 2, 60)
    time.sleep(3)  # nothing else is queued
    rows = runs(db)
    assert len(rows) == 2
    assert rows[1].trigger_type == "error" and rows[1].trigger_data["chain"] == [str(looping)]
    assert any("not started: it is already in this chain" in m for m in messages(db, rows[1].id))


def test_a_to_b_to_a_stops_once_each_ran_as_error_workflow(db, user_id):
    a = failing(db, user_id, "A", "B")
    b = failing(db, user_id, "B", "A", first="error_trigger")
    assert run_workflow(db, user_id, a).status == "failed"
    runner = QueueRunner(db, agent="in-process", concurrency=2)
    asyncio.run(runner.run_pending())
    asyncio.run(runner.run_pending())  # the error run the first error run queued
    rows = runs(db)
    assert [(r.name, r.status, r.trigger_type) for r in rows] == [
        ("A", "failed", "manual"),
        ("B", "failed", "error"),
        ("A", "failed", "error"),
    ]
    assert rows[1].trigger_data["chain"] == [str(b)]
    assert rows[2].trigger_data["chain"] == [str(b), str(a)]
    assert rows[2].trigger_data["error"]["workflow"]["name"] == "B"
    assert any("error workflow 'B' not started" in m for m in messages(db, rows[2].id))


def test_no_error_workflow_or_an_unknown_one_queues_nothing(db, user_id):
    plain = failing(db, user_id, "Plain", None)
    assert run_workflow(db, user_id, plain).error_execution is None
    missing = failing(db, user_id, "Missing", "Nowhere")
    result = run_workflow(db, user_id, missing)
    assert result.error_execution is None
    assert len(runs(db)) == 2
    assert any(
        "'Nowhere' not started: no such workflow" in m for m in messages(db, result.execution_id)
    )


def test_a_run_failing_preflight_queues_its_error_workflow_too(db, user_id):
    from glyphic_desktop.engine.preflight import PreflightFailed

    alert(db, user_id)
    broken = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "start"}},
                {"id": "stop", "type": "stop_error", "data": {"fields": {"message": ""}}},
            ],
            "edges": [{"id": "1", "source": "start", "target": "stop"}],
            "config": {"errorWorkflow": "Alert"},
        }
    )
    with db.session() as session:
        broken_id = WorkflowRepository(session, user_id).create("Broken2", broken).id
    with pytest.raises(PreflightFailed):
        run_workflow(db, user_id, broken_id)
    queued = [r for r in runs(db) if r.trigger_type == "error"]
    assert len(queued) == 1
    assert queued[0].trigger_data["error"]["workflow"]["name"] == "Broken2"
    assert queued[0].trigger_data["error"]["node"] == {"id": None, "label": None}


def test_a_resumed_run_failing_queues_it_but_a_partial_run_does_not(db, user_id, monkeypatch):
    from glyphic_desktop.engine.partial import plan_partial_run, run_partial

    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "5")  # partial runs: the wait sleeps
    alert(db, user_id)
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "start"}},
                {"id": "wait", "type": "wait", "data": {"fields": {"seconds": 1}}},
                {
                    "id": "stop",
                    "type": "stop_error",
                    "data": {"label": "Late", "fields": {"message": "late boom"}},
                },
            ],
            "edges": [
                {"id": "1", "source": "start", "target": "wait"},
                {"id": "2", "source": "wait", "target": "stop"},
            ],
            "config": {"errorWorkflow": "Alert"},
        }
    )
    with db.session() as session:
        workflow_id = WorkflowRepository(session, user_id).create("Later", document).id
    partial = run_partial(db, user_id, workflow_id, plan_partial_run(document, "to", "start"))
    assert partial.status == "completed"
    stopped = run_partial(db, user_id, workflow_id, plan_partial_run(document, "only", "stop"))
    assert stopped.status == "failed" and stopped.error_execution is None  # a partial run
    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "0")  # the whole run: stored
    waiting = run_workflow(db, user_id, workflow_id)
    assert waiting.status == "waiting"
    time.sleep(1.2)
    runner = QueueRunner(db, agent="in-process", concurrency=1)
    asyncio.run(runner.run_pending())  # the resumed run fails and queues Alert
    queued = [r for r in runs(db) if r.trigger_type == "error"]
    assert len(queued) == 1
    assert queued[0].trigger_data["error"]["execution"] == {"id": str(waiting.execution_id)}
    assert queued[0].trigger_data["error"]["node"] == {"id": "stop", "label": "Late"}
