"""If, Switch, Merge, Delay, Stop with error, Loop and Run sub-workflow run directly."""

from __future__ import annotations

import asyncio
import time

import pytest
from node_helpers import make_context, run_node
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError, SubgraphResult
from glyphic_desktop.nodes.builtin.conditions import ConditionError, evaluate
from glyphic_desktop.nodes.builtin.flow import (
    DelayNode,
    IfNode,
    MergeNode,
    StopErrorNode,
    SwitchNode,
)
from glyphic_desktop.nodes.builtin.flow_graph import LoopNode, SubworkflowNode


@pytest.mark.parametrize(
    ("value", "operator", "other", "expected"),
    [
        ("a", "equals", "a", True),
        (3, "equals", "3", True),
        (3.0, "equals", 3, True),
        (True, "equals", "true", True),
        ("a", "not_equals", "b", True),
        ("hello world", "contains", "lo w", True),
        ([1, 2, 3], "contains", 2, True),
        ({"k": 1}, "contains", "k", True),
        (None, "contains", "x", False),
        ("hello", "not_contains", "z", True),
        ("report.csv", "ends_with", ".csv", True),
        ("report.csv", "starts_with", "rep", True),
        ("abc123", "matches", r"\d+$", True),
        (10, "gt", 9, True),
        ("10", "gt", "9", True),
        (5, "gte", 5, True),
        (2, "lt", 3.5, True),
        (2, "lte", 1, False),
        ("b", "gt", "a", True),
        ("", "is_empty", None, True),
        ([], "is_empty", None, True),
        (None, "is_empty", None, True),
        (0, "is_empty", None, False),
        ({"a": 1}, "is_not_empty", None, True),
        ("yes", "is_true", None, True),
        ("false", "is_true", None, False),
        (0, "is_false", None, True),
    ],
)
def test_operators(value, operator, other, expected) -> None:
    assert evaluate(value, operator, other) is expected


def test_case_insensitive_and_errors() -> None:
    assert evaluate("ABC", "equals", "abc", case_sensitive=False)
    assert not evaluate("ABC", "equals", "abc")
    with pytest.raises(ConditionError, match="compares numbers"):
        evaluate({"a": 1}, "gt", 3)
    with pytest.raises(ConditionError, match="regular expression"):
        evaluate("x", "matches", "(")


def test_if_takes_one_branch_only() -> None:
    item = {"status": "ok"}
    taken = run_node(
        IfNode, {"value": "ok", "operator": "equals", "compare_to": "ok"}, inputs={"input": item}
    )
    assert taken.outputs == {"true": item}
    other = run_node(
        IfNode, {"value": 1, "operator": "gt", "compare_to": 5}, inputs={"input": item}
    )
    assert other.outputs == {"false": item}


def test_if_incomparable_values_fail_naming_the_field() -> None:
    with pytest.raises(NodeError) as caught:
        run_node(IfNode, {"value": [1], "operator": "lt", "compare_to": 2})
    assert caught.value.field == "value"
    assert "cannot be evaluated" in str(caught.value)


def test_if_wrong_field_type() -> None:
    with pytest.raises(ValidationError) as caught:
        IfNode.Fields.model_validate({"operator": "bigger"})
    assert caught.value.errors()[0]["loc"] == ("operator",)


def test_switch_first_match_all_matches_and_fallback() -> None:
    rules = [
        {"operator": "equals", "compare_to": "book"},
        {"operator": "contains", "compare_to": "o"},
        {"operator": "equals", "compare_to": "tool"},
    ]
    first = run_node(SwitchNode, {"value": "tool", "rules": rules}, inputs={"input": 1})
    assert first.outputs == {"case_1": 1}
    every = run_node(
        SwitchNode, {"value": "tool", "rules": rules, "all_matches": True}, inputs={"input": 1}
    )
    assert every.outputs == {"case_1": 1, "case_2": 1}
    none = run_node(SwitchNode, {"value": "pen", "rules": rules}, inputs={"input": 1})
    assert none.outputs == {"fallback": 1}


def test_switch_limits_rules_and_names_a_failing_rule() -> None:
    with pytest.raises(ValidationError, match="at most 8"):
        SwitchNode.Fields.model_validate({"rules": [{"operator": "is_true"}] * 9})
    with pytest.raises(NodeError) as caught:
        run_node(
            SwitchNode,
            {
                "value": {"a": 1},
                "rules": [{"operator": "is_false"}, {"operator": "gt", "compare_to": 1}],
            },
        )
    assert caught.value.field == "rules.1"


def test_merge_modes() -> None:
    a = [{"id": 1, "x": "a1"}, {"id": 2, "x": "a2"}]
    b = [{"id": 2, "y": "b2"}, {"id": 3, "y": "b3"}]
    inputs = {"input_1": a, "input_3": b}
    assert run_node(MergeNode, {"mode": "append"}, inputs=inputs).output == a + b
    assert run_node(MergeNode, {"mode": "by_position"}, inputs=inputs).output == [
        {"id": 2, "x": "a1", "y": "b2"},
        {"id": 3, "x": "a2", "y": "b3"},
    ]
    assert run_node(MergeNode, {"mode": "by_key", "key": "id"}, inputs=inputs).output == [
        {"id": 1, "x": "a1"},
        {"id": 2, "x": "a2", "y": "b2"},
        {"id": 3, "y": "b3"},
    ]
    inner = run_node(MergeNode, {"mode": "by_key", "keep_unmatched": False}, inputs=inputs).output
    assert inner == [{"id": 2, "x": "a2", "y": "b2"}]
    # A single value is one item; a skipped (absent) input adds nothing.
    assert run_node(MergeNode, {}, inputs={"input_2": {"solo": True}}).output == [{"solo": True}]


def test_merge_by_key_bad_items() -> None:
    with pytest.raises(NodeError, match="item 0 of input_2 is int"):
        run_node(MergeNode, {"mode": "by_key"}, inputs={"input_1": [{"id": 1}], "input_2": [5]})
    with pytest.raises(NodeError, match="has no field 'sku'") as caught:
        run_node(MergeNode, {"mode": "by_key", "key": "sku"}, inputs={"input_1": [{"id": 1}]})
    assert caught.value.field == "key"


def test_delay_waits_and_is_cancellable() -> None:
    started = time.perf_counter()
    assert run_node(DelayNode, {"seconds": 0.2}, inputs={"input": "x"}).output == "x"
    assert time.perf_counter() - started >= 0.2

    async def cancel_soon() -> float:
        task = asyncio.create_task(DelayNode().run(make_context(DelayNode, {"seconds": 60})))
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - t0

    assert asyncio.run(cancel_soon()) < 0.5
    with pytest.raises(ValidationError):
        DelayNode.Fields.model_validate({"seconds": "soon"})
    with pytest.raises(ValidationError):
        DelayNode.Fields.model_validate({"seconds": -1})


def test_stop_error_raises_its_message() -> None:
    with pytest.raises(NodeError, match=r"^Budget exceeded$") as caught:
        run_node(StopErrorNode, {"message": "Budget exceeded"})
    assert caught.value.field == "message"


class BodyServices:
    """A stand-in for the engine's body runner (the real one is tested in workflows)."""

    depth = 0

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def run_subgraph(self, port: str, value):
        assert port == "item"
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.02 if value % 2 else 0.05)
        self.running -= 1
        if value == 99:
            raise NodeError("node 'Body' (b): boom")
        if value < 0:
            return SubgraphResult({}, [], None)
        return SubgraphResult({"b": {"output": value * 10}}, ["b"], value * 10)


def test_loop_collects_in_order_with_concurrency() -> None:
    services = BodyServices()
    result = run_node(
        LoopNode, {"concurrency": 3}, inputs={"input": [1, 2, -1, 3, 4, 5]}, services=services
    )
    assert result.outputs == {"done": [10, 20, 30, 40, 50]}
    assert services.peak == 3
    serial = BodyServices()
    run_node(LoopNode, {"items": [1, 2, 3]}, services=serial)
    assert serial.peak == 1


def test_loop_failure_names_the_item() -> None:
    with pytest.raises(NodeError, match=r"^item 1: node 'Body' \(b\): boom$"):
        run_node(LoopNode, {"items": [1, 99, 3]}, services=BodyServices())


def test_loop_without_engine_service_says_so() -> None:
    with pytest.raises(NodeError, match="run_subgraph"):
        run_node(LoopNode, {"items": [1]})
    with pytest.raises(ValidationError):
        LoopNode.Fields.model_validate({"concurrency": 0})


def test_subworkflow_passes_input_and_guards_depth() -> None:
    calls = []

    class Services:
        depth = 0

        async def run_workflow(self, ref, input=None):
            calls.append((ref, input))
            return {"doubled": input["n"] * 2}

    out = run_node(
        SubworkflowNode, {"workflow": "Double it"}, inputs={"input": {"n": 4}}, services=Services()
    )
    assert out.output == {"doubled": 8}
    assert calls == [("Double it", {"n": 4})]
    deep = Services()
    deep.depth = 3
    with pytest.raises(NodeError, match="exceeds max_depth 3") as caught:
        run_node(SubworkflowNode, {"workflow": "x", "max_depth": 3}, services=deep)
    assert caught.value.field == "max_depth"
    with pytest.raises(ValidationError):
        SubworkflowNode.Fields.model_validate({"workflow": ""})
