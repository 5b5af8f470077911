"""The tray agent: its menu over a real agent and database, notifications, Qt's loop."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from sqlalchemy import text

from glyphic_desktop.agent.service import Agent
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.schedules import ScheduleRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.tray import TrayAgent, run_tray_agent


def _workflow(db, user_id, name: str, last: tuple[str, dict[str, Any]]) -> uuid.UUID:
    kind, fields = last
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "Start"}},
                {"id": "last", "type": kind, "data": {"label": "Last", "fields": fields}},
            ],
            "edges": [{"id": 1, "source": "start", "target": "last"}],
        }
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document).id


def _queue(db, user_id, workflow_id) -> uuid.UUID:
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(workflow_id)


def _status(db, user_id, execution_id) -> str:
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(execution_id).status


@pytest.fixture
def tray(qtbot, db, user_id):
    opened: list[bool] = []
    agent = Agent(db, name="tray-test", heartbeat_interval=0.2)
    stop = asyncio.Event()
    tray = TrayAgent(agent, db, user_id, stop=stop, open_editor=lambda: opened.append(True))
    tray.opened = opened
    yield tray
    tray.icon.hide()


def test_the_menu_has_what_the_design_lists(tray) -> None:
    texts = [action.text() for action in tray.menu.actions() if not action.isSeparator()]
    assert texts == [
        "Open editor",
        "Pause schedules",
        "Next runs",
        "Recent failures",
        "Database: connected",  # the outage line (issue 11 item 7)
        "Quit",
    ]
    tray.actions["open"].trigger()
    assert tray.opened == [True]
    tray.actions["quit"].trigger()
    assert tray.stop.is_set()


def test_pausing_stops_schedules_from_firing_until_resumed(tray, db, user_id) -> None:
    workflow_id = _workflow(db, user_id, "Every minute", ("log", {"message": "tick"}))
    with db.session() as session:
        schedule = ScheduleRepository(session, user_id).create(
            workflow_id, name="minutely", cron_expression="* * * * *"
        )
        session.execute(
            text("UPDATE schedules SET next_run_at = date_trunc('minute', now()) WHERE id = :id"),
            {"id": schedule.id},
        )

    def fired() -> int:
        with db.session() as session:
            return session.execute(
                text("SELECT count(*) FROM executions WHERE schedule_id = :id"), {"id": schedule.id}
            ).scalar_one()

    tray.actions["pause"].trigger()
    assert tray.agent.schedules_paused and "paused" in tray.icon.toolTip()
    asyncio.run(tray.agent.tick())
    assert fired() == 0
    tray.actions["pause"].trigger()
    assert not tray.agent.schedules_paused
    asyncio.run(tray.agent.tick())
    assert fired() == 1


def test_next_runs_lists_the_users_active_schedules(tray, db, user_id) -> None:
    workflow_id = _workflow(db, user_id, "Nightly report", ("log", {"message": "report"}))
    with db.session() as session:
        ScheduleRepository(session, user_id).create(
            workflow_id, name="at two", cron_expression="0 2 * * *", timezone="Europe/Berlin"
        )
    tray.next_runs.aboutToShow.emit()
    entries = [action.text() for action in tray.next_runs.actions()]
    assert len(entries) == 1 and "Nightly report — at two" in entries[0]


def test_empty_menus_say_so(tray) -> None:
    tray.next_runs.aboutToShow.emit()
    tray.failures.aboutToShow.emit()
    assert [a.text() for a in tray.next_runs.actions()] == ["No schedules"]
    assert [a.text() for a in tray.failures.actions()] == ["No failed runs"]


def test_a_failed_run_is_notified_and_listed(tray, qtbot, db, user_id) -> None:
    broken = _workflow(db, user_id, "Broken feed", ("stop_error", {"message": "feed is down"}))
    fine = _workflow(db, user_id, "Fine", ("log", {"message": "ok"}))
    _queue(db, user_id, fine)
    failed = _queue(db, user_id, broken)
    with qtbot.waitSignal(tray.notified, timeout=30000) as blocker:
        assert asyncio.run(tray.agent.run_once()) == 2
    title, message = blocker.args
    assert title == "“Broken feed” failed" and "feed is down" in message
    assert _status(db, user_id, failed) == "failed"
    tray.failures.aboutToShow.emit()
    (entry,) = tray.failures.actions()
    assert "Broken feed: " in entry.text() and "feed is down" in entry.text()


def test_the_agent_runs_on_qts_loop_until_quit(qtbot, db, user_id) -> None:
    """run_tray_agent: qasync drives the agent from Qt's loop; Quit ends it cleanly."""
    workflow_id = _workflow(db, user_id, "Queued", ("log", {"message": "from the tray"}))
    queued = _queue(db, user_id, workflow_id)
    agent = Agent(db, name="qt-loop", poll_interval=0.1, heartbeat_interval=0.2)
    trays: list[TrayAgent] = []
    deadline = datetime.now(UTC) + timedelta(seconds=30)

    def quit_when_done() -> None:
        if _status(db, user_id, queued) == "completed" or datetime.now(UTC) > deadline:
            trays[0].actions["quit"].trigger()
        else:
            QTimer.singleShot(100, quit_when_done)

    def ready(tray: TrayAgent) -> None:
        trays.append(tray)
        QTimer.singleShot(100, quit_when_done)

    run_tray_agent(agent, db, user_id, ready=ready)
    asyncio.set_event_loop(None)
    assert _status(db, user_id, queued) == "completed"
    assert trays and trays[0].stop.is_set() and not trays[0].icon.isVisible()
