"""Expressions: rendering, native types, the context names, errors and the sandbox."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.helpers import doc, make_registry, run
from glyphic_desktop.engine.expressions import (
    ExpressionError,
    NodesView,
    check_syntax,
    has_expression,
    iter_expressions,
    render_fields,
    render_string,
)

CTX = {"input": {"count": 2, "name": "Ada", "tags": ["a", "b"]}, "env": {}}


def test_a_lone_expression_keeps_its_type():
    assert render_string("{{ input.count + 1 }}", CTX) == 3
    assert render_string("  {{ input.tags }} ", CTX) == ["a", "b"]
    assert render_string("{{ input }}", CTX) == CTX["input"]
    assert render_string("{{ input.count > 1 }}", CTX) is True
    assert render_string("{{ none }}", {"none": None}) is None


def test_text_around_expressions_makes_a_string():
    assert render_string("Hi {{ input.name }}!", CTX) == "Hi Ada!"
    assert render_string("{{ input.count }}{{ input.count }}", CTX) == "22"
    assert render_string("{% if true %}x{% endif %} {{ 1 }}", CTX) == "x 1"
    assert render_string("no braces {% here %}", CTX) == "no braces {% here %}"


def test_rendering_goes_into_dicts_and_lists():
    fields = {
        "static": 5,
        "headers": {"X-Name": "{{ input.name }}", "n": ["{{ input.count * 10 }}", "k"]},
    }
    out = render_fields(fields, CTX)
    assert out == {"static": 5, "headers": {"X-Name": "Ada", "n": [20, "k"]}}
    assert fields["headers"]["X-Name"] == "{{ input.name }}"  # not changed in place
    assert has_expression(fields) and not has_expression({"a": [1, "b"]})
    assert list(iter_expressions(fields, "")) == [
        ("headers.X-Name", "{{ input.name }}"),
        ("headers.n[0]", "{{ input.count * 10 }}"),
    ]


def test_nodes_by_id_and_label():
    view = NodesView({"n1": {"output": {"v": 7}}}, {"Fetch": "n1"})
    ctx = {"nodes": view}
    assert render_string("{{ nodes.n1.output.v }}", ctx) == 7
    assert render_string("{{ nodes['Fetch'].output.v }}", ctx) == 7
    assert "Fetch" in view and "n1" in view and len(view) == 1
    with pytest.raises(ExpressionError, match=r"nodes\.nope"):
        render_string("{{ nodes.nope.output }}", ctx, "f")


def test_undefined_names_fail_naming_field_and_expression():
    with pytest.raises(ExpressionError) as info:
        render_string("{{ missing + 1 }}", CTX, "headers.X")
    assert info.value.field == "headers.X"
    assert "field 'headers.X'" in str(info.value)
    assert "{{ missing + 1 }}" in str(info.value)
    assert "'missing' is undefined" in str(info.value)


def test_runtime_errors_fail_the_same_way():
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        render_string("{{ 1 / 0 }}", CTX, "x")


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ input.__class__ }}",
        "x {{ ().__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_escapes_are_refused(text):
    with pytest.raises(ExpressionError) as info:
        render_string(text, {**CTX, "cycler": object()}, "f")
    message = str(info.value)
    assert "field 'f'" in message
    assert "sandbox" in message or "undefined" in message


def test_syntax_check():
    assert check_syntax("{{ a + }}")
    assert check_syntax("{{ a.b }} and {{ c }}") is None
    assert check_syntax("plain text") is None
    with pytest.raises(ExpressionError, match="does not parse"):
        render_string("{{ a + }}", CTX, "f")


def test_expressions_in_a_run_see_input_nodes_execution_env_now(monkeypatch):
    monkeypatch.setenv("GLYPHIC_TEST_ALLOWED", "yes")
    monkeypatch.setenv("GLYPHIC_TEST_SECRET", "no")
    registry = make_registry()
    document = doc(
        [
            ("s", "t.start"),
            ("a", "t.set", {"values": {"n": "{{ input.n * 2 }}"}}, {"label": "Double"}),
            (
                "e",
                "t.echo",
                {
                    "value": {
                        "by_label": "{{ nodes['Double'].output.n }}",
                        "by_id": "{{ nodes.a.output.n + 1 }}",
                        "exec": "{{ execution.id }}/{{ execution.trigger }}",
                        "env": "{{ env.GLYPHIC_TEST_ALLOWED }}",
                        "year": "{{ now.year }}",
                        "input": "{{ input.n }}",
                    }
                },
            ),
        ],
        ["s->a", "a->e"],
        config={"allowedEnv": ["GLYPHIC_TEST_ALLOWED"]},
    )
    outcome = run(document, registry, run_input={"n": 21}, execution_id="ex-1")
    assert outcome.status == "completed", outcome.error
    assert outcome.result == {
        "by_label": 42,
        "by_id": 43,
        "exec": "ex-1/manual",
        "env": "yes",
        "year": datetime.now().year,
        "input": 42,
    }


def test_env_not_allowed_fails_the_node_naming_the_field(monkeypatch):
    monkeypatch.setenv("GLYPHIC_TEST_SECRET", "no")
    registry = make_registry()
    document = doc(
        [("s", "t.start"), ("e", "t.echo", {"value": "{{ env.GLYPHIC_TEST_SECRET }}"})],
        ["s->e"],
    )
    outcome = run(document, registry)
    assert outcome.status == "failed"
    assert "node e: field 'value'" in outcome.error
    assert "GLYPHIC_TEST_SECRET" in outcome.error


def test_a_rendered_field_of_the_wrong_type_fails_naming_it():
    registry = make_registry()
    document = doc(
        [("s", "t.start"), ("i", "t.if", {"condition": "{{ input }}"}, {"label": "Check"})],
        ["s->i"],
    )
    outcome = run(document, registry, run_input={"not": "a bool"})
    assert outcome.status == "failed"
    assert outcome.error.startswith("node 'Check' (i): field 'condition'")


def test_sandbox_escape_in_a_run_fails_the_node():
    registry = make_registry()
    document = doc([("e", "t.echo", {"value": "{{ ''.__class__.__mro__ }}"})])
    outcome = run(document, registry)
    assert outcome.status == "failed"
    assert "field 'value'" in outcome.error and "sandbox" in outcome.error
