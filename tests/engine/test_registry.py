"""The node registry: declaration checks, lookup, palette search, plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.helpers import ALL, make_registry
from glyphic_desktop.nodes.base import NodeContext, NodeType, PortSpec
from glyphic_desktop.nodes.registry import (
    NodeDeclarationError,
    NodeRegistry,
    catalog,
    default_registry,
    register_node,
    validate_declaration,
)


def _type(**attrs):
    async def run(self, ctx: NodeContext):
        return {"output": None}

    namespace = {"key": "x.ok", "title": "Ok", "category": "Data", "run": run, **attrs}
    return type("Declared", (NodeType,), namespace)


def test_valid_types_register_and_are_found():
    registry = make_registry()
    assert len(registry) == len(ALL)
    assert registry.get("t.set").title == "Set"
    assert "t.if" in registry
    assert registry.get("nope") is None
    assert isinstance(registry.instance(registry.get("t.set")), registry.get("t.set"))


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"key": "9bad key"}, "key '9bad key' is not valid"),
        ({"key": 5}, "key 5 is not valid"),
        ({"title": ""}, "title must be a non-empty string"),
        ({"category": None}, "category must be a non-empty string"),
        ({"version": 0}, "version must be an integer >= 1"),
        ({"inputs": (PortSpec("a"), PortSpec("a"))}, "inputs declares port 'a' twice"),
        ({"outputs": (PortSpec("o", "colour"),)}, "outputs port 'o' has type 'colour'"),
        ({"outputs": ("output",)}, "outputs holds 'output', not a PortSpec"),
        ({"Fields": dict}, "Fields must be a pydantic BaseModel subclass"),
        ({"credential_type": ""}, "credential_type must be None or a non-empty string"),
        ({"body_ports": ("loop",)}, "body_ports names 'loop', which is not a declared output"),
    ],
)
def test_bad_declarations_fail_with_a_clear_message(attrs, expected):
    with pytest.raises(NodeDeclarationError) as info:
        NodeRegistry().register(_type(**attrs))
    assert expected in info.value.message
    assert "Declared" in info.value.message  # names the class


def test_run_must_be_async_and_implemented():
    class Sync(NodeType):
        key, title, category = "x.sync", "Sync", "Data"

        def run(self, ctx):  # type: ignore[override]
            return {}

    class Missing(NodeType):
        key, title, category = "x.missing", "Missing", "Data"

    with pytest.raises(NodeDeclarationError, match="run must be an 'async def' method"):
        NodeRegistry().register(Sync)
    with pytest.raises(NodeDeclarationError, match="run is not implemented"):
        NodeRegistry().register(Missing)
    with pytest.raises(NodeDeclarationError, match="is not a NodeType subclass"):
        validate_declaration(object)


def test_several_problems_are_listed_together():
    with pytest.raises(NodeDeclarationError) as info:
        NodeRegistry().register(_type(key="", title="", version=-1))
    message = info.value.message
    assert "key" in message and "title" in message and "version" in message


def test_duplicate_key_fails_naming_both_classes():
    registry = NodeRegistry()
    registry.register(_type())
    other = _type()
    other.__qualname__ = "OtherDeclared"
    with pytest.raises(NodeDeclarationError) as info:
        registry.register(other)
    assert "'x.ok' (version 1) is already registered by" in info.value.message
    assert "Declared" in info.value.message and "OtherDeclared" in info.value.message


def test_same_class_twice_is_fine_and_versions_coexist():
    registry = NodeRegistry()
    first = _type()
    registry.register(first)
    registry.register(first)
    second = _type(version=2, title="Ok v2")
    second.__qualname__ = "DeclaredV2"
    registry.register(second)
    assert registry.versions("x.ok") == [1, 2]
    assert registry.get("x.ok") is second
    assert registry.get("x.ok", 1) is first
    assert registry.get("x.ok", 3) is None


def test_by_category_orders_known_categories_first():
    registry = make_registry()
    grouped = registry.by_category()
    assert list(grouped)[:4] == ["Triggers", "Flow", "Data", "Integrations"]
    titles = [cls.title for cls in grouped["Flow"]]
    assert titles == sorted(titles, key=str.lower)


def test_search_is_fuzzy_and_ranked():
    registry = make_registry()
    assert registry.search("set")[0].key == "t.set"
    assert registry.search("sub wor")[0].key == "t.sub"
    assert registry.search("slp")[0].key == "t.sleep"  # letters in order
    assert [c.key for c in registry.search("integrations")] == ["t.cred"]
    assert registry.search("zzzz") == []
    assert len(registry.search("")) == len(ALL)
    assert len(registry.search("", limit=3)) == 3


def test_register_node_decorator_with_and_without_registry():
    registry = NodeRegistry()

    @register_node(registry=registry)
    class Local(NodeType):
        key, title, category = "x.local", "Local", "Data"

        async def run(self, ctx):
            return {}

    assert registry.get("x.local") is Local
    assert catalog().get("x.local") is None

    @register_node
    class Global(NodeType):
        key, title, category = "x.global.test", "Global", "Data"

        async def run(self, ctx):
            return {}

    try:
        assert catalog().get("x.global.test") is Global
    finally:
        catalog().unregister("x.global.test")


def test_a_bad_decorated_class_fails_at_import():
    with pytest.raises(NodeDeclarationError):

        @register_node(registry=NodeRegistry())
        class Bad(NodeType):
            key, title, category = "x.bad", "", "Data"

            async def run(self, ctx):
                return {}


def test_plugins_module_callable_and_broken(tmp_path: Path, monkeypatch):
    module_dir = tmp_path / "mods"
    module_dir.mkdir()
    (module_dir / "glyphic_fake_plugin.py").write_text(
        textwrap.dedent(
            """
            from glyphic_desktop.nodes.base import NodeType

            class Plug(NodeType):
                key, title, category = "plug.one", "Plug one", "Data"

                async def run(self, ctx):
                    return {"output": 1}

            def register(registry):
                registry.register(Plug)

            def broken(registry):
                raise RuntimeError("plugin exploded")
            """
        )
    )
    dist = module_dir / "glyphic_fake_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: glyphic-fake-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[glyphic.nodes]\n"
        "good = glyphic_fake_plugin:register\n"
        "bad = glyphic_fake_plugin:broken\n"
        "missing = glyphic_no_such_module\n"
    )
    monkeypatch.syspath_prepend(str(module_dir))
    registry = NodeRegistry()
    registry.load_entry_points()
    assert registry.get("plug.one") is not None
    assert any("'bad'" in e and "plugin exploded" in e for e in registry.load_errors)
    assert any("'missing'" in e and "glyphic_no_such_module" in e for e in registry.load_errors)
    sys.modules.pop("glyphic_fake_plugin", None)


def test_load_plugin_accepts_a_returned_list_and_rejects_other_things():
    registry = NodeRegistry()
    assert registry.load_plugin("list", lambda: lambda reg: ALL[:2])
    assert registry.get("t.start") is not None and registry.get("t.set") is not None
    assert not registry.load_plugin("number", lambda: 42)
    assert "neither a module nor a callable" in registry.load_errors[-1]


def test_missing_builtin_package_is_tolerated():
    registry = NodeRegistry()
    registry.load_builtins("glyphic_desktop.nodes.no_such_package")
    assert registry.load_errors == []


def test_default_registry_loads_without_raising():
    registry = default_registry()
    assert isinstance(registry, NodeRegistry)
    assert isinstance(registry.load_errors, list)


def test_fields_model_is_a_pydantic_model():
    class FieldsModel(BaseModel):
        a: int = 1

    NodeRegistry().register(_type(Fields=FieldsModel))
