"""Preflight checks typed ports with the editor's answer: If's boolean ``condition`` input,
and GitHub's output whose type follows its operation (a list for the list operations)."""

from __future__ import annotations

from typing import Any

from support.documents import edge_dicts

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.nodes.registry import default_registry

REPO = {"owner": "octo", "repo": "demo"}


def _doc(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[str]) -> WorkflowDocument:
    """Nodes ``(id, type, fields)`` with the ports the editor stores, wired by ``edges``."""
    registry = default_registry()
    doc_nodes = []
    for node_id, key, fields in nodes:
        cls = registry.get(key)
        doc_nodes.append(
            {
                "id": node_id,
                "type": key,
                "data": {"label": node_id.title(), "nodeType": key, "fields": fields},
                "inputs": [{"name": p.name, "type": p.type} for p in cls.inputs],
                "outputs": [{"name": p.name, "type": p.type} for p in cls.outputs],
            }
        )
    return WorkflowDocument.model_validate({"nodes": doc_nodes, "edges": edge_dicts(edges)})


def _port_problems(document: WorkflowDocument) -> list[tuple[int | None, str]]:
    return [
        (p.edge_id, p.message)
        for p in preflight(document, default_registry())
        if p.kind == "port_type"
    ]


def test_an_object_or_a_list_into_the_if_condition_is_reported() -> None:
    document = _doc(
        [
            ("start", "manual", {}),
            ("fetch", "http_request", {"url": "http://127.0.0.1:9/x"}),
            ("join", "merge", {}),
            ("check", "if", {}),
        ],
        ["start -> fetch", "fetch -> check:condition", "join -> check:condition"],
    )
    problems = _port_problems(document)
    assert [edge for edge, _ in problems] == [2, 3]
    assert problems[0][1] == (
        "edge 2 connects node 'Fetch' (fetch) output 'output' (object) to input "
        "'condition' (boolean): it gives an object but the input takes true/false"
    )
    assert "output 'output' (array) to input 'condition' (boolean)" in problems[1][1]
    assert "it gives a list (array) but the input takes true/false" in problems[1][1]


def test_an_untyped_output_may_feed_the_condition() -> None:
    document = _doc(
        [
            ("start", "manual", {}),
            ("decide", "code", {"code": "result = True"}),
            ("check", "if", {}),
        ],
        ["start -> decide", "start -> check:condition", "decide -> check:condition"],
    )
    assert _port_problems(document) == []


def test_github_list_operations_give_a_list() -> None:
    document = _doc(
        [
            ("start", "manual", {}),
            ("issues", "github", {**REPO, "operation": "list_issues"}),
            ("check", "if", {}),
            ("post", "slack", {"channel": "#x", "text": "hi"}),
            ("keep", "set", {}),
        ],
        [
            "start -> issues",
            "issues -> check:condition",
            "issues -> post",
            "issues -> keep",  # any takes a list
        ],
    )
    problems = dict(_port_problems(document))
    assert set(problems) == {2, 3}
    assert "output 'output' (array) to input 'condition' (boolean)" in problems[2]
    assert "output 'output' (array) to input 'input' (object)" in problems[3]
    assert "put a Loop over items between them" in problems[3]


def test_changing_the_operation_after_the_wire_exists_is_reported() -> None:
    document = _doc(
        [
            ("start", "manual", {}),
            ("issue", "github", {**REPO, "operation": "get_issue", "number": 3}),
            ("post", "slack", {"channel": "#x", "text": "hi"}),
        ],
        ["start -> issue", "issue -> post"],
    )
    assert _port_problems(document) == []  # one issue is an object: Slack takes it
    document.find_node("issue").data.fields["operation"] = "list_issues"
    ((edge, message),) = _port_problems(document)
    assert edge == 2
    assert "output 'output' (array) to input 'input' (object)" in message
    # An operation written as an expression is only known at run time: not reported.
    document.find_node("issue").data.fields["operation"] = "{{ input.op }}"
    assert _port_problems(document) == []
