"""Per-node records kept with a run in PostgreSQL, and partial runs recorded as executions."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from engine.helpers import doc
from engine.partial_helpers import CALLS, make_registry
from glyphic_desktop.engine.partial import plan_partial_run, run_partial
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.secrets.masking import SecretMasker
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.node_data import (
    edge_item_counts,
    latest_node_records,
    node_records,
)
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def _store(db, user_id, document, name="wf"):
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document)


def _branching():
    return doc(
        [
            ("src", "p.source"),
            ("if", "t.if", {"condition": False}, {"label": "Check"}),
            ("yes", "p.step"),
            ("lim", "p.limit", {"count": 2}, {"label": "Limit"}),
            ("bad", "t.fail", {"message": "nope"}, {"onError": "continue"}),
        ],
        ["src->if", "if:true->yes", "if:false->lim", "lim->bad"],
    )


def test_a_run_keeps_every_nodes_inputs_counts_and_status(db, user_id):
    registry = make_registry()
    document = _branching()
    record = _store(db, user_id, document)
    result = run_workflow(db, user_id, record, registry=registry, input=[1, 2, 3])
    assert result.status == "completed"
    records = node_records(db, result.execution_id, user_id=user_id)
    assert set(records) == {"src", "if", "yes", "lim", "bad"}
    assert records["src"].status == "success" and records["src"].output_counts == {"output": 3}
    assert records["if"].inputs == {"input": [1, 2, 3]}
    assert records["if"].outputs == {"false": [1, 2, 3]}
    assert records["yes"].status == "skipped" and records["yes"].inputs == {}
    assert records["lim"].outputs == {"output": [1, 2]}
    assert records["lim"].output_counts == {"output": 2}
    assert records["bad"].status == "error" and records["bad"].error == "nope"
    assert records["bad"].outputs["output"]["error"]["message"] == "nope"  # continued
    assert records["lim"].started_at is not None and records["lim"].duration_ms >= 0
    with db.session() as session:
        execution = ExecutionRepository(session, user_id).get(result.execution_id)
    assert execution.started_at <= records["lim"].started_at <= execution.completed_at
    assert all(r.origin == "run" and r.runs == 1 for r in records.values())
    assert edge_item_counts(document, records) == {1: 3, 3: 3, 4: 2}

    # Re-opening the workflow (a new connection, nothing in memory) shows them again.
    latest = latest_node_records(db, record.id, user_id=user_id)
    assert latest.execution_id == result.execution_id and latest.partial is None
    assert latest.records["lim"].outputs == records["lim"].outputs


def test_inputs_are_masked_and_capped_in_the_record(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("src", "p.source"), ("a", "p.step")], ["src->a"]))
    masker = SecretMasker(["hunter2-secret"])
    result = run_workflow(
        db,
        user_id,
        record,
        registry=registry,
        masker=masker,
        input={"n": 1, "token": "hunter2-secret", "blob": "x" * 3000},
        node_output_cap=2000,
    )
    assert result.status == "completed"
    with db.session() as session:
        raw = session.execute(
            text("SELECT inputs::text FROM execution_node_data WHERE node_id = 'a'")
        ).scalar_one()
    assert "hunter2-secret" not in raw
    stored = node_records(db, result.execution_id, user_id=user_id)["a"]
    assert stored.inputs["input"]["__truncated__"] is True  # over the cap: marked
    assert "••••" in stored.inputs["input"]["preview"]
    assert not stored.complete


def test_a_cancelled_run_records_the_stopped_node_as_cancelled(db, user_id):
    registry = make_registry()
    record = _store(
        db,
        user_id,
        doc(
            [("src", "p.source"), ("wait", "t.sleep", {"seconds": 30}), ("after", "p.step")],
            ["src->wait", "wait->after"],
        ),
    )
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    result = run_workflow(db, user_id, record, registry=registry, cancel_event=cancel)
    assert result.status == "cancelled"
    records = node_records(db, result.execution_id, user_id=user_id)
    assert records["src"].status == "success"
    assert records["wait"].status == "cancelled"
    assert "after" not in records


def test_a_node_record_write_that_fails_never_loses_the_final_status(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("src", "p.source")]))
    with db.session() as session:  # the per-node table refuses every row
        session.execute(
            text("ALTER TABLE execution_node_data ADD CONSTRAINT no_rows CHECK (node_id = '')")
        )
    result = run_workflow(db, user_id, record, registry=registry)
    assert result.status == "completed"
    with db.session() as session:
        execution = ExecutionRepository(session, user_id).get(result.execution_id)
    assert execution.status == "completed" and execution.output_data["src"]
    assert node_records(db, result.execution_id, user_id=user_id) == {}


def _chain(n):
    nodes = [("src", "p.source")]
    edges = []
    previous = "src"
    for i in range(1, n + 1):
        nodes.append((f"s{i}", "p.step", {"add": i}, {"label": f"Step {i}"}))
        edges.append(f"{previous}->s{i}")
        previous = f"s{i}"
    return doc(nodes, edges)


def test_partial_runs_are_recorded_executions_that_keep_the_whole_canvas(db, user_id):
    registry = make_registry()
    document = _chain(4)
    record = _store(db, user_id, document)
    full = run_workflow(db, user_id, record, registry=registry, input={"n": 0})
    assert full.status == "completed" and CALLS == ["src", "s1", "s2", "s3", "s4"]

    latest = latest_node_records(db, record.id, user_id=user_id)
    plan = plan_partial_run(
        document, "from", "Step 3", latest.records, source_execution=latest.execution_id
    )
    CALLS.clear()
    result = run_partial(db, user_id, record, plan, registry=registry)
    assert result.status == "completed" and CALLS == ["s3", "s4"]
    assert (result.nodes_run, result.nodes_reused) == (2, 1)
    with db.session() as session:
        execution = ExecutionRepository(session, user_id).get(result.execution_id)
    assert execution.trigger_type == "manual"
    assert execution.trigger_data["partial"] == {
        "mode": "from",
        "node": "s3",
        "source_execution": str(full.execution_id),
    }
    assert execution.input_data == {"n": 0}  # the source run's input
    records = node_records(db, result.execution_id, user_id=user_id)
    assert records["s2"].origin == "reused" and records["s2"].inputs["input"]["n"] == 1
    assert records["s3"].origin == "run" and records["s4"].outputs["output"]["n"] == 10

    # Then run one node: the newest run holds s2 only; the rest is filled in.
    time.sleep(0.01)
    latest = latest_node_records(db, record.id, user_id=user_id)
    plan = plan_partial_run(
        document, "only", "s2", latest.records, source_execution=latest.execution_id
    )
    CALLS.clear()
    only = run_partial(db, user_id, record, plan, registry=registry)
    assert only.status == "completed" and CALLS == ["s2"]
    latest = latest_node_records(db, record.id, user_id=user_id)
    assert latest.execution_id == only.execution_id
    assert latest.partial["mode"] == "only"
    assert set(latest.records) == {"src", "s1", "s2", "s3", "s4"}
    assert latest.records["s2"].execution_id == only.execution_id
    assert latest.records["s4"].execution_id == result.execution_id
    assert latest.records["src"].execution_id == full.execution_id


def test_a_node_in_a_loop_body_keeps_its_last_pass_and_its_run_count(db, user_id):
    registry = make_registry()
    document = doc(
        [("src", "p.source"), ("loop", "t.loop"), ("body", "p.step", {"add": 10})],
        ["src->loop", "loop:item->body"],
    )
    record = _store(db, user_id, document)
    items = [{"n": i} for i in range(5)]
    result = run_workflow(db, user_id, record, registry=registry, input=items)
    assert result.status == "completed"
    records = node_records(db, result.execution_id, user_id=user_id)
    assert records["body"].runs == 5
    assert records["body"].inputs == {"input": {"n": 4}}  # the last item
    assert records["body"].outputs["output"]["n"] == 14
    assert records["loop"].output_counts == {"done": 5}
    with db.session() as session:  # one row per node, however often it was written
        count = session.execute(
            text("SELECT count(*) FROM execution_node_data WHERE execution_id = :id"),
            {"id": result.execution_id},
        ).scalar_one()
    assert count == 3


def test_rows_streamed_during_a_long_run_are_there_before_it_ends(db, user_id):
    registry = make_registry()
    record = _store(
        db,
        user_id,
        doc(
            [("src", "p.source"), ("a", "p.step"), ("wait", "t.sleep", {"seconds": 1.5})],
            ["src->a", "a->wait"],
        ),
    )
    seen: list[set[str]] = []

    def watch(event):
        if event.kind == "node_started" and event.node_id == "wait":
            threading.Timer(0.8, lambda: seen.append(_rows_now(db))).start()

    result = run_workflow(db, user_id, record, registry=registry, listeners=[watch])
    assert result.status == "completed"
    assert seen == [{"src", "a"}]  # written while "wait" was still running
    assert set(node_records(db, result.execution_id, user_id=user_id)) == {"src", "a", "wait"}


def _rows_now(db):
    with db.session() as session:
        return set(session.scalars(text("SELECT node_id FROM execution_node_data")))


def test_a_loop_body_node_is_streamed_at_most_twice_and_never_clashes(db, user_id, caplog):
    registry = make_registry()
    document = doc(
        [("src", "p.source"), ("loop", "t.loop"), ("body", "p.step")],
        ["src->loop", "loop:item->body"],
    )
    record = _store(db, user_id, document)
    result = run_workflow(
        db, user_id, record, registry=registry, input=[{"n": i} for i in range(300)]
    )
    assert result.status == "completed"
    assert "could not record the node data" not in caplog.text
    body = node_records(db, result.execution_id, user_id=user_id)["body"]
    assert body.runs == 300 and body.inputs == {"input": {"n": 299}}


def test_a_partial_run_is_stopped_only_by_problems_of_the_nodes_it_runs(db, user_id):
    import pytest

    from glyphic_desktop.engine.preflight import PreflightFailed

    registry = make_registry()
    document = _chain(3)
    record = _store(db, user_id, document)
    assert run_workflow(db, user_id, record, registry=registry, input={"n": 0}).ok
    latest = latest_node_records(db, record.id, user_id=user_id)
    # Break s1 after the run: "from s3" re-uses its recorded output and never runs it.
    document.nodes[1].data.fields = {"add": "not a number"}
    plan = plan_partial_run(
        document, "from", "s3", latest.records, source_execution=latest.execution_id
    )
    CALLS.clear()
    result = run_partial(db, user_id, document, plan, registry=registry)
    assert result.status == "completed" and CALLS == ["s3"]
    # "from s1" runs it: the problem stops the run, naming the node.
    plan = plan_partial_run(
        document, "from", "s1", latest.records, source_execution=latest.execution_id
    )
    with pytest.raises(PreflightFailed, match=r"node 'Step 1' \(s1\): field 'add'"):
        run_partial(db, user_id, document, plan, registry=registry)


def test_text_postgresql_cannot_store_does_not_lose_the_node_records(db, user_id, caplog):
    registry = make_registry()
    record = _store(db, user_id, doc([("src", "p.source"), ("a", "p.step")], ["src->a"]))
    hostile = {"n": 1, "text": "nul\x00here", "escaped": "a literal \\u0000 stays"}
    result = run_workflow(db, user_id, record, registry=registry, input=hostile)
    assert result.status == "completed"
    assert "could not record the node data" not in caplog.text
    stored = node_records(db, result.execution_id, user_id=user_id)["a"].inputs["input"]
    assert stored["text"] == "nul\ufffdhere"
    assert stored["escaped"] == "a literal \\u0000 stays"  # only real NULs are replaced


def test_listeners_see_node_inputs_with_secrets_masked(db, user_id):
    registry = make_registry()
    record = _store(db, user_id, doc([("src", "p.source"), ("a", "p.step")], ["src->a"]))
    seen = []
    result = run_workflow(
        db,
        user_id,
        record,
        registry=registry,
        masker=SecretMasker(["hunter2-secret"]),
        input={"n": 1, "token": "hunter2-secret"},
        listeners=[lambda event: seen.append(event) if event.kind == "node_inputs" else None],
    )
    assert result.status == "completed"
    inputs = {event.node_id: event.inputs for event in seen}
    assert inputs["a"] == {"input": {"n": 1, "token": "••••"}}
    assert {event.origin for event in seen} == {"run"}
