"""Webhooks that answer (issue 16 item 3): a ``when_finished`` webhook's request waits for
its run, executed by a real queue runner in the same loop (as in the agent), and gets the
Respond to webhook node's status, headers and body, or the last node's output, or 504
with the execution id; a run another agent process claimed is answered from its row."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from glyphic_desktop.agent.queue import QueueRunner
from glyphic_desktop.agent.webhooks import serve_webhooks
from glyphic_desktop.cli.run import store_file
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.paths import resources_dir
from glyphic_desktop.store.repositories.webhooks import WebhookRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = pytest.mark.usefixtures("no_os_keyring")

EXAMPLE = resources_dir() / "examples" / "github-webhook-respond.json"


def document(*steps: tuple[str, dict[str, Any]]) -> WorkflowDocument:
    """A chain: a POST webhook trigger, then ``steps`` (type, fields) one after another."""
    chain = [("webhook", {"path": "x", "method": "POST"}), *steps]
    nodes = [
        {
            "id": f"n{i}",
            "type": kind,
            "pos": [i * 300.0, 0.0],
            "data": {"label": f"{kind} {i}", "nodeType": kind, "fields": fields},
        }
        for i, (kind, fields) in enumerate(chain)
    ]
    edges = [
        {
            "id": i,
            "source": f"n{i - 1}",
            "sourceHandle": "output",
            "target": f"n{i}",
            "targetHandle": "input",
        }
        for i in range(1, len(chain))
    ]
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def add(db, user_id, name: str, doc: WorkflowDocument, **kw: Any) -> str:
    """A workflow and its when-finished webhook with auth none at /webhooks/<name>."""
    kw.setdefault("auth_mode", "none")
    kw.setdefault("response_mode", "when_finished")
    with db.session() as session:
        WorkflowRepository(session, user_id).create(name, doc)
        _record, secret = WebhookRepository(session, user_id).add(name, name, **kw)
    return secret


@asynccontextmanager
async def agent_loop(db, *, runner: bool = True) -> AsyncIterator[aiohttp.ClientSession]:
    """The listener and (unless ``runner`` is False) a queue runner on this loop, the
    listener waking the runner for each queued request, as ``glyphic agent`` does."""
    queue = QueueRunner(
        db, agent="respond-test", poll_interval=0.2, heartbeat_interval=0.5, stop_grace=0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop)) if runner else None
    server = await serve_webhooks(db, "127.0.0.1", 0, on_queued=lambda _e: queue.wake())
    port = server.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await server.cleanup()
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 30)


async def post(client, path: str, payload: Any, headers: dict[str, str] | None = None):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    async with client.post(path, data=body, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


def row(db, execution_id: str) -> Any:
    with db.session() as session:
        return session.execute(
            text("SELECT status, trigger_type FROM executions WHERE id = :id"),
            {"id": uuid.UUID(execution_id)},
        ).one()


def test_the_respond_node_answers_with_its_status_headers_and_json(db, user_id) -> None:
    add(
        db,
        user_id,
        "answer",
        document(
            ("set", {"fields": [{"name": "seen", "value": True}]}),
            (
                "respond_webhook",
                {
                    "status": 201,
                    "headers": {"X-Kind": "answer", "Location": "/orders/{{ input.order }}"},
                    "body": {"order": "{{ input.order }}", "ok": True},
                },
            ),
            ("log", {"message": "after the answer"}),
        ),
    )

    async def scenario():
        async with agent_loop(db) as client:
            return await post(client, "/webhooks/answer", {"order": 42})

    status, headers, body = asyncio.run(scenario())
    assert status == 201, body
    assert headers["X-Kind"] == "answer" and headers["Location"] == "/orders/42"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"order": 42, "ok": True}
    with db.session() as session:
        [(status_, output)] = session.execute(
            text("SELECT status, output_data FROM executions")
        ).all()
    assert status_ == "completed"
    assert output["n2"]["response"]["status"] == 201  # what was sent is recorded


def test_text_and_file_bodies(db, user_id, tmp_path: Path) -> None:
    add(
        db,
        user_id,
        "text",
        document(("respond_webhook", {"respond_with": "text", "body": "hi {{ input.name }}"})),
    )
    target = tmp_path / "report.csv"
    add(
        db,
        user_id,
        "file",
        document(
            ("write_file", {"path": str(target), "content": "a,b\n1,2\n", "format": "text"}),
            ("respond_webhook", {"respond_with": "file", "status": 200}),
        ),
    )

    async def scenario():
        async with agent_loop(db) as client:
            text_answer = await post(client, "/webhooks/text", {"name": "Ada"})
            file_answer = await post(client, "/webhooks/file", {})
            return text_answer, file_answer

    (status, headers, body), (fstatus, fheaders, fbody) = asyncio.run(scenario())
    assert (status, body) == (200, b"hi Ada")
    assert headers["Content-Type"].startswith("text/plain")
    assert (fstatus, fbody) == (200, b"a,b\n1,2\n")
    assert fheaders["Content-Type"].startswith("text/csv")
    assert 'filename="report.csv"' in fheaders["Content-Disposition"]


def test_without_a_respond_node_the_last_output_is_the_answer(db, user_id) -> None:
    add(
        db,
        user_id,
        "last",
        document(
            (
                "set",
                {
                    "fields": [{"name": "total", "value": "{{ input.a + input.b }}"}],
                    "keep_other_fields": False,
                },
            )
        ),
    )
    add(db, user_id, "fails", document(("stop_error", {"message": "no stock"})))
    add(db, user_id, "quick", document(), response_mode="immediately")

    async def scenario():
        async with agent_loop(db) as client:
            return (
                await post(client, "/webhooks/last", {"a": 2, "b": 3}),
                await post(client, "/webhooks/fails", {}),
                await post(client, "/webhooks/quick", {}),
            )

    (status, _, body), (fstatus, _, fbody), (qstatus, _, qbody) = asyncio.run(scenario())
    assert (status, json.loads(body)) == (200, {"total": 5})
    failure = json.loads(fbody)
    assert fstatus == 500 and "no stock" in failure["error"]
    assert row(db, failure["execution_id"]).status == "failed"
    assert qstatus == 202 and set(json.loads(qbody)) == {"execution_id"}  # as before


def test_a_run_slower_than_the_timeout_gets_504_with_its_execution_id(db, user_id) -> None:
    add(db, user_id, "slow", document(("delay", {"seconds": 4})), response_timeout=1)

    async def scenario():
        async with agent_loop(db) as client:
            return await post(client, "/webhooks/slow", {})

    status, headers, body = asyncio.run(scenario())
    answer = json.loads(body)
    assert status == 504 and "1 seconds" in answer["error"]
    assert headers["Content-Type"].startswith("application/json")
    assert row(db, answer["execution_id"]).trigger_type == "webhook"


def _agent_env(database_url: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GLYPHIC_DATABASE_URL": database_url,
        "GLYPHIC_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


def _stop(agent: subprocess.Popen) -> None:
    agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(timeout=60)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()


def test_a_real_agent_answers_with_the_respond_node(
    db, user_id, database_url: str, glyphic_home: Path
) -> None:
    """``glyphic agent --webhook-port``: listener and runner in one process, as shipped."""
    import socket
    import urllib.error
    import urllib.request

    secret = add(
        db,
        user_id,
        "agent",
        document(
            ("respond_webhook", {"status": 200, "body": {"echo": "{{ input.word }}"}}),
        ),
        auth_mode="header",
        auth_header="X-Token",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = glyphic_home / "agent.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "glyphic_desktop.cli.main",
                "agent",
                "--headless",
                "--webhook-port",
                str(port),
            ],
            env=_agent_env(database_url, glyphic_home),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert agent.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)

        def call(token: str) -> tuple[int, bytes]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/agent",
                data=b'{"word": "hi"}',
                method="POST",
                headers={"Content-Type": "application/json", "X-Token": token},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        good = call(secret)
        bad = call("not-the-secret")
    finally:
        _stop(agent)
    assert good == (200, b'{"echo": "hi"}'), log.read_text()[-2000:]
    assert bad[0] == 401 and "X-Token" in json.loads(bad[1])["error"]


def test_a_run_claimed_by_another_agent_is_answered_from_its_row(
    db, user_id, database_url: str, glyphic_home: Path
) -> None:
    """The listener here runs no queue; a real ``glyphic agent`` process runs the run."""
    add(
        db,
        user_id,
        "elsewhere",
        document(("respond_webhook", {"status": 202, "body": {"by": "another agent"}})),
        response_timeout=60,
    )
    env = _agent_env(database_url, glyphic_home)
    log = glyphic_home / "other-agent.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:

        async def scenario():
            async with agent_loop(db, runner=False) as client:
                return await post(client, "/webhooks/elsewhere", {})

        status, _, body = asyncio.run(scenario())
    finally:
        _stop(agent)
    assert (status, json.loads(body)) == (202, {"by": "another agent"}), log.read_text()[-2000:]


def test_the_github_example_answers_a_signed_push(db, user_id) -> None:
    secret = "It's a Secret to Everybody"
    record, _ = store_file(db, user_id, EXAMPLE)
    with db.session() as session:
        WebhookRepository(session, user_id).add(
            record.id,
            "github/push",
            auth_mode="github",
            response_mode="when_finished",
            secret=secret,
        )
    push = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "octo/hello"},
        "commits": [{"id": "a"}, {"id": "b"}],
    }
    body = json.dumps(push).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    async def scenario():
        async with agent_loop(db) as client:
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
            }
            async with client.post("/webhooks/github/push", data=body, headers=headers) as r:
                first = (r.status, dict(r.headers), await r.read())
            async with client.post("/webhooks/github/push", data=body, headers=headers) as r:
                replay = (r.status, await r.json())
            return first, replay

    (status, headers, answer), (rstatus, rbody) = asyncio.run(scenario())
    assert status == 200, answer
    assert headers["X-Handled-By"] == "glyphic"
    assert json.loads(answer) == {
        "received": True,
        "repository": "octo/hello",
        "ref": "refs/heads/main",
        "commits": 2,
    }
    assert rstatus == 401 and "already received" in rbody["error"]
