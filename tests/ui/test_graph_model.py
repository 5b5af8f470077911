"""The graph model: indexes, ports of known and unknown types, and its error paths."""

from __future__ import annotations

import pytest

from glyphic_desktop.document.model import Edge, Node, WorkflowDocument
from glyphic_desktop.ui.commands import DisconnectCommand, UngroupCommand
from glyphic_desktop.ui.graph_model import (
    EditError,
    EmptyRegistry,
    GraphModel,
    iter_types,
    lookup_type,
)

from .conftest import TextNode
from .test_commands import seed_document


@pytest.fixture
def model(registry) -> GraphModel:
    return GraphModel(seed_document(), registry)


def test_indexes_follow_the_document(model) -> None:
    assert model.node_ids() == ["1", "2", "5", "9", "12"]
    assert model.edge_ids() == [3, 7]
    assert model.edges_of("1") == [3] and model.edges_of("12") == [7]
    assert model.edges_into("2", "input") == [3]
    assert model.group_keys() == ["~1", "g-1"]  # the id-less group gets an internal key
    assert model.group("~1").title == "No id group"


def test_unknown_types_use_the_ports_stored_in_the_document(model) -> None:
    assert model.node_type("9") is None
    inputs, outputs = model.ports("9")
    assert [(p.name, p.type) for p in inputs] == [("input", "any")]
    assert [(p.name, p.type) for p in outputs] == [("output", "object")]


def test_a_known_node_stored_without_ports_gets_its_types_ports(registry) -> None:
    doc = WorkflowDocument(nodes=[Node(id="1", type="test.sum")])
    model = GraphModel(doc, registry)
    inputs, outputs = model.ports("1")
    assert [p.name for p in inputs] == ["a", "b"] and [p.name for p in outputs] == ["output"]


def test_missing_things_are_named(model) -> None:
    with pytest.raises(EditError, match="no node with id 'x'"):
        model.node("x")
    with pytest.raises(EditError, match="no edge with id 99"):
        DisconnectCommand(model, [99])
    with pytest.raises(EditError, match="no group 'nope'"):
        UngroupCommand(model, "nope")


def test_primitives_refuse_inconsistent_edits(model) -> None:
    with pytest.raises(EditError, match="a node with id '1' already exists"):
        model.append_nodes([Node(id="1", type="x")])
    with pytest.raises(EditError, match="an edge with id 3 already exists"):
        model.append_edges([Edge(id=3, source="1", target="2")])
    with pytest.raises(EditError, match="node '1' still has edges"):
        model.delete_nodes(["1"])
    assert model.node_ids() == ["1", "2", "5", "9", "12"]


def test_dangling_edges_in_a_file_are_tolerated(qtbot, registry) -> None:
    from glyphic_desktop.ui.canvas import Editor

    doc = WorkflowDocument(
        nodes=[Node(id="1", type="test.text")],
        edges=[Edge(id=1, source="1", target="404")],
    )
    editor = Editor(doc, registry)
    qtbot.addWidget(editor.widget)
    assert editor.model.edges_of("1") == [1]
    assert editor.scene.edges == {}  # nothing to draw it to


class _RaisingRegistry:
    def get(self, key):
        raise KeyError(key)

    def __iter__(self):
        return iter([TextNode])


def test_registry_shapes() -> None:
    assert lookup_type(_RaisingRegistry(), "x") is None
    assert lookup_type(EmptyRegistry(), "x") is None
    assert lookup_type(None, "x") is None
    assert iter_types(_RaisingRegistry()) == [TextNode]
    assert iter_types(EmptyRegistry()) == []
    assert iter_types(None) == []
