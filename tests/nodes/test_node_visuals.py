"""What a node type declares for the canvas: colour, icon, summary field; port types."""

from __future__ import annotations

import pytest

from glyphic_desktop import paths
from glyphic_desktop.nodes.base import CATEGORY_COLORS, DEFAULT_COLOR, NodeContext, NodeType
from glyphic_desktop.nodes.port_types import mismatch_reason, ports_compatible
from glyphic_desktop.nodes.registry import NodeDeclarationError, NodeRegistry, default_registry


def test_every_builtin_type_has_an_icon_file_and_a_category_colour() -> None:
    folder = paths.resources_dir() / "icons" / "nodes"
    for cls in default_registry().all():
        svg = folder / f"{cls.icon}.svg"
        assert svg.is_file(), f"{cls.key}: no icon {svg.name}"
        text = svg.read_text(encoding="utf-8")
        assert 'viewBox="0 0 24 24"' in text and "#000000" in text  # recoloured when drawn
        assert cls.header_color() == (cls.color or CATEGORY_COLORS.get(cls.category, DEFAULT_COLOR))


def test_summaries_show_the_declared_field_defaults_and_unset_fields() -> None:
    registry = default_registry()
    http = registry.get("http_request")
    assert http.summary({"url": "https://x.test/{{ input.id }}"}) == "https://x.test/{{ input.id }}"
    assert http.summary({}) == "url: not set"
    assert registry.get("schedule").summary({}) == "0 9 * * 1-5"  # the field's default
    assert registry.get("log").summary({"message": "a\n  b"}) == "a b"  # one line
    assert registry.get("delay").summary({"seconds": 5}) == "seconds: 5"
    assert len(registry.get("log").summary({"message": "x" * 500})) == 80


def _declare(**attrs):
    async def run(self, ctx: NodeContext):
        return {}

    return type(
        "Odd", (NodeType,), {"key": "odd", "title": "Odd", "category": "X", "run": run, **attrs}
    )


def test_a_bad_colour_or_summary_field_is_refused_at_registration() -> None:
    registry = NodeRegistry()
    with pytest.raises(NodeDeclarationError, match="color must be empty or '#rrggbb'"):
        registry.register(_declare(color="red"))
    with pytest.raises(NodeDeclarationError, match="summary_field must be a string"):
        registry.register(_declare(summary_field=3))
    ok = registry.register(_declare(color="#12ab34"))
    assert ok.header_color() == "#12ab34"


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        ("any", "array", True),
        ("object", "any", True),
        ("file", "object", True),
        ("array", "array", True),
        ("array", "object", False),
        ("object", "array", False),
        ("number", "string", False),  # the engine does not convert: an int is not text
        ("object", "file", False),
    ],
)
def test_the_compatibility_table(source: str, target: str, ok: bool) -> None:
    assert ports_compatible(source, target) is ok
    reason = mismatch_reason(source, target)
    assert (reason is None) is ok
    if not ok:
        assert "the input takes" in reason


def test_builtin_types_that_take_one_item_refuse_a_list() -> None:
    registry = default_registry()
    merged = registry.get("merge").output_port("output").type
    for key in ("gmail", "slack", "github"):
        assert not ports_compatible(merged, registry.get(key).input_port("input").type), key
    written = registry.get("write_file").output_port("output").type
    assert ports_compatible(written, registry.get("slack").input_port("input").type)
