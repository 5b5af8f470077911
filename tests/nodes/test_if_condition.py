"""If's typed ``condition`` input and GitHub's output type that follows its operation.

The condition port decides the branch when a wire feeds it (the fields are then not used);
a value that is not a real true/false fails the node naming it and what it got; unwired,
and in a document saved before the port existed, the fields decide as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from node_helpers import execute_doc, run_node, workflow

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType
from glyphic_desktop.nodes.builtin.flow import IfNode
from glyphic_desktop.nodes.builtin.integrations import GitHubNode
from glyphic_desktop.nodes.ports import output_port_type, output_port_types
from glyphic_desktop.nodes.registry import NodeDeclarationError, NodeRegistry, default_registry

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "resources" / "examples" / "branching-if-switch.json"
)
# Fields whose own test is always false: the wired condition must overrule them.
ALWAYS_FALSE = {"value": 1, "operator": "equals", "compare_to": 2}


def test_if_declares_an_optional_boolean_condition_input() -> None:
    port = IfNode.input_port("condition")
    assert port is not None and port.type == "boolean" and port.title == "Condition"
    assert not port.required
    assert [p.name for p in IfNode.inputs] == ["input", "condition"]
    assert "Condition input" in IfNode.Fields.model_fields["value"].description
    assert "Condition input" in IfNode.description


@pytest.mark.parametrize("decided", [True, False])
def test_a_wired_condition_decides_and_the_fields_are_not_used(decided: bool) -> None:
    item = {"id": 7}
    run = run_node(IfNode, ALWAYS_FALSE, inputs={"input": item, "condition": decided})
    assert run.outputs == {("true" if decided else "false"): item}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("yes", "text ('yes')"),
        (1, "a number (1)"),
        (None, "null"),
        ({"ok": True}, "an object"),
        ([True, False], "a list (2 values)"),
    ],
)
def test_a_condition_that_is_not_a_boolean_fails_naming_what_it_got(value, named) -> None:
    with pytest.raises(NodeError) as caught:
        run_node(IfNode, ALWAYS_FALSE, inputs={"input": {}, "condition": value})
    assert str(caught.value) == (f"input 'condition' takes true/false (a boolean), got {named}")


def test_unwired_condition_keeps_the_fields_test() -> None:
    fields = {"value": 5, "operator": "gt", "compare_to": 3}
    assert run_node(IfNode, fields, inputs={"input": "x"}).outputs == {"true": "x"}


def _condition_doc(code: str) -> WorkflowDocument:
    return workflow(
        [
            {"id": "start", "type": "manual"},
            {"id": "decide", "type": "code", "label": "Decide", "fields": {"code": code}},
            {"id": "check", "type": "if", "label": "Big?", "fields": ALWAYS_FALSE},
            {"id": "yes", "type": "log", "fields": {"message": "big {{ input.total }}"}},
            {"id": "no", "type": "log", "fields": {"message": "small {{ input.total }}"}},
        ],
        [
            "start -> check",
            "start -> decide",
            "decide -> check:condition",
            "check:true -> yes",
            "check:false -> no",
        ],
    )


def test_engine_routes_by_the_condition_port_and_carries_the_input_item() -> None:
    doc = _condition_doc("result = input['total'] > 100")
    assert preflight(doc, default_registry()) == []
    big = execute_doc(doc, run_input={"total": 150})
    assert big.status == "completed"
    assert big.ran("yes") and big.skipped("no")
    assert big.output("check", "true") == {"total": 150}
    small = execute_doc(doc, run_input={"total": 5})
    assert small.ran("no") and small.skipped("yes")
    assert small.output("check", "false") == {"total": 5}


def test_engine_fails_the_if_node_on_a_condition_that_is_not_a_boolean() -> None:
    run = execute_doc(_condition_doc("result = 'yes'"), run_input={"total": 150})
    assert run.status == "failed"
    assert run.error == (
        "node 'Big?' (check): input 'condition' takes true/false (a boolean), got text ('yes')"
    )
    assert not run.ran("yes") and not run.ran("no")


def test_a_wired_condition_leaves_the_fields_expressions_unrendered() -> None:
    # Nothing feeds `input`, so this expression fails whenever it is rendered.
    fields = {"value": "{{ input.order.total }}", "operator": "gt", "compare_to": 100}
    doc = workflow(
        [
            {"id": "start", "type": "manual"},
            {"id": "check", "type": "if", "label": "C", "fields": fields},
            {"id": "yes", "type": "log", "fields": {"message": "yes"}},
        ],
        ["start -> check:condition", "check:true -> yes"],
    )
    run = execute_doc(doc, run_input=True)
    assert run.status == "completed" and run.ran("yes")
    # Unwired, the same fields decide (and fail the same way as before the port existed).
    doc.edges[0].targetHandle = "input"
    run = execute_doc(doc, run_input=None)
    assert run.status == "failed"
    assert "field 'value': expression '{{ input.order.total }}' failed" in run.error


def test_fields_unused_with_must_name_declared_inputs() -> None:
    class Declared(NodeType):
        key, title, category = "x.unused", "Unused", "Flow"
        fields_unused_with = ("nowhere",)

        async def run(self, ctx: NodeContext):
            return {}

    with pytest.raises(NodeDeclarationError) as info:
        NodeRegistry().register(Declared)
    assert "fields_unused_with names 'nowhere', which is not a declared input" in str(info.value)


def test_a_document_saved_before_the_condition_port_loads_and_runs_unchanged() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    raw = json.loads(text)
    (if_node,) = [n for n in raw["nodes"] if n["type"] == "if"]
    assert [p["name"] for p in if_node["inputs"]] == ["input"]  # stored before the port
    doc = WorkflowDocument.model_validate(raw)
    assert preflight(doc, default_registry()) == []
    run = execute_doc(doc)
    assert run.status == "completed"
    assert run.ran("node-3") and run.skipped("node-7")  # total 250 > 100: the true branch
    # Nothing was added to the document by loading or running it.
    assert doc.to_data() == WorkflowDocument.model_validate(json.loads(text)).to_data()
    assert [p.name for p in doc.find_node("node-2").inputs] == ["input"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"operation": "list_issues"}, "array"),
        ({"operation": "list_pulls"}, "array"),
        ({"operation": "get_issue"}, "object"),
        ({"operation": "create_issue"}, "object"),
        ({}, "object"),  # the default operation, create_issue
        ({"operation": "{{ input.op }}"}, "any"),  # only known when it runs
        ({"operation": "no_such_thing"}, "any"),
        ({"operation": ["list_issues"]}, "any"),
    ],
)
def test_github_output_type_follows_the_operation(fields, expected) -> None:
    assert output_port_types(GitHubNode, fields) == {"output": expected}
    assert output_port_type(GitHubNode, fields, "output") == expected
    assert output_port_type(GitHubNode, fields, "error") == "object"
    assert output_port_type(GitHubNode, fields, "nope") is None


def test_other_types_keep_their_declared_output_types() -> None:
    registry = default_registry()
    http = registry.get("http_request")
    assert output_port_types(http, {"url": "x"}) == {"output": "object", "file": "file"}
    assert output_port_types(registry.get("merge"), None) == {"output": "array"}


def test_a_hook_that_raises_or_answers_nonsense_leaves_the_declared_types() -> None:
    class Raising(GitHubNode):
        @classmethod
        def output_types(cls, fields):
            raise RuntimeError("broken plugin")

    class Nonsense(GitHubNode):
        @classmethod
        def output_types(cls, fields):
            return {"output": "banana", "extra": "array"}

    assert output_port_types(Raising, {"operation": "list_issues"}) == {"output": "any"}
    assert output_port_types(Nonsense, {"operation": "list_issues"}) == {"output": "any"}
