"""Runs never stuck: values PostgreSQL cannot store are stored escaped, a record the server
refuses still ends the row ``failed`` with the reason, and a preflight that crashes ends it
``failed`` with exit 2 (issue 10, item 8). Real database, real `glyphic run` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.documents import write_chain_file

from glyphic_desktop.store.repositories.executions import ExecutionRepository

GLYPHIC = [sys.executable, "-m", "glyphic_desktop.cli.main"]
HANG_GUARD = 90

CRASH_PLUGIN = """
from pydantic import BaseModel, model_validator

from glyphic_desktop.nodes.base import NodeType


class CrashFields(BaseModel):
    depth: int = 0

    @model_validator(mode="after")
    def _deep(self):
        raise {error}("{message}")


class CrashingPreflight(NodeType):
    key = "hostile.crash"
    title = "Crashes preflight"
    category = "Data"
    Fields = CrashFields

    async def run(self, ctx):
        return {{"output": None}}


def plugin(registry):
    return (CrashingPreflight,)
"""


def _run(path: Path, *extra: str, env: dict[str, str] | None = None):
    proc = subprocess.run(
        [*GLYPHIC, "run", str(path), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=env or os.environ.copy(),
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def _rows(db) -> list[Any]:
    with db.session() as session:
        return list(
            session.execute(
                text("SELECT id, status, error_message, input_data, output_data FROM executions")
            )
        )


def _record(db, user_id, execution_id: str):
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(uuid.UUID(execution_id))


SET_NUL = {
    "fields": [
        {"name": "v", "value": "{{ input.s }}"},
        {"name": "made", "value": "{{ 'x\\x00y' }}"},
    ]
}


def test_nul_in_input_and_outputs_is_stored_escaped(database_url, db, user_id, tmp_path):
    path = write_chain_file(
        tmp_path / "nul.json",
        ("start", "manual", {}, "Start"),
        ("say", "log", {"message": "got {{ input.s }}"}, "Say"),
        ("set", "set", SET_NUL, "Keep"),
    )
    payload = json.dumps({"s": "a\u0000b", "k\u0000": 1, "lone": "\ud800"})
    code, events, err = _run(path, "--input", payload)
    assert code == 0, err
    summary = events[-1]
    assert summary["status"] == "completed"
    row = _record(db, user_id, summary["execution_id"])
    assert row.status == "completed"
    output = row.output_data["set"]["output"]
    assert output["v"] == "a\\u0000b" and output["made"] == "x\\u0000y"
    assert row.input_data == {"s": "a\\u0000b", "k\\u0000": 1, "lone": "\\ud800"}
    assert [r.status for r in _rows(db)] == ["completed"]


def test_a_record_the_server_refuses_still_ends_the_row_failed(database_url, db, user_id, tmp_path):
    with db.session() as session:
        session.execute(
            text(
                "CREATE FUNCTION refuse_outputs() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.output_data IS NOT NULL THEN "
                "RAISE EXCEPTION 'the server refuses this output'; END IF; RETURN NEW; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_outputs BEFORE UPDATE ON executions "
                "FOR EACH ROW EXECUTE FUNCTION refuse_outputs()"
            )
        )
    path = write_chain_file(
        tmp_path / "refused.json",
        ("start", "manual", {}, "Start"),
        ("set", "set", {"fields": [{"name": "v", "value": 1}]}, "Keep"),
    )
    code, events, err = _run(path)
    assert code == 1, err
    assert "Traceback" not in err
    summary = events[-1]
    assert summary["status"] == "failed"
    assert "could not be stored" in summary["error"]
    assert "the server refuses this output" in summary["error"]
    rows = _rows(db)
    assert len(rows) == 1
    assert rows[0].status == "failed"
    assert "the server refuses this output" in rows[0].error_message
    assert "\n" not in rows[0].error_message


@pytest.mark.parametrize("error", ["RecursionError", "MemoryError", "KeyError"])
def test_a_crashing_preflight_ends_the_row_failed_and_exits_2(database_url, db, tmp_path, error):
    plugin = tmp_path / "plugin"
    dist = plugin / "hostile_crash_nodes-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hostile-crash-nodes\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[glyphic.nodes]\ncrash = hostile_crash_nodes:plugin\n")
    (plugin / "hostile_crash_nodes.py").write_text(
        CRASH_PLUGIN.format(error=error, message="checking the fields went wrong"),
        encoding="utf-8",
    )
    path = write_chain_file(
        tmp_path / "crash.json",
        ("start", "manual", {}, "Start"),
        ("boom", "hostile.crash", {}, "Boom"),
    )
    env = {**os.environ, "PYTHONPATH": str(plugin)}
    code, events, err = _run(path, env=env)
    assert code == 2, err
    assert "Traceback" not in err
    summary = events[-1]
    assert summary["status"] == "failed"
    assert "preflight crashed" in summary["error"] and error in summary["error"]
    rows = _rows(db)
    assert [r.status for r in rows] == ["failed"]
    assert "preflight crashed" in rows[0].error_message
    assert "\n" not in rows[0].error_message.strip().split("preflight crashed", 1)[1]


@pytest.fixture
def own_server():
    """An embedded server of this test alone (it is stopped and started again)."""
    import shutil
    import tempfile

    from glyphic_desktop.store.embedded import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="glyphic-outage-"))
    server = EmbeddedPostgres(root)
    server.ensure_running()
    try:
        yield server
    finally:
        server.discard()
        shutil.rmtree(root, ignore_errors=True)


def test_an_outage_while_finishing_is_waited_out_and_the_row_ends(own_server):
    """The server goes away just as the run is recorded and comes back a moment later."""
    import asyncio
    import threading

    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.engine.finish import finish_surely
    from glyphic_desktop.engine.runner import _finish
    from glyphic_desktop.store.database import Database
    from glyphic_desktop.store.migrations import upgrade
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    db = Database(own_server.url())
    try:
        upgrade(db.engine)
        user_id = current_user_id(db)
        document = WorkflowDocument.model_validate(
            {"nodes": [{"id": "a", "type": "manual", "data": {"fields": {}}}], "edges": []}
        )
        with db.session() as session:
            workflow = WorkflowRepository(session, user_id).create("outage", document)
            repo = ExecutionRepository(session, user_id)
            execution_id = repo.create_pending(workflow.id)
            repo.mark_running(execution_id)
        own_server.stop()
        back = threading.Timer(1.0, own_server.ensure_running)
        back.start()

        async def write(status: str, **kw: Any) -> Any:
            return await asyncio.to_thread(_finish, db, user_id, execution_id, status, **kw)

        done = asyncio.run(
            finish_surely(write, "completed", output_data={"a": {"output": "a\x00b"}})
        )
        back.join()
        assert done.status == "completed" and done.error is None
        with db.session() as session:
            row = ExecutionRepository(session, user_id).get(execution_id)
        assert row.status == "completed"
        assert row.output_data == {"a": {"output": "a\\u0000b"}}  # escaped on the way in
    finally:
        db.dispose()
