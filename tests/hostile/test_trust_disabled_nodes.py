"""Node types disabled altogether (GLYPHIC_DISABLE_NODES, the person's setting) in
preflight, and the runs_code declaration the trust rules read from the registry."""

from __future__ import annotations

from typing import ClassVar

import pytest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.disabled_nodes import (
    disabled_node_types,
    from_env,
    parse_keys,
    write_setting,
)
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.engine.trust import outside_nodes, refused_nodes
from glyphic_desktop.nodes.base import NodeContext, NodeType
from glyphic_desktop.nodes.registry import NodeDeclarationError, NodeRegistry, default_registry


def _document() -> WorkflowDocument:
    return WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "a", "type": "manual", "data": {"label": "Start"}},
                {"id": "b", "type": "code", "data": {"label": "Py", "fields": {"code": "x=1"}}},
                {
                    "id": "c",
                    "type": "run_command",
                    "data": {"label": "Sh", "fields": {"command": ["true"]}},
                },
            ]
        }
    )


def test_preflight_names_each_node_disabled_by_the_environment(monkeypatch):
    monkeypatch.setenv("GLYPHIC_DISABLE_NODES", "code,run_command")
    problems = preflight(_document(), default_registry())
    assert [str(p) for p in problems if p.kind == "disabled_type"] == [
        "node 'Py' (b): node type 'code' is disabled by GLYPHIC_DISABLE_NODES",
        "node 'Sh' (c): node type 'run_command' is disabled by GLYPHIC_DISABLE_NODES",
    ]


def test_without_the_variable_nothing_is_disabled(monkeypatch):
    monkeypatch.delenv("GLYPHIC_DISABLE_NODES", raising=False)
    assert preflight(_document(), default_registry()) == []


def test_an_explicit_list_replaces_the_environment(monkeypatch):
    monkeypatch.setenv("GLYPHIC_DISABLE_NODES", "code")
    problems = preflight(_document(), default_registry(), disabled_types={"run_command": "X"})
    assert [p.node_id for p in problems] == ["c"]


def test_parse_keys():
    assert parse_keys(" code, run_command ,,code  http_request") == [
        "code",
        "run_command",
        "http_request",
    ]
    assert parse_keys(None) == [] and parse_keys(["a", "a", " "]) == ["a"]
    assert from_env({"GLYPHIC_DISABLE_NODES": ""}) == {}


def test_the_setting_and_the_environment_combine(db, user_id, monkeypatch):
    monkeypatch.setenv("GLYPHIC_DISABLE_NODES", "code")
    with db.session() as session:
        assert write_setting(session, user_id, ["run_command", "code"]) == ["run_command", "code"]
        disabled = disabled_node_types(session, user_id)
    assert disabled["code"] == "GLYPHIC_DISABLE_NODES"  # the environment wins
    assert disabled["run_command"].startswith("the disabled_node_types setting")


def test_code_and_run_command_declare_runs_code():
    registry = default_registry()
    assert {"code", "run_command"} <= registry.code_running_keys()
    assert "http_request" not in registry.code_running_keys()
    document = _document()
    assert outside_nodes(document, registry) == ["b", "c"]
    assert [n.id for n in refused_nodes(document, ["a", "b"], registry)] == ["b"]


class _Macro(NodeType):
    key = "test.macro"
    title = "Macro"
    category = "Test"
    runs_code: ClassVar[bool] = True
    code_fields: ClassVar[tuple[str, ...]] = ("script",)

    async def run(self, ctx: NodeContext):
        return {"output": None}


def test_a_plugin_type_that_declares_runs_code_is_held_back_too():
    registry = NodeRegistry()
    registry.merge(default_registry())
    registry.register(_Macro)
    document = WorkflowDocument.model_validate({"nodes": [{"id": "m", "type": "test.macro"}]})
    assert "test.macro" in registry.code_running_keys()
    assert [n.id for n in refused_nodes(document, ["m"], registry)] == ["m"]
    assert refused_nodes(document, ["m"], default_registry()) == []  # unknown there
    assert outside_nodes(document, default_registry()) == ["m"]  # ...but recorded


def test_a_bad_runs_code_declaration_fails_at_registration():
    class Bad(_Macro):
        key = "test.bad_macro"
        runs_code = "yes"  # type: ignore[assignment]
        code_fields = "script"  # type: ignore[assignment]

    with pytest.raises(NodeDeclarationError) as caught:
        NodeRegistry().register(Bad)
    assert "runs_code must be True or False" in str(caught.value)
    assert "code_fields must be a tuple of field names" in str(caught.value)
