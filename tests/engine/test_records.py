"""Run records in PostgreSQL: status transitions, outputs (capped), logs (batched), masking."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text

from engine.helpers import Recorder, doc, make_registry
from glyphic_desktop.engine.events import LogLine
from glyphic_desktop.engine.preflight import PreflightFailed
from glyphic_desktop.engine.records import OutputRecorder, cap_value, to_jsonable
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.engine.sinks import DatabaseLogSink
from glyphic_desktop.errors import GlyphicError, NotFoundError
from glyphic_desktop.secrets.masking import SecretMasker
from glyphic_desktop.store.repositories.executions import (
    ExecutionRepository,
    ExecutionStateError,
)
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def _store(db, user_id, document, name="wf"):
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document)


def _execution(db, user_id, execution_id):
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(execution_id)


def _workflow_counters(db, workflow_id):
    with db.session() as session:
        return session.execute(
            text("SELECT execution_count, last_executed_at FROM workflows WHERE id = :id"),
            {"id": workflow_id},
        ).one()


def test_status_transitions_and_workflow_counters(db, user_id):
    record = _store(db, user_id, doc([("s", "t.start")]))
    with db.session() as session:
        repo = ExecutionRepository(session, user_id)
        execution_id = repo.create_pending(record.id, trigger_type="schedule", input_data={"a": 1})
        pending = repo.get(execution_id)
        assert (pending.status, pending.started_at, pending.input_data) == (
            "pending",
            None,
            {"a": 1},
        )
        started = repo.mark_running(execution_id, claimed_by="agent-1")
        with pytest.raises(ExecutionStateError, match="is running, not pending"):
            repo.mark_running(execution_id)
    assert _workflow_counters(db, record.id) == (0, None)
    time.sleep(0.02)
    with db.session() as session:
        repo = ExecutionRepository(session, user_id)
        done = repo.finish(execution_id, "completed", output_data={"s": {"output": 1}})
        assert done.status == "completed" and done.started_at == started
        assert done.duration_ms >= 20 and done.completed_at > started
        assert done.claimed_by == "agent-1" and done.finished
        with pytest.raises(ExecutionStateError, match="already finished"):
            repo.finish(execution_id, "failed")
        with pytest.raises(ValueError):
            repo.finish(execution_id, "running")
    count, last = _workflow_counters(db, record.id)
    assert count == 1 and last == done.completed_at


def test_other_users_cannot_see_or_touch_runs(db, user_id):
    record = _store(db, user_id, doc([("s", "t.start")]))
    stranger = uuid.uuid4()
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(record.id)
        other = ExecutionRepository(session, stranger)
        with pytest.raises(NotFoundError):
            other.get(execution_id)
        with pytest.raises(NotFoundError):
            other.create_pending(record.id)
        with pytest.raises(NotFoundError):
            other.logs(execution_id)
        with pytest.raises(NotFoundError):
            ExecutionRepository(session, user_id).get("not-a-uuid")
        assert other.list_for_workflow(record.id) == []


def test_a_completed_run_is_recorded_with_outputs_and_logs(db, user_id):
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("l", "t.log", {}, {"label": "Say"}),
            ("a", "t.set", {"values": {"x": 1}}),
        ],
        ["s->l", "l->a"],
    )
    record = _store(db, user_id, document)
    recorder = Recorder()
    result = run_workflow(
        db,
        user_id,
        record,
        input={"q": 1},
        trigger_data={"by": "test"},
        listeners=[recorder],
        registry=registry,
    )
    assert result.ok and result.result == {"q": 1, "x": 1}
    row = _execution(db, user_id, result.execution_id)
    assert row.status == "completed"
    assert (row.trigger_type, row.trigger_data, row.input_data) == (
        "manual",
        {"by": "test"},
        {"q": 1},
    )
    assert row.output_data == {
        "s": {"output": {"q": 1}},
        "l": {"output": {"q": 1}},
        "a": {"output": {"q": 1, "x": 1}},
    }
    assert row.error_message is None and row.duration_ms is not None
    assert _workflow_counters(db, record.id)[0] == 1
    with db.session() as session:
        repo = ExecutionRepository(session, user_id)
        logs = repo.logs(result.execution_id)
        history = repo.list_for_workflow(record.id)
        only_l = repo.logs(result.execution_id, node_id="l")
    assert [(x.node_id, x.node_type, x.level, x.message) for x in logs if x.node_id == "l"][:2] == [
        ("l", "t.log", "info", "got {'q': 1}"),
        ("l", "t.log", "warn", "careful"),
    ]
    assert logs[0].message == "run started (manual, 3 nodes)"
    assert logs[-1].message.startswith("run completed in")
    assert [x.seq for x in logs] == sorted(x.seq for x in logs)
    assert logs[1].data is None and only_l[0].data == {"value": {"q": 1}}
    assert len(only_l) == 3 and result.log_rows == len(logs)
    assert [h.id for h in history] == [result.execution_id]
    assert recorder.kinds()[-1] == "run_finished"


def test_a_failed_run_records_the_error_and_stack(db, user_id):
    registry = make_registry()
    record = _store(
        db, user_id, doc([("s", "t.start"), ("c", "t.crash", {}, {"label": "Div"})], ["s->c"])
    )
    result = run_workflow(db, user_id, record.id, registry=registry)
    assert result.status == "failed" and not result.ok
    row = _execution(db, user_id, result.execution_id)
    assert row.status == "failed"
    assert row.error_message == "node 'Div' (c): ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in row.error_stack
    assert _workflow_counters(db, record.id)[0] == 1
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(result.execution_id)
    assert ("c", "error", "failed: ZeroDivisionError: division by zero") in [
        (x.node_id, x.level, x.message) for x in logs
    ]


def test_a_failed_preflight_is_recorded_and_never_starts(db, user_id):
    registry = make_registry()
    record = _store(
        db, user_id, doc([("u", "t.unknown"), ("e", "t.echo", {"value": "{{ a + }}"})]), "broken"
    )
    with pytest.raises(PreflightFailed) as info:
        run_workflow(db, user_id, "broken", registry=registry)
    assert len(info.value.problems) == 2
    row = _execution(db, user_id, info.value.execution_id)
    assert row.status == "failed" and row.started_at is None
    assert "unknown node type 't.unknown'" in row.error_message
    assert "field 'value': expression '{{ a + }}' does not parse" in row.error_message
    assert _workflow_counters(db, record.id)[0] == 1


def test_big_outputs_are_capped_with_a_visible_marker(db, user_id):
    registry = make_registry()
    document = doc([("s", "t.start"), ("a", "t.set", {"values": {"small": 1}})], ["s->a"])
    record = _store(db, user_id, document)
    big = {"items": ["x" * 1000 for _ in range(50)]}
    result = run_workflow(db, user_id, record, input=big, registry=registry, node_output_cap=2000)
    row = _execution(db, user_id, result.execution_id)
    marker = row.output_data["s"]["output"]
    assert marker["__truncated__"] is True
    assert marker["bytes"] > 50_000
    assert marker["preview"].startswith('{"items": ["xxxx')
    assert result.result["small"] == 1 and len(result.result["items"]) == 50  # the run saw it all


def test_the_total_output_budget_truncates_later_nodes():
    recorder = OutputRecorder(node_cap=1000, total_cap=1500)
    from glyphic_desktop.engine.events import NodeOutput

    for node in ("a", "b", "c"):
        recorder(NodeOutput(None, node, "t", node, outputs={"output": "y" * 600}))
    assert recorder.outputs["a"] == {"output": "y" * 600}
    assert recorder.outputs["b"] == {"output": "y" * 600}
    assert recorder.outputs["c"]["output"]["__truncated__"] is True


def test_values_json_cannot_hold_are_converted():
    class Thing:
        def __repr__(self):
            return "<thing>"

    value = to_jsonable({1: b"\x00\x01", "t": (1, 2), "s": {3}, "o": Thing(), "f": float("nan")})
    assert value == {
        "1": {"__bytes__": 2, "preview": "AAE="},
        "t": [1, 2],
        "s": [3],
        "o": "<thing>",
        "f": "nan",
    }
    nested = []
    for _ in range(5000):
        nested = [nested]
    capped, _ = cap_value(nested, 10_000_000)
    assert capped["__truncated__"] is True


def test_log_rows_are_written_in_batches(db, user_id):
    record = _store(db, user_id, doc([("s", "t.start")]))
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(record.id)
    sink = DatabaseLogSink(db, execution_id, batch_size=100, flush_interval=30)
    for chunk in range(3):  # a full batch is written at once, without waiting for the timer
        for i in range(chunk * 100, chunk * 100 + 100):
            sink(LogLine(str(execution_id), f"n{i % 7}", "t.log", "L", message=f"line {i}\tx\\y\n"))
        deadline = time.monotonic() + 5
        while sink.rows_written < (chunk + 1) * 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (sink.rows_written, sink.batches) == ((chunk + 1) * 100, chunk + 1)
    for i in range(300, 1000):
        sink(LogLine(str(execution_id), f"n{i % 7}", "t.log", "L", message=f"line {i}\tx\\y\n"))
    sink.close()
    assert sink.errors == 0 and sink.rows_written == 1000
    assert 4 <= sink.batches <= 10
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(execution_id)
    assert [x.message for x in logs] == [f"line {i}\tx\\y\n" for i in range(1000)]
    assert logs[3].node_id == "n3" and logs[3].node_type == "t.log"


def test_the_log_sink_flushes_on_time_and_survives_a_bad_write(db, user_id):
    record = _store(db, user_id, doc([("s", "t.start")]))
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(record.id)
    sink = DatabaseLogSink(db, execution_id, flush_interval=0.05)
    sink(LogLine(str(execution_id), "n", "t", "L", level="warning", message="early"))
    deadline = time.monotonic() + 5
    while sink.rows_written < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.rows_written == 1  # written before close, by time
    sink.close()
    broken = DatabaseLogSink(db, uuid.uuid4())  # no such execution: the FK refuses the rows
    broken(LogLine(None, "n", "t", "L", message="lost"))
    broken.close()
    assert broken.errors == 1 and broken.rows_written == 0
    with db.session() as session:
        (line,) = ExecutionRepository(session, user_id).logs(execution_id)
    assert line.level == "warn"


def test_secrets_are_masked_in_logs_outputs_errors_and_listeners(db, user_id):
    registry = make_registry()
    masker = SecretMasker(["hunter22"])
    document = doc(
        [
            ("s", "t.start"),
            ("l", "t.log"),
            ("f", "t.fail", {"message": "login with hunter22 failed"}),
        ],
        ["s->l", "l->f"],
    )
    record = _store(db, user_id, document)
    recorder = Recorder()
    result = run_workflow(
        db,
        user_id,
        record,
        input={"password": "hunter22"},
        registry=registry,
        masker=masker,
        listeners=[recorder],
    )
    assert result.status == "failed"
    assert "hunter22" not in result.error and "••••" in result.error
    row = _execution(db, user_id, result.execution_id)
    assert "hunter22" not in repr(row.output_data) and "hunter22" not in row.error_message
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(result.execution_id)
    assert "hunter22" not in repr([(x.message, x.data) for x in logs])
    assert "hunter22" not in repr(
        [vars(e) if hasattr(e, "__dict__") else repr(e) for e in recorder.events]
    )


def test_credentials_loaded_during_a_run_are_masked(db, user_id):
    registry = make_registry()

    class Store:
        def __init__(self, masker):
            self.masker = masker

        def problem(self, binding, credential_type):
            return None

        def load(self, binding, credential_type):
            self.masker.add("tok-XYZ-123")
            return {"token": "tok-XYZ-123"}

    masker = SecretMasker()
    document = doc([("c", "t.cred", {}, {"credential": {"integrationId": "1"}})])
    record = _store(db, user_id, document)
    result = run_workflow(
        db, user_id, record, registry=registry, masker=masker, credential_resolver=Store(masker)
    )
    assert result.ok
    assert result.result == {"token": "••••"}
    assert _execution(db, user_id, result.execution_id).output_data == {
        "c": {"output": {"token": "••••"}}
    }


def test_a_cancelled_run_is_recorded_as_cancelled(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("w", "t.sleep", {"seconds": 30})]))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    result = run_workflow(db, user_id, record, registry=registry, cancel_event=cancel)
    assert time.monotonic() - started < 5
    assert result.status == "cancelled"
    row = _execution(db, user_id, result.execution_id)
    assert (row.status, row.error_message) == ("cancelled", "the run was cancelled")


def test_the_editor_runs_its_document_against_the_stored_workflow(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("s", "t.start")]))
    edited = record.document.model_copy(deep=True)
    edited.nodes.append(doc([("e", "t.echo", {"value": "edited"})]).nodes[0])
    result = run_workflow(db, user_id, edited, registry=registry)
    assert result.ok and result.workflow_id == record.id
    assert result.result == {"s": None, "e": "edited"}
    with pytest.raises(GlyphicError, match="must be saved before it runs"):
        run_workflow(db, user_id, doc([("s", "t.start")]), registry=registry)
    with pytest.raises(NotFoundError):
        run_workflow(db, user_id, "no such workflow", registry=registry)


def test_sub_workflows_load_stored_workflows_by_name(db, user_id):
    registry = make_registry()
    _store(
        db,
        user_id,
        doc([("cs", "t.start"), ("cx", "t.echo", {"value": "{{ input * 3 }}"})], ["cs->cx"]),
        "triple",
    )
    record = _store(
        db,
        user_id,
        doc([("s", "t.start"), ("sub", "t.sub", {"workflow": "triple"})], ["s->sub"]),
        "caller",
    )
    result = run_workflow(db, user_id, record, registry=registry, input=5)
    assert result.result == 15
    missing = _store(db, user_id, doc([("sub", "t.sub", {"workflow": "nope"})]), "missing")
    result = run_workflow(db, user_id, missing, registry=registry)
    assert result.status == "failed"
    assert result.error.startswith("node sub: no workflow named 'nope'")


def test_the_agent_runs_a_queued_execution_with_heartbeats(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("w", "t.sleep", {"seconds": 0.4})]))
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(
            record.id, trigger_type="webhook", trigger_data={"path": "/x"}
        )
    result = run_workflow(
        db,
        user_id,
        record,
        registry=registry,
        execution_id=execution_id,
        claimed_by="agent-7",
        heartbeat_interval=0.1,
        trigger="webhook",
    )
    assert result.ok and result.execution_id == execution_id
    with db.session() as session:
        row = session.execute(
            text("SELECT claimed_by, heartbeat_at, started_at FROM executions WHERE id = :id"),
            {"id": execution_id},
        ).one()
    assert row.claimed_by == "agent-7"
    assert row.heartbeat_at > row.started_at
    with pytest.raises(ExecutionStateError):  # a finished execution cannot run again
        run_workflow(db, user_id, record, registry=registry, execution_id=execution_id)


def test_a_log_line_with_nul_or_a_lone_surrogate_does_not_lose_its_batch(db, user_id):
    record = _store(db, user_id, doc([("s", "t.start")]))
    with db.session() as session:
        execution_id = ExecutionRepository(session, user_id).create_pending(record.id)
    sink = DatabaseLogSink(db, execution_id, batch_size=100, flush_interval=30)
    messages = ["before", "nul \x00 here", "half \ud83d of an emoji", "after"]
    for message in messages:
        sink(LogLine(str(execution_id), "n", "t.log", "L", message=message))
    sink.close()
    assert (sink.errors, sink.rows_written) == (0, 4)
    with db.session() as session:
        logs = ExecutionRepository(session, user_id).logs(execution_id)
    assert [x.message for x in logs] == [
        "before",
        "nul \\u0000 here",
        "half \\ud83d of an emoji",
        "after",
    ]
