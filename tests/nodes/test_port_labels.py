"""Output port labels for the canvas: a Switch's outputs carry its rules' names."""

from __future__ import annotations

from glyphic_desktop.document.model import Node
from glyphic_desktop.nodes.base import NodeType, PortSpec
from glyphic_desktop.nodes.ports import output_port_labels
from glyphic_desktop.nodes.registry import NodeRegistry


def _node(node_type: str, fields: dict | None = None, **extra) -> Node:
    return Node.model_validate(
        {"id": "n", "type": node_type, "data": {"fields": fields or {}}, **extra}
    )


def test_switch_outputs_are_named_after_their_rules():
    rules = [
        {"operator": "equals", "compare_to": "paid", "label": ""},
        {"operator": "contains", "compare_to": "refund", "label": "Refunds"},
        {"operator": "is_empty"},
        {"operator": "equals", "compare_to": "x" * 100},
    ]
    labels = output_port_labels(_node("switch", {"rules": rules}))
    assert labels["case_0"] == "equals 'paid'"
    assert labels["case_1"] == "Refunds"
    assert labels["case_2"] == "is empty"
    assert len(labels["case_3"]) == 40 and labels["case_3"].endswith("…")
    assert labels["case_4"] == "Rule 4"  # not configured: the port's title
    assert labels["fallback"] == "Fallback"


def test_labels_never_break_on_fields_as_written():
    # An expression instead of the rule list, junk rules: titles, no exception.
    assert output_port_labels(_node("switch", {"rules": "{{ input.rules }}"}))["case_0"] == "Rule 0"
    labels = output_port_labels(_node("switch", {"rules": ["junk", None, {"label": 5}]}))
    assert labels["case_0"] == "Rule 0" and labels["case_2"] == "equals"


def test_other_types_use_their_port_titles_and_unknown_types_the_document():
    assert output_port_labels(_node("if")) == {"true": "True", "false": "False"}
    unknown = _node("no.such.type", outputs=[{"name": "out"}, {"name": "err"}])
    assert output_port_labels(unknown) == {"out": "out", "err": "err"}


def test_a_type_whose_labels_raise_falls_back_to_titles():
    class Broken(NodeType):
        key = "t.broken_labels"
        title = "Broken"
        category = "Data"
        outputs = (PortSpec("output", title="Out"),)

        @classmethod
        def output_labels(cls, fields):
            raise RuntimeError("bug")

        async def run(self, ctx):
            return {}

    registry = NodeRegistry()
    registry.register(Broken)
    assert output_port_labels(_node("t.broken_labels"), registry) == {"output": "Out"}
