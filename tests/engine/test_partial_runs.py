"""Pinned data and partial runs in the engine (no database, no Qt): which nodes run, what
they receive, that recorded outputs are used and that a pinned node's ``run`` is never called."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.helpers import Recorder, doc
from engine.partial_helpers import CALLS, make_registry
from glyphic_desktop.engine.executor import Executor
from glyphic_desktop.engine.node_data import NodeDataRecorder, item_count
from glyphic_desktop.engine.partial import PartialRunError, plan_partial_run, resolve_node
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.engine.records import OutputRecorder
from glyphic_desktop.store.repositories.node_data import NodeRecord, edge_item_counts


def run(document, registry, **options: Any):
    recorder = Recorder()
    outcome = asyncio.run(Executor(document, registry, listeners=[recorder], **options).run())
    return outcome, recorder


def records_of(document, registry, **options: Any) -> dict[str, NodeRecord]:
    """Run ``document`` and turn what the recorders kept into NodeRecords (as stored)."""
    outputs, nodes = OutputRecorder(), NodeDataRecorder()
    outcome = asyncio.run(Executor(document, registry, listeners=[outputs, nodes], **options).run())
    assert outcome.status in ("completed", "failed", "cancelled")
    return {
        row["node_id"]: NodeRecord(
            node_id=row["node_id"],
            status=row["status"],
            origin=row["origin"],
            inputs=row["inputs"] or {},
            outputs=outputs.outputs.get(row["node_id"], {}),
            input_counts=row["input_counts"] or {},
            output_counts=row["output_counts"] or {},
            error=row["error"],
        )
        for row in nodes.rows()
    }


def chain(n: int = 5, pinned: dict[str, dict] | None = None):
    """src -> s1 -> ... -> sn."""
    pinned = pinned or {}
    nodes: list[Any] = [("src", "p.source")]
    edges = []
    previous = "src"
    for i in range(1, n + 1):
        extra = {"label": f"Step {i}"}
        if f"s{i}" in pinned:
            extra["pinnedData"] = pinned[f"s{i}"]
        nodes.append((f"s{i}", "p.step", {"add": 1}, extra))
        edges.append(f"{previous}->s{i}")
        previous = f"s{i}"
    return doc(nodes, edges)


# -- pinned data ---------------------------------------------------------------------


def test_a_pinned_node_never_runs_and_its_pinned_output_flows_on():
    registry = make_registry()
    document = chain(3, pinned={"s2": {"output": {"n": 100, "path": ["pinned"]}}})
    outcome, recorder = run(document, registry)
    assert outcome.status == "completed"
    assert CALLS == ["src", "s1", "s3"]  # s2's run was never called
    assert outcome.result == {"n": 101, "path": ["pinned", "s3"], "other": None}
    assert (outcome.nodes_run, outcome.nodes_reused) == (3, 1)
    inputs = [e for e in recorder.of("node_inputs") if e.node_id == "s2"]
    assert [e.origin for e in inputs] == ["pinned"]
    assert recorder.kinds("s2") == ["node_inputs", "node_output", "node_finished"]


def test_a_pinned_port_left_out_is_not_taken():
    registry = make_registry()
    document = doc(
        [
            ("src", "p.source"),
            ("if", "t.if", {"condition": True}, {"pinnedData": {"false": {"n": 7}}}),
            ("yes", "p.step"),
            ("no", "p.step"),
        ],
        ["src->if", "if:true->yes", "if:false->no"],
    )
    outcome, recorder = run(document, registry)
    assert outcome.status == "completed"
    assert CALLS == ["src", "no"]  # the pin sends to false although condition is true
    assert [e.node_id for e in recorder.of("node_skipped")] == ["yes"]


def test_preflight_checks_pinned_ports_and_skips_the_fields_of_a_pinned_node():
    registry = make_registry()
    document = doc(
        [
            ("src", "p.source"),
            # Fields that would fail (unknown field), but the node never runs.
            ("a", "p.step", {"nonsense": 1}, {"pinnedData": {"output": 1}}),
            ("b", "p.step", {}, {"pinnedData": {"outptu": 1}}),
        ],
        ["src->a", "a->b"],
    )
    problems = preflight(document, registry)
    assert [(p.node_id, p.kind) for p in problems] == [("b", "pinned_data")]
    assert "pinned data names output 'outptu'" in str(problems[0])
    assert "(outputs: output)" in str(problems[0])


def test_pinned_data_round_trips_through_the_document():
    from glyphic_desktop.document.model import WorkflowDocument

    document = chain(2, pinned={"s1": {"output": [{"id": 1}, {"id": 2}]}})
    data = document.to_data()
    assert data["nodes"][1]["data"]["pinnedData"] == {"output": [{"id": 1}, {"id": 2}]}
    assert "pinnedData" not in data["nodes"][2]["data"]  # unpinned: the key is left out
    again = WorkflowDocument.model_validate(data)
    assert again.nodes[1].data.pinnedData == {"output": [{"id": 1}, {"id": 2}]}


# -- the per-node record -------------------------------------------------------------


def test_node_records_hold_inputs_counts_and_statuses():
    registry = make_registry()
    document = doc(
        [
            ("src", "p.source"),
            ("if", "t.if", {"condition": False}),
            ("yes", "p.step"),
            ("lim", "p.limit", {"count": 2}),
        ],
        ["src->if", "if:true->yes", "if:false->lim"],
    )
    records = records_of(document, registry, run_input=[1, 2, 3])
    assert records["src"].output_counts == {"output": 3}
    assert records["if"].inputs == {"input": [1, 2, 3]}
    assert records["if"].input_counts == {"input": 3}
    assert records["if"].output_counts == {"false": 3}
    assert records["yes"].status == "skipped" and records["yes"].inputs == {}
    assert records["lim"].outputs == {"output": [1, 2]}
    assert records["lim"].output_counts == {"output": 2}
    # Edge 2 (if:true -> yes) carried nothing: it has no count.
    assert edge_item_counts(document, records) == {1: 3, 3: 3}
    assert (item_count(None), item_count({"a": 1}), item_count([])) == (0, 1, 0)


def test_a_node_stopped_by_cancelling_the_run_is_cancelled_not_skipped():
    registry = make_registry()
    document = doc(
        [("src", "p.source"), ("wait", "t.sleep", {"seconds": 30}), ("after", "p.step")],
        ["src->wait", "wait->after"],
    )
    nodes = NodeDataRecorder()
    executor = Executor(document, registry, listeners=[nodes])

    async def main():
        task = asyncio.create_task(executor.run())
        await asyncio.sleep(0.2)
        executor.cancel()
        return await task

    outcome = asyncio.run(main())
    assert outcome.status == "cancelled"
    assert nodes.status_of("src") == "success"
    assert nodes.status_of("wait") == "cancelled"
    assert nodes.status_of("after") is None  # never reached: no record


def test_inputs_over_the_cap_are_marked_not_dropped():
    registry = make_registry()
    document = doc([("src", "p.source"), ("a", "p.step")], ["src->a"])
    nodes = NodeDataRecorder(node_cap=1000)
    big = {"n": 1, "blob": "x" * 5000}
    asyncio.run(Executor(document, registry, listeners=[nodes], run_input=big).run())
    row = {r["node_id"]: r for r in nodes.rows()}["a"]
    marker = row["inputs"]["input"]
    assert marker["__truncated__"] is True and marker["bytes"] > 5000
    assert row["input_counts"] == {"input": 1}


# -- partial runs --------------------------------------------------------------------


def test_run_from_the_middle_runs_it_and_everything_after_with_recorded_upstream_outputs():
    registry = make_registry()
    document = chain(6)
    records = records_of(document, registry, run_input={"n": 0})
    # Make the recorded output of s3 recognisable: the run must use it, not recompute it.
    records["s3"] = NodeRecord(
        "s3", "success", outputs={"output": {"n": 1000, "path": ["recorded"]}}
    )
    CALLS.clear()
    plan = plan_partial_run(document, "from", "s4", records, registry=registry)
    assert plan.run == {"s4", "s5", "s6"}
    assert set(plan.start_outputs) == {"s3"}
    outcome, recorder = run(document, registry, **plan.executor_options())
    assert outcome.status == "completed"
    assert CALLS == ["s4", "s5", "s6"]
    assert outcome.result["n"] == 1003 and outcome.result["path"] == ["recorded", "s4", "s5", "s6"]
    assert (outcome.nodes_run, outcome.nodes_reused) == (3, 1)
    reused = [e for e in recorder.of("node_inputs") if e.origin == "reused"]
    assert [e.node_id for e in reused] == ["s3"]


def test_run_to_a_node_runs_only_its_ancestors():
    registry = make_registry()
    document = doc(
        [("src", "p.source"), ("a", "p.step"), ("b", "p.step"), ("c", "p.step"), ("x", "p.step")],
        ["src->a", "a->b", "b->c", "src->x"],
    )
    plan = plan_partial_run(document, "to", "b", None, registry=registry)
    assert plan.run == {"src", "a", "b"}
    outcome, _ = run(document, registry, **plan.executor_options())
    assert outcome.status == "completed"
    assert sorted(CALLS) == ["a", "b", "src"]  # neither c (after) nor x (another branch)


def test_run_to_stops_at_a_pinned_ancestor_whose_own_ancestors_do_not_run():
    registry = make_registry()
    document = chain(4, pinned={"s2": {"output": {"n": 50, "path": []}}})
    plan = plan_partial_run(document, "to", "s4", None, registry=registry)
    assert plan.run == {"s3", "s4"} and set(plan.start_outputs) == {"s2"}
    outcome, recorder = run(document, registry, **plan.executor_options())
    assert CALLS == ["s3", "s4"]
    assert outcome.result["n"] == 52
    assert {e.node_id: e.origin for e in recorder.of("node_inputs")}["s2"] == "pinned"


def test_run_one_node_uses_the_inputs_it_received_last_time():
    registry = make_registry()
    document = doc(
        [("src", "p.source"), ("a", "p.step"), ("b", "p.step"), ("m", "p.step"), ("c", "p.step")],
        ["src->a", "a->m", "src->b", "b->m:other", "m->c"],
    )
    records = records_of(document, registry, run_input={"n": 10})
    assert records["m"].inputs["input"]["n"] == 11
    CALLS.clear()
    plan = plan_partial_run(document, "only", "m", records, registry=registry)
    assert plan.run == {"m"} and set(plan.start_inputs) == {"m"}
    outcome, recorder = run(document, registry, **plan.executor_options())
    assert CALLS == ["m"]
    assert outcome.result == {"n": 12, "path": ["a", "m"], "other": records["b"].outputs["output"]}
    started = recorder.of("node_inputs")
    assert [e.node_id for e in started] == ["m"]
    assert started[0].inputs == records["m"].inputs


def test_run_one_node_with_a_pinned_node_feeding_it_uses_the_pinned_data():
    registry = make_registry()
    document = chain(3, pinned={"s1": {"output": {"n": 40, "path": ["pin"]}}})
    plan = plan_partial_run(document, "only", "s2", {}, registry=registry)
    outcome, _ = run(document, registry, **plan.executor_options())
    assert CALLS == ["s2"]  # neither the pinned s1 nor src run
    assert outcome.result == {"n": 41, "path": ["pin", "s2"], "other": None}


def test_a_needed_node_without_a_usable_record_runs_too():
    registry = make_registry()
    document = chain(4)
    records = records_of(document, registry, run_input={"n": 0})
    del records["s2"]  # e.g. the node was added after the last run
    records["s1"] = NodeRecord(  # capped: cannot be re-used
        "s1", "success", outputs={"output": {"__truncated__": True, "bytes": 9, "preview": ""}}
    )
    CALLS.clear()
    plan = plan_partial_run(document, "from", "s3", records, registry=registry)
    assert plan.run == {"s1", "s2", "s3", "s4"} and set(plan.start_outputs) == {"src"}
    assert any("runs too" in note for note in plan.notes)
    outcome, _ = run(document, registry, **plan.executor_options())
    assert outcome.status == "completed"
    assert CALLS == ["s1", "s2", "s3", "s4"]


def test_a_loop_run_alone_takes_its_body_along():
    registry = make_registry()
    document = doc(
        [
            ("src", "p.source"),
            ("loop", "t.loop"),
            ("body", "p.step", {"add": 5}),
            ("after", "p.step"),
        ],
        ["src->loop", "loop:item->body", "loop:done->after"],
    )
    records = records_of(document, registry, run_input=[{"n": 1}, {"n": 2}])
    CALLS.clear()
    plan = plan_partial_run(document, "only", "loop", records, registry=registry)
    assert plan.run == {"loop", "body"}
    outcome, _ = run(document, registry, **plan.executor_options())
    assert outcome.status == "completed"
    assert CALLS == ["body", "body"]
    assert [item["n"] for item in outcome.outputs["loop"]["done"]] == [6, 7]


def test_nodes_expressions_read_recorded_ancestors():
    registry = make_registry()
    document = doc(
        [
            ("src", "p.source"),
            ("a", "p.step", {"add": 1}, {"label": "First"}),
            ("b", "p.step", {"add": 1}),
            ("c", "p.step", {"add": "{{ nodes.First.output.n * 10 }}"}),
        ],
        ["src->a", "a->b", "b->c"],
    )
    records = records_of(document, registry, run_input={"n": 1})
    CALLS.clear()
    plan = plan_partial_run(document, "from", "c", records, registry=registry)
    assert "a" in plan.start_outputs  # not needed as an input, but read by an expression
    outcome, _ = run(document, registry, **plan.executor_options())
    assert CALLS == ["c"]
    assert outcome.outputs["c"]["output"]["n"] == 3 + 20


def test_node_references_resolve_by_id_or_label_and_name_close_matches():
    document = chain(3)
    assert resolve_node(document, "s2") == "s2"
    assert resolve_node(document, "Step 2") == "s2"
    assert resolve_node(document, "step 3") == "s3"
    with pytest.raises(PartialRunError, match=r"no node 'Stpe 2'.*did you mean 'Step 2'") as exc:
        resolve_node(document, "Stpe 2")
    assert exc.value.exit_code == 2
    with pytest.raises(PartialRunError, match="unknown partial run mode"):
        plan_partial_run(document, "sideways", "s1", registry=make_registry())


# -- expressions in typed fields ---------------------------------------------------


def limit_doc(fields: dict[str, Any]):
    return doc([("src", "p.source"), ("lim", "p.limit", fields, {"label": "Limit"})], ["src->lim"])


def test_number_boolean_and_choice_fields_take_expressions_converted_at_run_time():
    registry = make_registry()
    document = limit_doc(
        {"count": "{{ input | length - 1 }}", "enabled": "{{ 'true' }}", "mode": "{{ 'last' }}"}
    )
    assert preflight(document, registry) == []  # accepted before the run
    outcome, _ = run(document, registry, run_input=[1, 2, 3, 4])
    assert outcome.status == "completed", outcome.error
    assert outcome.result == [2, 3, 4]
    document = limit_doc({"count": "{{ '2' }}"})  # text that is a number: converted
    outcome, _ = run(document, registry, run_input=[1, 2, 3])
    assert outcome.result == [1, 2]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"count": "{{ 'abc' }}"},
            "field 'count' of node 'Limit': expected a whole number, the expression gave 'abc'",
        ),
        (
            {"enabled": "{{ 'maybe' }}"},
            "field 'enabled' of node 'Limit': expected true or false, the expression gave 'maybe'",
        ),
        (
            {"mode": "{{ input[0] }}"},
            "field 'mode' of node 'Limit': expected one of 'first' or 'last', "
            "the expression gave 'middle'",
        ),
    ],
)
def test_a_typed_field_whose_expression_gives_the_wrong_type_fails_naming_it(fields, message):
    registry = make_registry()
    document = limit_doc(fields)
    assert preflight(document, registry) == []
    outcome, recorder = run(document, registry, run_input=["middle"])
    assert outcome.status == "failed"
    assert message in outcome.error
    assert recorder.of("node_failed")[0].error == message
    assert CALLS == ["src"]  # the node's run was not called with a bad value


def test_the_executor_api_for_partial_runs_is_forgiving_but_not_ambiguous():
    from glyphic_desktop.engine.executor import Plan

    registry = make_registry()
    document = chain(3)
    with pytest.raises(ValueError, match="to the Plan or to the Executor"):
        Executor(document, registry, plan=Plan(document, registry), only={"s1"})
    # Unknown ids are ignored; a node outside ``only`` feeding one inside carries a skip.
    outcome, recorder = run(
        document, registry, only={"s2", "nope"}, start_outputs={"ghost": {"output": 1}}
    )
    assert outcome.status == "completed"
    assert CALLS == []  # s1 did not run, so s2's input was skipped
    assert [e.node_id for e in recorder.of("node_skipped")] == ["s2"]


def test_the_row_order_of_the_recorder_and_the_store_agree():
    from glyphic_desktop.engine.node_data import ROW_FIELDS
    from glyphic_desktop.store.repositories.node_data import ROW_KEYS

    assert ROW_FIELDS == ROW_KEYS


def test_small_and_large_inputs_are_recorded_alike():
    registry = make_registry()
    document = doc([("src", "p.source"), ("a", "p.step")], ["src->a"])
    for value in ({"n": 1, "s": "x", "ok": True, "none": None}, {"n": 1.5, "deep": {"a": [1]}}):
        nodes = NodeDataRecorder()
        asyncio.run(Executor(document, registry, listeners=[nodes], run_input=value).run())
        row = {r["node_id"]: r for r in nodes.rows()}["a"]
        assert row["inputs"] == {"input": value}
