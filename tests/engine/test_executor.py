"""The executor: ordering, skips, concurrency, per-node settings, cancellation, bodies."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import psutil
import pytest

from engine.helpers import STATE, Recorder, doc, make_registry, run
from glyphic_desktop.engine.executor import Executor, Plan
from glyphic_desktop.nodes.base import NodeType


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_nodes_run_after_all_their_inputs_and_fan_in_waits():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("slow", "t.sleep", {"seconds": 0.1}),
            ("fast", "t.sleep", {"seconds": 0.01}),
            ("c", "t.collect"),
        ],
        ["s->slow", "s->fast", "slow->c:input", "fast->c:other"],
    )
    recorder = Recorder()
    outcome = run(document, registry, run_input={"v": 1}, listeners=[recorder])
    assert outcome.status == "completed"
    assert STATE["order"] == ["fast", "slow"]
    assert STATE["collected"]["c"] == {"input": {"v": 1}, "other": {"v": 1}}
    kinds = recorder.kinds()
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert recorder.kinds("c") == ["node_inputs", "node_started", "node_output", "node_finished"]
    starts = [e.node_id for e in recorder.of("node_started")]
    assert starts.index("c") > starts.index("slow")


def test_several_edges_into_one_input_give_a_list_in_edge_id_order():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("b", "t.echo", {"value": "B"}),
            ("a", "t.echo", {"value": "A"}),
            ("c", "t.collect"),
        ],
        ["s->b", "s->a", "b->c", "a->c"],  # edge 3 from b, edge 4 from a
    )
    outcome = run(document, registry)
    assert STATE["collected"]["c"] == {"input": ["B", "A"]}
    assert outcome.result == {"input": ["B", "A"]}


def test_a_branch_not_taken_is_skipped_and_the_skip_propagates():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("i", "t.if", {"condition": "{{ input.go }}"}),
            ("yes", "t.set", {"values": {"branch": "yes"}}),
            ("yes2", "t.set"),
            ("no", "t.set", {"values": {"branch": "no"}}),
            ("no2", "t.set"),
            ("no3", "t.collect"),
        ],
        ["s->i", "i:true->yes", "yes->yes2", "i:false->no", "no->no2", "no2->no3"],
    )
    recorder = Recorder()
    outcome = run(document, registry, run_input={"go": True}, listeners=[recorder])
    assert outcome.status == "completed"
    skipped = {e.node_id: e.reason for e in recorder.of("node_skipped")}
    assert skipped == {"no": "branch not taken", "no2": "input skipped", "no3": "input skipped"}
    assert outcome.nodes_skipped == 3 and outcome.nodes_run == 4
    assert outcome.result == {"go": True, "branch": "yes"}  # the only leaf that ran


def test_a_normal_node_with_a_skipped_input_port_is_skipped():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("i", "t.if", {"condition": False}),
            ("c", "t.collect"),
        ],
        ["s->c:input", "i:true->c:other", "s->i"],
    )
    recorder = Recorder()
    run(document, registry, listeners=[recorder])
    assert [e.node_id for e in recorder.of("node_skipped")] == ["c"]


def test_merge_runs_with_the_inputs_that_arrived():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("i", "t.if", {"condition": True}),
            ("m", "t.merge"),
            ("j", "t.if", {"condition": False}),
            ("m2", "t.merge"),
        ],
        ["s->i", "i:true->m:a", "i:false->m:b", "s->j", "j:true->m2:a", "j:true->m2:b"],
    )
    recorder = Recorder()
    outcome = run(document, registry, run_input=7, listeners=[recorder])
    assert outcome.outputs["m"] == {"output": {"a": 7}}
    assert [e.node_id for e in recorder.of("node_skipped")] == ["m2"]  # nothing arrived


def test_both_branches_into_one_port_deliver_what_arrived():
    registry = make_registry()
    document = doc(
        [("s", "t.start"), ("i", "t.if", {"condition": False}), ("c", "t.collect")],
        ["s->i", "i:true->c", "i:false->c"],
    )
    run(document, registry, run_input="x")
    assert STATE["collected"]["c"] == {"input": ["x"]}


def test_independent_branches_run_concurrently_up_to_the_limit():
    registry = make_registry()
    nodes = [("s", "t.start")] + [(f"w{i}", "t.sleep", {"seconds": 0.1}) for i in range(6)]
    edges = [f"s->w{i}" for i in range(6)]
    started = time.monotonic()
    outcome = run(doc(nodes, edges, config={"concurrency": 2}), registry)
    elapsed = time.monotonic() - started
    assert outcome.status == "completed"
    assert STATE["peak"][0] == 2
    assert elapsed >= 0.29
    STATE.clear()
    started = time.monotonic()
    run(doc(nodes, edges), registry, concurrency=6)
    assert STATE["peak"][0] == 6
    assert time.monotonic() - started < 0.3


def test_a_disabled_node_passes_its_input_through():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("d", "t.set", {"values": {"never": 1}}, {"disabled": True}),
            ("i", "t.if", {"condition": True}, {"disabled": True}),
            ("after", "t.collect"),
            ("other", "t.collect"),
        ],
        ["s->d", "d->i", "i:true->after", "i:false->other"],
    )
    recorder = Recorder()
    outcome = run(document, registry, run_input={"v": 1}, listeners=[recorder])
    assert outcome.outputs["after"] == {"output": {"input": {"v": 1}}}
    assert [e.node_id for e in recorder.of("node_skipped")] == ["other"]
    messages = [e.message for e in recorder.of("log") if e.node_id == "d"]
    assert messages == ["disabled: input passed through"]


def test_a_disabled_start_node_passes_the_run_input():
    registry = make_registry()
    outcome = run(doc([("e", "t.echo", {"value": 1}, {"disabled": True})]), registry, run_input=5)
    assert outcome.result == 5


def test_retries_with_exponential_backoff():
    registry = make_registry()
    document = doc(
        [("f", "t.fail", {"failures": 2}, {"retries": 3, "retryDelay": 0.05})],
    )
    recorder = Recorder()
    outcome = run(document, registry, listeners=[recorder])
    assert outcome.status == "completed"
    assert outcome.result == {"ok": True, "attempt": 3}
    times = STATE["attempts"]["f"]
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1
    warnings = [e.message for e in recorder.of("log") if e.level == "warn"]
    assert warnings == [
        "attempt 1 failed: boom; retrying in 0.05 s",
        "attempt 2 failed: boom; retrying in 0.1 s",
    ]
    assert [e.attempt for e in recorder.of("node_started")] == [1, 2, 3]


def test_retries_run_out_and_the_node_fails():
    registry = make_registry()
    document = doc([("f", "t.fail", {}, {"retries": 2, "retryDelay": 0, "label": "Flaky"})])
    outcome = run(document, registry)
    assert outcome.status == "failed"
    assert outcome.error == "node 'Flaky' (f): boom"
    assert outcome.error_node == "f"
    assert len(STATE["attempts"]["f"]) == 3


def test_expression_errors_are_not_retried():
    registry = make_registry()
    document = doc([("e", "t.echo", {"value": "{{ nope }}"}, {"retries": 3})])
    recorder = Recorder()
    outcome = run(document, registry, listeners=[recorder])
    assert outcome.status == "failed"
    assert len(recorder.of("node_started")) == 1


def test_timeout_fails_the_attempt():
    registry = make_registry()
    document = doc([("w", "t.sleep", {"seconds": 10}, {"timeout": 0.2, "label": "Slow"})])
    started = time.monotonic()
    outcome = run(document, registry)
    assert time.monotonic() - started < 2
    assert outcome.status == "failed"
    assert outcome.error == "node 'Slow' (w): timed out after 0.2 s"


def test_timeout_kills_tracked_child_processes():
    registry = make_registry()
    outcome = run(doc([("p", "t.proc", {}, {"timeout": 0.5})]), registry)
    assert outcome.error == "node p: timed out after 0.5 s"
    (pid,) = STATE["pids"]
    deadline = time.monotonic() + 2
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def test_on_error_stop_fails_the_run_and_stops_the_rest():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("pause", "t.sleep", {"seconds": 0.05}),
            ("f", "t.fail", {"message": "bad thing"}),
            ("after", "t.set"),
            ("slow", "t.sleep", {"seconds": 5}),
        ],
        ["s->pause", "pause->f", "f->after", "s->slow"],
    )
    recorder = Recorder()
    started = time.monotonic()
    outcome = run(document, registry, listeners=[recorder])
    assert time.monotonic() - started < 2
    assert outcome.status == "failed"
    assert outcome.error == "node f: bad thing"
    assert "after" not in recorder.kinds() and recorder.kinds("after") == []
    failed = recorder.of("node_failed")
    assert [(e.node_id, e.error, e.handled) for e in failed] == [("f", "bad thing", False)]
    assert [(e.node_id, e.reason) for e in recorder.of("node_skipped")] == [("slow", "stopped")]


def test_on_error_continue_sends_the_error_as_data():
    registry = make_registry()
    document = doc(
        [
            ("f", "t.fail", {"message": "nope"}, {"onError": "continue", "label": "Try"}),
            ("after", "t.collect"),
        ],
        ["f->after"],
    )
    recorder = Recorder()
    outcome = run(document, registry, listeners=[recorder])
    assert outcome.status == "completed"
    assert STATE["collected"]["after"] == {
        "input": {"error": {"message": "nope", "type": "NodeError", "node": "f", "label": "Try"}}
    }
    assert recorder.of("node_failed")[0].handled is True
    assert outcome.nodes_failed == 1


def test_on_error_error_output_routes_to_the_error_port():
    registry = make_registry()
    document = doc(
        [
            ("f", "t.crash", {}, {"onError": "error_output"}),
            ("ok", "t.collect"),
            ("handler", "t.collect"),
        ],
        ["f->ok", "f:error->handler"],
    )
    recorder = Recorder()
    outcome = run(document, registry, listeners=[recorder])
    assert outcome.status == "completed"
    error = STATE["collected"]["handler"]["input"]["error"]
    assert error["message"] == "ZeroDivisionError: division by zero"
    assert error["type"] == "ZeroDivisionError"
    assert [e.node_id for e in recorder.of("node_skipped")] == ["ok"]


def test_an_unexpected_exception_keeps_its_stack():
    registry = make_registry()
    outcome = run(doc([("c", "t.crash")]), registry)
    assert outcome.error == "node c: ZeroDivisionError: division by zero"
    assert "Traceback" in outcome.error_stack and "1 / 0" in outcome.error_stack


def test_undeclared_outputs_and_non_mappings_fail_the_node():
    class Wrong(NodeType):
        key, title, category = "t.wrong", "Wrong", "Data"

        async def run(self, ctx):
            return {"nope": 1} if ctx.fields.model_dump() == {} and ctx.input else [1]

    registry = make_registry()
    registry.register(Wrong)
    outcome = run(doc([("s", "t.start"), ("w", "t.wrong")], ["s->w"]), registry, run_input=1)
    assert (
        outcome.error
        == "node w: node type 't.wrong' returned output 'nope', which it does not declare"
    )
    outcome = run(doc([("w", "t.wrong")]), registry)
    assert (
        outcome.error == "node w: node type 't.wrong' returned list, not a mapping of output ports"
    )


def test_cancellation_stops_within_a_second_and_kills_child_processes():
    registry = make_registry()
    document = doc(
        [("s", "t.start"), ("p", "t.proc"), ("w", "t.sleep", {"seconds": 30}), ("x", "t.set")],
        ["s->p", "s->w", "p->x"],
    )
    cancel = threading.Event()
    recorder = Recorder()

    def trigger():
        deadline = time.monotonic() + 10
        while not STATE.get("pids") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        STATE["cancelled_at"] = time.monotonic()
        cancel.set()

    threading.Thread(target=trigger, daemon=True).start()
    outcome = run(document, registry, cancel_event=cancel, listeners=[recorder])
    took = time.monotonic() - STATE["cancelled_at"]
    assert outcome.status == "cancelled"
    assert outcome.error == "the run was cancelled"
    assert took < 1.0
    (pid,) = STATE["pids"]
    deadline = time.monotonic() + 1
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)
    assert recorder.of("run_finished")[0].status == "cancelled"
    assert "x" not in [e.node_id for e in recorder.of("node_started")]


def test_cancel_from_the_executor_and_before_start():
    registry = make_registry()
    document = doc([("w", "t.sleep", {"seconds": 30})])

    async def main():
        executor = Executor(document, registry)
        task = asyncio.create_task(executor.run())
        await asyncio.sleep(0.05)
        executor.cancel()
        return await asyncio.wait_for(task, 1.0)

    assert asyncio.run(main()).status == "cancelled"
    executor = Executor(document, registry)
    executor.cancel()
    assert asyncio.run(executor.run()).status == "cancelled"
    event = asyncio.Event  # an asyncio.Event works as cancel_event too

    async def with_event():
        ev = event()
        task = asyncio.create_task(Executor(document, registry, cancel_event=ev).run())
        await asyncio.sleep(0.05)
        ev.set()
        return await asyncio.wait_for(task, 1.0)

    assert asyncio.run(with_event()).status == "cancelled"


def test_a_listener_that_raises_never_kills_the_run(caplog):
    registry = make_registry()

    def bad(event):
        raise RuntimeError("listener bug")

    recorder = Recorder()
    outcome = run(
        doc([("s", "t.start"), ("a", "t.set")], ["s->a"]), registry, listeners=[bad, recorder]
    )
    assert outcome.status == "completed"
    assert recorder.kinds()[-1] == "run_finished"
    assert "event listener" in caplog.text


def test_log_lines_reach_listeners():
    registry = make_registry()
    recorder = Recorder()
    run(
        doc([("s", "t.start"), ("l", "t.log")], ["s->l"]),
        registry,
        run_input=3,
        listeners=[recorder],
    )
    lines = [(e.node_id, e.node_type, e.level, e.message, e.data) for e in recorder.of("log")]
    assert lines == [
        ("l", "t.log", "info", "got 3", {"value": 3}),
        ("l", "t.log", "warn", "careful", None),
    ]


def test_loop_body_runs_once_per_item_through_run_subgraph():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("loop", "t.loop", {"concurrency": 2}),
            ("double", "t.echo", {"value": "{{ input * 2 }}"}),
            ("plus", "t.echo", {"value": "{{ input + nodes.s.output|length }}"}),
            ("done", "t.collect"),
        ],
        ["s->loop", "loop:item->double", "double->plus", "loop:done->done"],
    )
    recorder = Recorder()
    outcome = run(document, registry, run_input=[1, 2, 3], listeners=[recorder])
    assert outcome.status == "completed", outcome.error
    assert STATE["collected"]["done"] == {"input": [5, 7, 9]}
    assert len([e for e in recorder.of("node_finished") if e.node_id == "double"]) == 3
    assert outcome.leaves == ["done"]


def test_a_failing_body_fails_the_loop_node():
    registry = make_registry()
    document = doc(
        [("s", "t.start"), ("loop", "t.loop"), ("f", "t.fail", {"message": "item broke"})],
        ["s->loop", "loop:item->f"],
    )
    outcome = run(document, registry, run_input=[1])
    assert outcome.status == "failed"
    assert outcome.error == "node loop: node f: item broke"


def test_sub_workflows_run_inline_and_stop_at_the_depth_limit():
    registry = make_registry()
    child = {
        "nodes": [
            {"id": "cs", "type": "t.start"},
            {"id": "cx", "type": "t.echo", "data": {"fields": {"value": "{{ input + 1 }}"}}},
        ],
        "edges": [{"id": 1, "source": "cs", "target": "cx"}],
    }
    document = doc([("s", "t.start"), ("sub", "t.sub", {"workflow": child})], ["s->sub"])
    recorder = Recorder()
    outcome = run(document, registry, run_input=41, listeners=[recorder])
    assert outcome.result == 42
    assert "sub/cx" in [e.node_id for e in recorder.of("node_finished")]

    recursive = doc([("s", "t.start"), ("again", "t.sub", {"workflow": "self"})], ["s->again"])
    outcome = run(
        recursive, registry, workflow_loader=lambda ref: recursive, max_depth=3, run_input=0
    )
    assert outcome.status == "failed"
    assert "sub-workflow depth limit (3) reached" in outcome.error

    outcome = run(doc([("sub", "t.sub", {"workflow": "by-name"})]), registry)
    assert (
        outcome.error == "node sub: cannot load workflow 'by-name': no workflow store in this run"
    )
    bad_child = {"nodes": [{"id": "q", "type": "t.unknown"}]}
    outcome = run(doc([("sub", "t.sub", {"workflow": bad_child})]), registry)
    assert "cannot run: 1 problem" in outcome.error and "unknown node type" in outcome.error


def test_credentials_are_loaded_for_nodes_that_need_them():
    class Store:
        def problem(self, binding, credential_type):
            return None

        def load(self, binding, credential_type):
            return {"token": f"tok-{binding['integrationId']}-{credential_type}"}

    registry = make_registry()
    document = doc([("c", "t.cred", {}, {"credential": {"integrationId": "7"}})])
    assert run(document, registry, credentials=Store()).result == {"token": "tok-7-token"}
    outcome = run(document, registry)
    assert outcome.error == (
        "node c: needs a 'token' credential, but no credential store is available to this run"
    )


def test_long_chains_need_no_recursion_and_keep_only_what_is_needed():
    registry = make_registry()
    count = 3000
    nodes = [("s", "t.start")] + [(f"n{i}", "t.set", {"values": {"k": i}}) for i in range(count)]
    edges = ["s->n0"] + [f"n{i}->n{i + 1}" for i in range(count - 1)]
    document = doc(nodes, edges)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        outcome = run(document, registry, run_input={})
    finally:
        sys.setrecursionlimit(limit)
    assert outcome.status == "completed"
    assert outcome.result == {"k": count - 1}
    assert list(outcome.outputs) == [f"n{count - 1}"]  # no expression reads `nodes`
    plan = Plan(document, registry)
    assert plan.uses_nodes is False


def test_a_plan_can_be_reused():
    registry = make_registry()
    document = doc([("s", "t.start"), ("a", "t.set", {"values": {"x": 1}})], ["s->a"])
    plan = Plan(document, registry)
    for value in (1, 2):
        outcome = asyncio.run(Executor(document, registry, plan=plan, run_input={"v": value}).run())
        assert outcome.result == {"v": value, "x": 1}


@pytest.mark.parametrize("empty", [doc([]), doc([("a", "t.set")], [])])
def test_trivial_documents_complete(empty):
    assert run(empty, make_registry()).status == "completed"
