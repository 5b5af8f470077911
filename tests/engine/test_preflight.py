"""Preflight: every problem kind reported at once, each naming its node."""

from __future__ import annotations

from engine.helpers import doc, make_registry
from glyphic_desktop.engine.preflight import (
    PreflightFailed,
    ensure_runnable,
    find_cycles,
    preflight,
)


def _by_kind(problems):
    grouped = {}
    for problem in problems:
        grouped.setdefault(problem.kind, []).append(problem)
    return grouped


class Resolver:
    """A credential resolver that knows one integration id."""

    def problem(self, binding, credential_type):
        if binding.get("integrationId") != "known":
            return f"credential {binding.get('integrationId')} does not exist"
        return None

    def load(self, binding, credential_type):
        return {"token": "s3cret"}


def test_every_problem_kind_at_once():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("u", "t.unknown", {}, {"label": "Mystery"}),
            ("i", "t.if", {}, {"label": "Check"}),  # condition missing
            ("w", "t.sleep", {"seconds": "soon"}),  # wrong type
            ("x", "t.set", {"values": {}, "extra": 1}),  # unknown field
            ("e", "t.echo", {"value": "{{ input. }}"}, {"label": "Bad expr"}),
            ("c1", "t.cred", {}, {"label": "No cred"}),
            ("c2", "t.cred", {}, {"credential": {"integrationId": "gone"}}),
            ("c3", "t.cred", {}, {"credential": {"integrationId": "known"}}),
            ("a", "t.set", {}, {"label": "A"}),
            ("b", "t.set", {}, {"label": "B"}),
            ("ty", "t.typed"),  # required input "text" not connected
            ("n", "t.collect"),
            ("p", "t.set"),
            ("d", "t.set"),
        ],
        [
            "s->i",
            "s->ghost",  # dangling target
            "i:maybe->w",  # no such output
            "s->x:nowhere",  # no such input
            "a->b",
            "b->a",  # cycle
            "ty:number->n",  # number into any: fine
            "p->ty:text",  # any into string: fine
            "s->p",
            "s->d",
        ],
    )
    # a port type mismatch: typed.number (number) into typed.text (string)
    document = document.model_copy(deep=True)
    document.nodes.append(document.nodes[-1].model_copy(update={"id": "ty2", "type": "t.typed"}))
    document.edges.append(
        document.edges[0].model_copy(
            update={
                "id": 99,
                "source": "ty",
                "sourceHandle": "number",
                "target": "ty2",
                "targetHandle": "text",
            }
        )
    )
    problems = preflight(document, registry, credential_resolver=Resolver())
    kinds = _by_kind(problems)
    assert set(kinds) == {
        "unknown_type",
        "field",
        "expression",
        "credential",
        "dangling_edge",
        "unknown_port",
        "cycle",
        "port_type",
    }
    texts = [str(p) for p in problems]
    assert "node 'Mystery' (u): unknown node type 't.unknown'" in texts
    assert "node 'Check' (i): field 'condition' is required" in texts
    assert any(t.startswith("node w: field 'seconds'") and "'soon'" in t for t in texts)
    assert "node x: field 'extra' is not a field of this node type" in texts
    assert any(t.startswith("node 'Bad expr' (e): field 'value': expression") for t in texts)
    assert "node 'No cred' (c1): needs a 'token' credential and none is chosen" in texts
    assert "node c2: credential gone does not exist" in texts
    assert not any(p.node_id == "c3" for p in problems)
    assert any("edge 2 is dangling: its target 'ghost' is not a node" in t for t in texts)
    assert any(t.startswith("node 'Check' (i): edge 3 leaves output 'maybe'") for t in texts)
    assert any(t.startswith("node x: edge 4 enters input 'nowhere'") for t in texts)
    (cycle,) = kinds["cycle"]
    assert cycle.node_id == "a"
    assert "node 'A' (a)" in cycle.message and "node 'B' (b)" in cycle.message
    (mismatch,) = kinds["port_type"]
    assert mismatch.node_id == "ty2" and "(number)" in mismatch.message
    assert "(string)" in mismatch.message
    # required input left unconnected on ty2? No: edge 99 connects it. Everything is here.
    assert all(p.node_id or p.edge_id for p in problems)


def test_required_inputs_duplicates_and_versions():
    registry = make_registry()
    document = doc(
        [
            ("ty", "t.typed"),
            ("d", "t.set"),
            ("d", "t.set"),
            ("v", "t.set", {}, {"typeVersion": 7}),
        ]
    )
    texts = [str(p) for p in preflight(document, registry)]
    assert "node ty: input 'text' must be connected" in texts
    assert "node d: another node has the same id" in texts
    assert "node v: node type 't.set' has no version 7 (known: 1)" in texts


def test_fields_with_expressions_are_not_validated_but_parsed():
    registry = make_registry()
    document = doc(
        [
            ("s", "t.sleep", {"seconds": "{{ input.wait }}"}),
            ("i", "t.if", {"condition": "{{ input.ok }}"}),
        ]
    )
    assert preflight(document, registry) == []


def test_a_credential_without_resolver_needs_an_integration_id():
    registry = make_registry()
    document = doc(
        [
            ("a", "t.cred", {}, {"credential": {"integration": {"type": "token", "name": "Work"}}}),
            ("b", "t.cred", {}, {"credential": {"integrationId": "x"}}),
        ]
    )
    texts = [str(p) for p in preflight(document, registry)]
    assert texts == [
        "node a: needs a 'token' credential: the reference token/Work is not bound to a stored one"
    ]


def test_preflight_failed_lists_every_problem_with_exit_code_2():
    registry = make_registry()
    document = doc([("u", "t.nope"), ("v", "t.nope2")], ["u->missing"])
    try:
        ensure_runnable(document, registry, name="demo")
    except PreflightFailed as failure:
        assert failure.exit_code == 2
        lines = failure.message.splitlines()
        assert lines[0] == "workflow 'demo' cannot run: 3 problems"
        assert len(lines) == 4 and all(line.startswith("  - ") for line in lines[1:])
        assert len(failure.problems) == 3
        assert failure.problems[0].to_dict()["text"] == str(failure.problems[0])
    else:
        raise AssertionError("expected PreflightFailed")
    assert ensure_runnable(doc([("s", "t.start")]), registry) is None


def test_cycles_are_found_iteratively_in_long_graphs():
    nodes = [str(i) for i in range(5000)]
    successors = {str(i): [str(i + 1)] for i in range(4999)}
    successors["4999"] = ["0"]
    successors["10"] = ["11", "10"]
    (cycle,) = find_cycles(nodes, successors)
    assert len(cycle) == 5000
    assert find_cycles(["a"], {"a": ["a"]}) == [["a"]]
    assert find_cycles(["a", "b"], {"a": ["b"]}) == []


def test_only_small_credential_free_documents_with_short_expressions_preflight_on_the_loop():
    """The agent checks a few-node document on its event loop (a thread hop costs more);
    anything that could hold the loop (many nodes, a credential lookup in the database, a
    long expression to compile, a type it does not know) goes to a thread."""
    from glyphic_desktop.engine.runner import (
        _INLINE_EXPRESSION_CHARS,
        _INLINE_PREFLIGHT_NODES,
        _checked_inline,
    )
    from glyphic_desktop.nodes.registry import default_registry

    registry = default_registry()
    small = doc(
        [("a", "manual"), ("b", "log", {"message": "{{ input.x }}"})], ["a:output->b:input"]
    )
    assert _checked_inline(small, registry)
    many = doc([(f"n{i}", "log", {"message": "hi"}) for i in range(_INLINE_PREFLIGHT_NODES + 1)])
    assert not _checked_inline(many, registry)
    with_credential = doc([("a", "manual"), ("g", "github", {"credential": "mine"})])
    assert not _checked_inline(with_credential, registry)
    long = "{{ " + "1 + " * (_INLINE_EXPRESSION_CHARS // 4) + "1 }}"
    assert not _checked_inline(doc([("b", "log", {"message": long})]), registry)
    nested = {"fields": [{"name": "x", "value": long}]}
    assert not _checked_inline(doc([("s", "set", nested)]), registry)
    plain_text = "no expression " * 1000  # long text without {{ }} compiles to nothing
    assert _checked_inline(doc([("b", "log", {"message": plain_text})]), registry)
    assert not _checked_inline(doc([("x", "no.such.type")]), registry)
