"""Waits that survive a restart (issue 16 item 5), with real `glyphic agent` processes.

A Wait longer than the persist threshold (60 s; ``GLYPHIC_WAIT_PERSIST_AFTER`` shortens
it here) is stored as ``waiting`` and releases its agent; after every agent stopped, a
new agent resumes it exactly once when it is due. The signed resume URL on the webhook
listener resumes it (a wrong token: 401), and ``glyphic cancel`` / ``glyphic resume``
work on waiting runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.agent.test_webhooks_agents import Agents, _wait

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_os_keyring")]


@pytest.fixture
def agents(database_url: str, glyphic_home: Path) -> Iterator[Agents]:
    group = Agents(database_url, glyphic_home)
    group.env["GLYPHIC_WAIT_PERSIST_AFTER"] = "1"
    try:
        yield group
    finally:
        group.close()


def waiting_workflow(db, user_id, fields: dict) -> object:
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "start"}},
                {"id": "wait", "type": "wait", "data": {"label": "wait", "fields": fields}},
                {
                    "id": "say",
                    "type": "log",
                    "data": {"label": "say", "fields": {"message": "after"}},
                },
            ],
            "edges": [
                {"id": "1", "source": "start", "target": "wait"},
                {"id": "2", "source": "wait", "target": "say"},
            ],
        }
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create("Waits", document).id


def queue(db, user_id, workflow_id) -> object:
    with db.session() as session:
        return ExecutionRepository(session, user_id).create_pending(
            workflow_id, trigger_type="manual", trigger_data={}, input_data={"order": 42}
        )


def state(db, execution_id):
    with db.session() as session:
        return session.execute(
            text(
                "SELECT status, claimed_by, resume_at, output_data, "
                "(SELECT count(*) FROM execution_logs l WHERE l.execution_id = e.id "
                " AND l.message = 'after') AS afters, "
                "(SELECT string_agg(l.message, '\n') FROM execution_logs l "
                " WHERE l.execution_id = e.id) AS log "
                "FROM executions e WHERE id = :id"
            ),
            {"id": execution_id},
        ).one()


def glyphic(agents: Agents, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", *args],
        env=agents.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_long_wait_is_stored_and_resumed_once_by_a_new_agent_after_all_stopped(
    db, user_id, agents
):
    workflow_id = waiting_workflow(db, user_id, {"mode": "duration", "seconds": 65})
    execution = queue(db, user_id, workflow_id)
    first, _port = agents.start("first")
    _wait(lambda: state(db, execution).status == "waiting", 60)
    stored = state(db, execution)
    assert stored.claimed_by is None and stored.afters == 0
    assert agents.stop(first) == 0  # every agent stopped: the row still waits
    assert state(db, execution).status == "waiting"
    # make it due now (as if 65 s had passed) by `glyphic resume`
    done = glyphic(agents, "resume", str(execution))
    assert done.returncode == 0, done.stderr
    agents.start("second")
    _wait(lambda: state(db, execution).status == "completed", 60)
    finished = state(db, execution)
    assert finished.claimed_by == "second"
    assert finished.afters == 1  # the node after the Wait ran exactly once
    assert finished.output_data["say"]["output"] == {"order": 42}
    time.sleep(2)  # a second agent poll does not run it again
    assert state(db, execution).afters == 1


def test_a_due_wait_resumes_on_its_own_after_a_restart(db, user_id, agents):
    workflow_id = waiting_workflow(db, user_id, {"mode": "duration", "seconds": 4})
    execution = queue(db, user_id, workflow_id)
    first, _port = agents.start("first")
    _wait(lambda: state(db, execution).status == "waiting", 60)
    assert agents.stop(first) == 0
    agents.start("second")
    _wait(lambda: state(db, execution).status == "completed", 60)
    assert state(db, execution).afters == 1


def test_the_signed_resume_url_resumes_and_a_wrong_token_is_401(db, user_id, agents):
    workflow_id = waiting_workflow(db, user_id, {"mode": "resume", "max_seconds": 3600})
    execution = queue(db, user_id, workflow_id)
    _proc, port = agents.start("listener")
    _wait(lambda: state(db, execution).status == "waiting", 60)
    line = next(m for m in state(db, execution).log.splitlines() if "/resume/" in m)
    url = line[line.index("http://") :].split()[0]  # the full URL on this agent's listener
    assert url.startswith(f"http://127.0.0.1:{port}/resume/{execution}?token=")
    path = url.removeprefix(f"http://127.0.0.1:{port}")
    status, body = get(f"http://127.0.0.1:{port}/resume/{execution}?token=wrong")
    assert status == 401 and "token" in body["error"]
    assert state(db, execution).status == "waiting"
    status, body = get(f"http://127.0.0.1:{port}{path}")
    assert status == 200 and body["status"] == "resumed"
    _wait(lambda: state(db, execution).status == "completed", 60)
    assert state(db, execution).afters == 1
    status, _body = get(f"http://127.0.0.1:{port}{path}")
    assert status == 409  # not waiting any more


def test_glyphic_cancel_cancels_a_waiting_run(db, user_id, agents):
    workflow_id = waiting_workflow(db, user_id, {"mode": "resume"})
    execution = queue(db, user_id, workflow_id)
    agents.start("one")
    _wait(lambda: state(db, execution).status == "waiting", 60)
    done = glyphic(agents, "cancel", str(execution))
    assert done.returncode == 0, done.stderr
    assert state(db, execution).status == "cancelled"
    again = glyphic(agents, "cancel", str(execution))
    assert again.returncode == 2 and "not waiting" in again.stderr
    assert glyphic(agents, "cancel", "not-an-id").returncode == 2
    assert state(db, execution).afters == 0
