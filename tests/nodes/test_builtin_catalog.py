"""The built-in catalog as a whole: every key registered with a sound declaration."""

from __future__ import annotations

import pytest

from glyphic_desktop.nodes.base import NodeType
from glyphic_desktop.nodes.builtin import MODULES, load_all
from glyphic_desktop.nodes.registry import default_registry, validate_declaration

EXPECTED = {
    "Triggers": {"manual", "schedule", "webhook"},
    "Flow": {"if", "switch", "merge", "loop", "delay", "stop_error", "subworkflow"},
    "Data": {"set", "code", "log", "read_file", "write_file", "run_command"},
    "Network": {"http_request"},
    "Integrations": {"gmail", "slack", "github"},
}


def test_every_builtin_key_is_registered_in_its_category() -> None:
    load_all()
    registry = default_registry()
    assert not [e for e in registry.load_errors if "builtin" in e]
    for category, keys in EXPECTED.items():
        for key in keys:
            cls = registry.get(key)
            assert cls is not None, key
            assert cls.category == category, key
    grouped = registry.by_category()
    builtin_keys = {cls.key for cls in grouped["Triggers"]}
    assert builtin_keys >= EXPECTED["Triggers"]


@pytest.mark.parametrize("key", sorted(set().union(*EXPECTED.values())))
def test_declaration_is_complete(key: str) -> None:
    cls: type[NodeType] = default_registry().get(key)  # type: ignore[assignment]
    validate_declaration(cls)
    assert cls.title and cls.description and cls.icon != "node"
    assert cls.__module__.removeprefix("glyphic_desktop.nodes.builtin.") in MODULES
    schema = cls.Fields.model_json_schema()
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{key}.{name} has no description"
    assert cls.is_trigger == (cls.category == "Triggers")
    if cls.is_trigger:
        assert cls.inputs == ()


def test_credential_types_and_widget_hints() -> None:
    registry = default_registry()
    assert registry.get("gmail").credential_type == "smtp"
    assert registry.get("slack").credential_type == "slack"
    assert registry.get("github").credential_type == "github"
    http = registry.get("http_request")
    assert http.credential_type is None
    assert http.credential_types == ("http_header", "http_basic", "bearer")
    code_schema = registry.get("code").Fields.model_json_schema()
    assert code_schema["properties"]["code"]["widget"] == "code"
    gmail_schema = registry.get("gmail").Fields.model_json_schema()
    assert gmail_schema["properties"]["messageBody"]["widget"] == "multiline"
    assert set(gmail_schema["properties"]) >= {"to", "subject", "messageBody"}


def test_engine_attributes() -> None:
    registry = default_registry()
    assert registry.get("merge").runs_on_partial_skip is True
    assert registry.get("loop").body_ports == ("item",)
    assert [p.name for p in registry.get("switch").outputs][-1] == "fallback"
    assert [p.name for p in registry.get("merge").inputs] == [
        "input_1",
        "input_2",
        "input_3",
        "input_4",
    ]
    assert registry.get("stop_error").outputs == ()
