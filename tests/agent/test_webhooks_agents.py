"""Webhooks across real `glyphic agent --headless --webhook-port` processes: one captured
request, re-spelled every way, runs once across three agents and a restarted one; while the
database is down the listener answers 503 + Retry-After at once, and the retried request is
stored exactly once after the server is back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.webhooks import SIGNATURE_HEADER, sign
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.webhooks import WebhookRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_os_keyring")]

AGENT = [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless"]
HOOK = "/webhooks/orders/new"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


class Agents:
    """Agent processes on one database, each on its own webhook port; all stopped at the end."""

    def __init__(self, database_url: str, home: Path) -> None:
        self.env = {
            **os.environ,
            "GLYPHIC_DATABASE_URL": database_url,
            "GLYPHIC_HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        self.procs: list[subprocess.Popen] = []
        self.logs = Path(tempfile.mkdtemp(prefix="glyphic-agents-"))

    def start(self, name: str) -> tuple[subprocess.Popen, int]:
        port = _free_port()
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [*AGENT, "--name", name, "--webhook-port", str(port)],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while not _listening(port):
            if proc.poll() is not None:
                raise AssertionError(f"agent {name} exited: {self.log(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"agent {name} never listened: {self.log(name)}")
            time.sleep(0.1)
        return proc, port

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    @staticmethod
    def stop(proc: subprocess.Popen) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.logs, ignore_errors=True)


@pytest.fixture
def agents(database_url: str, glyphic_home: Path) -> Iterator[Agents]:
    group = Agents(database_url, glyphic_home)
    try:
        yield group
    finally:
        group.close()


def post(port: int, body: bytes, header: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST to the agent's webhook: (status, JSON body, headers)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{HOOK}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: header},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def _webhook(db: Database, user_id) -> str:
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Flow", WorkflowDocument())
        _record, secret = WebhookRepository(session, user_id).add("Flow", "orders/new")
    return secret


def variants(header: str) -> list[str]:
    """The captured header and every re-spelling from the issue."""
    t, _, digest = header.removeprefix("t=").partition(",v1=")
    return [
        header,
        f"t={t}, v1={digest}",  # a space after the comma
        f"t={t},v1={digest.upper()}",  # upper-case hex
        f"t={t},v1={digest},v1=00",  # an extra v1=00
        f"t={t},v1={'00' * 32},v1={digest}",  # an extra well-formed v1 before it
        f"t=0{t},v1={digest}",  # t=0<t>
        f"t={t},v1={digest},x=1",  # an unknown x=1
        f"v1={digest},t={t}",  # v1 before t
    ]


def _count(db: Database, table: str) -> int:
    with db.session() as session:
        return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _wait(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def test_one_captured_request_runs_once_across_three_agents_and_a_restart(
    db, user_id, agents
) -> None:
    secret = _webhook(db, user_id)
    body = b'{"order": 42}'
    header = sign(secret, body, int(time.time()), "POST", HOOK)
    started = [agents.start(f"agent-{n}") for n in range(3)]
    ports = [port for _proc, port in started]

    # the same captured request reaches all three agents at once
    with ThreadPoolExecutor(3) as pool:
        first = list(pool.map(lambda port: post(port, body, header), ports))
    assert sorted(status for status, _, _ in first) == [202, 401, 401], first
    # then every re-spelling, to every agent
    statuses = [post(port, body, spelling)[0] for port in ports for spelling in variants(header)]
    assert statuses == [401] * len(statuses)
    _wait(lambda: _count(db, "executions WHERE status NOT IN ('pending', 'running')") == 1, 30)

    # a restarted agent (nothing in memory) refuses it too
    proc, _port = started[0]
    assert agents.stop(proc) == 0
    _proc, port = agents.start("agent-0-again")
    again = [post(port, body, spelling) for spelling in variants(header)]
    assert [status for status, _, _ in again] == [401] * len(again)
    assert "already received" in again[0][1]["error"]

    assert _count(db, "executions") == 1
    assert _count(db, "webhook_replays") == 1


@pytest.fixture
def own_server() -> Iterator[Any]:
    """An embedded PostgreSQL of this test's own (it is stopped and started again)."""
    from glyphic_desktop.store.embedded import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="glyphic-webhook-outage-"))
    server = EmbeddedPostgres(root)
    server.ensure_running()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_while_the_database_is_down_503_at_once_then_the_retry_is_stored_once(
    own_server, glyphic_home
) -> None:
    from glyphic_desktop.store.migrations import upgrade
    from glyphic_desktop.store.repositories.users import current_user_id

    url = own_server.url()
    db = Database(url)
    try:
        upgrade(db.engine)
        secret = _webhook(db, current_user_id(db))
    finally:
        db.dispose()
    group = Agents(url, glyphic_home)
    try:
        proc, port = group.start("outage")
        body = b'{"order": 1}'
        warm = sign(secret, body, int(time.time()), "POST", HOOK)
        assert post(port, body, warm)[0] == 202  # the listener has its connections now

        own_server.stop()
        body = b'{"order": 2}'
        header = sign(secret, body, int(time.time()), "POST", HOOK)
        refused = [post(port, body, header) for _ in range(3)]
        for status, answer, headers in refused:
            assert status == 503, (status, answer)
            assert int(headers["Retry-After"]) > 0
            assert answer["error"].startswith("the database is unreachable")

        own_server.ensure_running()
        deadline = time.monotonic() + 30
        while True:  # what a client does with 503 + Retry-After: send the same request again
            status, answer, headers = post(port, body, header)
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(float(headers.get("Retry-After", "1")) / 4)
        assert status == 202, (status, answer, group.log("outage"))
        assert post(port, body, header)[0] == 401  # and once only
        assert proc.poll() is None
    finally:
        group.close()
    db = Database(url)
    try:
        with db.session() as session:
            rows = session.execute(
                text("SELECT id::text, input_data FROM executions ORDER BY created_at")
            ).all()
    finally:
        db.dispose()
    assert [row.input_data for row in rows] == [{"order": 1}, {"order": 2}]
    assert rows[1].id == answer["execution_id"]
