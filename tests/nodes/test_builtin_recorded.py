"""The shipped examples and the bad-input cases, run and recorded in the database.

Each example file is stored the way ``glyphic run FILE`` stores it and run through the
engine's recorded runner; network nodes talk to real local servers.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from node_helpers import workflow
from support.servers import AppServer, SmtpServer

from glyphic_desktop.cli.run import store_file
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import RunResult, run_workflow
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.paths import files_dir, resources_dir
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

EXAMPLES = resources_dir() / "examples"
EXPECTED_EXAMPLES = {
    "http-fetch-transform-write.json",
    "branching-if-switch.json",
    "loop-over-items.json",
    "scheduled-report.json",
    "webhook-echo.json",
    "email-report.json",
}


def run_example(db: Any, name: str, **options: Any) -> tuple[RunResult, Any]:
    """Store ``name`` like ``glyphic run FILE`` does, run it recorded, return (result, row)."""
    user_id = current_user_id(db)
    record, _ = store_file(db, user_id, EXAMPLES / name)
    result = run_workflow(db, user_id, record, **options)
    with db.session() as session:
        row = ExecutionRepository(session, user_id).get(result.execution_id)
        logs = ExecutionRepository(session, user_id).logs(result.execution_id)
    return result, (row, logs)


def node_logs(logs: list[Any], node_id: str) -> list[str]:
    return [line.message for line in logs if line.node_id == node_id]


def test_examples_are_valid_documents_laid_out_left_to_right() -> None:
    assert {p.name for p in EXAMPLES.glob("*.json")} >= EXPECTED_EXAMPLES
    registry = default_registry()
    for name in sorted(EXPECTED_EXAMPLES):
        raw = json.loads((EXAMPLES / name).read_text())
        doc = WorkflowDocument.model_validate(raw)
        assert doc.metadata["name"] and doc.metadata["description"], name
        positions = {n.id: n.pos for n in doc.nodes}
        for node in doc.nodes:
            assert registry.get(node.type) is not None, (name, node.type)
            assert node.data.nodeType == node.type and node.data.label, (name, node.id)
        for edge in doc.edges:
            assert positions[edge.source][0] < positions[edge.target][0], (name, edge.id)
        # Port links agree with the edges (the file was written by to_data()).
        assert WorkflowDocument.model_validate(raw).to_data()["nodes"] == raw["nodes"], name


def test_http_fetch_transform_write(db: Any, http_server: AppServer) -> None:
    url = http_server.url("/repos/python/cpython")
    result, (row, _) = run_example(db, "http-fetch-transform-write.json", input={"url": url})
    assert result.status == "completed", result.error
    assert row.status == "completed"
    saved = json.loads((files_dir() / "examples" / "repo-summary.json").read_text())
    assert (
        saved["name"] == "python/cpython" and saved["stars"] == 1234 and saved["open_issues"] == 56
    )
    assert http_server.requests[-1].path == "/repos/python/cpython"


@pytest.mark.parametrize(
    ("order", "ran", "line"),
    [
        (
            {"id": 1, "total": 250, "country": "FR"},
            "node-4",
            "Order 1: ship from the Paris warehouse",
        ),
        (
            {"id": 2, "total": 300, "country": "DE"},
            "node-5",
            "Order 2: ship from the Berlin warehouse",
        ),
        (
            {"id": 3, "total": 120, "country": "JP"},
            "node-6",
            "Order 3: international shipping to JP",
        ),
        ({"id": 4, "total": 20, "country": "FR"}, "node-7", "Order 4: small order, standard post"),
    ],
)
def test_branching_if_switch(db: Any, order: dict, ran: str, line: str) -> None:
    result, (row, logs) = run_example(db, "branching-if-switch.json", input={"order": order})
    assert row.status == "completed", row.error_message
    for node_id in ("node-4", "node-5", "node-6", "node-7"):
        said = [m for m in node_logs(logs, node_id) if m.startswith("Order")]
        assert said == ([line] if node_id == ran else []), node_id
        if node_id != ran:
            assert any(m.startswith("skipped:") for m in node_logs(logs, node_id))
    assert result.nodes_skipped >= 1


def test_loop_over_items_with_its_own_data(db: Any) -> None:
    _, (row, logs) = run_example(db, "loop-over-items.json")
    assert row.status == "completed", row.error_message
    assert "Basket total: 61.0" in node_logs(logs, "node-5")
    assert "3 lines, total 61.0" in node_logs(logs, "node-4")


def test_scheduled_report(db: Any) -> None:
    _, (row, logs) = run_example(
        db,
        "scheduled-report.json",
        trigger="schedule",
        input={"scheduled_at": "2026-01-05T09:00:00+00:00"},
    )
    assert row.status == "completed", row.error_message
    assert row.trigger_type == "schedule"
    report = (files_dir() / "reports" / "daily-report.txt").read_text()
    assert report.startswith("Report for 2026-01-05T09:00:00+00:00\n")
    assert any(m.startswith("Report saved to ") for m in node_logs(logs, "node-4"))


def test_webhook_echo(db: Any) -> None:
    request = {
        "method": "POST",
        "path": "echo",
        "headers": {},
        "query": {"a": "1"},
        "body": {"msg": "hi"},
    }
    result, (row, logs) = run_example(db, "webhook-echo.json", trigger="webhook", input=request)
    assert row.status == "completed", row.error_message
    assert result.result["echo"] == {"msg": "hi"}
    assert result.result["query"] == {"a": "1"}
    assert "echoed {'msg': 'hi'}" in node_logs(logs, "node-3")


def _store_smtp(db: Any, server: SmtpServer) -> None:
    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    with db.session() as session:
        repo = IntegrationRepository(session, current_user_id(db), require_keyset())
        repo.create("smtp", "Local SMTP", server.credential())


def test_email_report_through_a_stored_smtp_credential(db: Any, smtp_server: SmtpServer) -> None:
    _store_smtp(db, smtp_server)
    _, (row, logs) = run_example(db, "email-report.json")
    assert row.status == "completed", row.error_message
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["you@example.com"]
    message = mail.message
    assert message["Subject"] == "Daily report: 3 orders, 159.4 total"
    body = message.get_payload(decode=True).decode()
    assert "#101 Ada: 42.50" in body and "Total: 159.4" in body
    assert "report sent to you@example.com" in node_logs(logs, "node-4")


def test_email_report_with_a_refusing_server_is_recorded_as_failed(db: Any) -> None:
    with SmtpServer(refuse_recipients=True) as server:
        _store_smtp(db, server)
        _, (row, _) = run_example(db, "email-report.json")
    assert row.status == "failed"
    assert row.error_message == (
        f"node 'Send report' (node-3): SMTP server 127.0.0.1:{server.port} refused the "
        "recipients: you@example.com: 550 5.1.1 mailbox unavailable"
    )


def _run_doc(db: Any, name: str, document: WorkflowDocument, **options: Any) -> Any:
    user_id = current_user_id(db)
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(name, document)
    result = run_workflow(db, user_id, record, **options)
    with db.session() as session:
        return result, ExecutionRepository(session, user_id).get(result.execution_id)


def test_bad_inputs_are_recorded_as_failed_with_a_clear_message(db: Any, unused_port: int) -> None:
    manual = {"id": "start", "type": "manual", "label": "Start"}
    spin = workflow(
        [
            manual,
            {
                "id": "spin",
                "type": "code",
                "label": "Spin",
                "fields": {"code": "while True:\n    pass", "timeout": 1},
            },
        ],
        ["start -> spin"],
    )
    _, row = _run_doc(db, "spin", spin)
    assert (row.status, row.error_message) == (
        "failed",
        "node 'Spin' (spin): Code timed out after 1 s; its process was killed",
    )
    hog = workflow(
        [
            manual,
            {
                "id": "hog",
                "type": "code",
                "label": "Hog",
                "fields": {"code": "x = ' ' * (1024 ** 3)", "memory_mb": 128},
            },
        ],
        ["start -> hog"],
    )
    _, row = _run_doc(db, "hog", hog)
    assert row.status == "failed"
    assert (
        row.error_message == "node 'Hog' (hog): Code ran out of memory (limit 128 MB); "
        "raise memory_mb or process less data"
    )
    tool = workflow(
        [
            manual,
            {
                "id": "cmd",
                "type": "run_command",
                "label": "Tool",
                "fields": {"command": ["no-such-glyphic-cmd"]},
            },
        ],
        ["start -> cmd"],
    )
    _, row = _run_doc(db, "tool", tool)
    assert (
        row.error_message == "node 'Tool' (cmd): command not found: 'no-such-glyphic-cmd' "
        "(is it installed and on PATH?)"
    )
    url = f"http://127.0.0.1:{unused_port}/data"
    fetch = workflow(
        [
            manual,
            {
                "id": "fetch",
                "type": "http_request",
                "label": "Fetch",
                "fields": {"url": url, "retries": 0},
            },
        ],
        ["start -> fetch"],
    )
    _, row = _run_doc(db, "fetch", fetch)
    assert row.error_message == f"node 'Fetch' (fetch): GET {url} failed: connection refused"


def test_a_field_of_the_wrong_type_fails_preflight_and_is_recorded(db: Any) -> None:
    from glyphic_desktop.engine.preflight import PreflightFailed

    doc = workflow(
        [
            {"id": "start", "type": "manual"},
            {"id": "wait", "type": "delay", "label": "Wait", "fields": {"seconds": "soon"}},
        ],
        ["start -> wait"],
    )
    with pytest.raises(PreflightFailed) as caught:
        _run_doc(db, "wrong type", doc)
    execution_id = caught.value.execution_id
    with db.session() as session:
        row = ExecutionRepository(session, current_user_id(db)).get(uuid.UUID(str(execution_id)))
    assert row.status == "failed"
    assert "node 'Wait' (wait): field 'seconds'" in row.error_message
    assert Path(EXAMPLES).is_dir()


def test_glyphic_run_runs_an_example_file(database_url: str) -> None:
    """The command a new user types: ``glyphic run resources/examples/loop-over-items.json``."""
    import os
    import subprocess
    import sys

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "glyphic_desktop.cli.main",
            "run",
            str(EXAMPLES / "loop-over-items.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GLYPHIC_DATABASE_URL": database_url},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines[-1]["event"] == "summary" and lines[-1]["status"] == "completed"
    assert any("Basket total: 61.0" in json.dumps(line) for line in lines)
