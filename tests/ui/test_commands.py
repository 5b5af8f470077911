"""Undoable commands over the graph model, and the 200-random-edit undo/redo round trip."""

from __future__ import annotations

import collections
import json
import random

import pytest
from PySide6.QtGui import QUndoStack

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.ui import clipboard as clip
from glyphic_desktop.ui.canvas import Editor
from glyphic_desktop.ui.commands import (
    AddNodesCommand,
    ConnectCommand,
    DisconnectCommand,
    GroupCommand,
    MoveCommand,
    PasteCommand,
    RemoveCommand,
    RenameCommand,
    RenameGroupCommand,
    ResizeGroupCommand,
    SetFieldCommand,
    SetSettingCommand,
    UngroupCommand,
    add_node_command,
)
from glyphic_desktop.ui.graph_model import MISSING, EditError, GraphModel

SEED_DOC = {
    "id": "wf-1",
    "revision": 3,
    "last_node_id": 12,
    "last_link_id": 7,
    "nodes": [
        {
            "id": "1",
            "type": "test.text",
            "pos": [0, 0],
            "data": {"label": "Start", "nodeType": "test.text", "fields": {"text": "hi"}},
            "inputs": [{"name": "input", "type": "any"}],
            "outputs": [{"name": "output", "type": "string"}],
            "futureKey": {"kept": True},
        },
        {
            "id": "2",
            "type": "test.upper",
            "pos": [300, 0],
            "data": {"label": "Upper", "nodeType": "test.upper", "fields": {}},
            "inputs": [{"name": "input", "type": "string"}],
            "outputs": [{"name": "output", "type": "string"}],
        },
        {
            "id": "5",
            "type": "test.number",
            "pos": [0, 200],
            "data": {"label": "Num", "nodeType": "test.number", "fields": {"value": 2}},
            "inputs": [{"name": "input", "type": "any"}],
            "outputs": [{"name": "output", "type": "number"}],
        },
        {
            "id": "9",
            "type": "gmail",
            "pos": [600, 200],
            "data": {"label": "Mystery", "nodeType": "gmail", "fields": {"to": "a@b.c"}},
            "inputs": [{"name": "input", "type": "any"}],
            "outputs": [{"name": "output", "type": "object"}],
        },
        {
            "id": "12",
            "type": "test.sum",
            "pos": [300, 300],
            "data": {"label": "Sum", "nodeType": "test.sum", "fields": {}},
            "inputs": [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}],
            "outputs": [{"name": "output", "type": "number"}],
        },
    ],
    "edges": [
        {"id": 3, "source": "1", "sourceHandle": "output", "target": "2", "targetHandle": "input"},
        {"id": 7, "source": "5", "sourceHandle": "output", "target": "12", "targetHandle": "a"},
    ],
    "groups": [
        {"title": "No id group", "bounding": [-20, -40, 560, 160]},
        {"id": "g-1", "title": "Numbers", "bounding": [-20, 160, 560, 260], "color": "#335577"},
    ],
    "config": {"timezone": "UTC"},
    "metadata": {"created_by": "me"},
}


def seed_document() -> WorkflowDocument:
    """A small document with a placeholder node, unknown keys and an id-less group."""
    return WorkflowDocument.model_validate(json.loads(json.dumps(SEED_DOC)))


def dump(model: GraphModel) -> dict:
    return json.loads(json.dumps(model.doc.to_data()))


def without_counters(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("last_node_id", "last_link_id")}


@pytest.fixture
def model(registry) -> GraphModel:
    return GraphModel(seed_document(), registry)


@pytest.fixture
def stack() -> QUndoStack:
    return QUndoStack()


def test_add_node_uses_registry_ports_and_defaults(model, stack) -> None:
    command = add_node_command(model, "test.number", (10, 20))
    stack.push(command)
    node = model.node(command.node_ids[0])
    assert node.id == "13"  # last_node_id was 12
    assert node.data.fields == {"value": 1.0}
    assert [(p.name, p.type) for p in node.outputs] == [("output", "number")]
    assert node.data.typeVersion == 1
    stack.undo()
    assert not model.has_node("13")
    assert model.doc.last_node_id == 13  # ids are never handed out twice
    stack.redo()
    assert model.node("13").pos == [10.0, 20.0]


def test_add_unknown_type_is_refused(model) -> None:
    with pytest.raises(EditError, match="unknown node type 'nope'"):
        add_node_command(model, "nope", (0, 0))


def test_remove_restores_nodes_edges_and_order(model, stack) -> None:
    before = dump(model)
    stack.push(RemoveCommand(model, ["1", "12"], group_keys=["g-1"]))
    assert not model.has_node("1") and not model.has_edge(3) and not model.has_edge(7)
    assert model.group_keys() == ["~1"]
    stack.undo()
    assert dump(model) == before
    assert model.edges_of("1") == [3]


def test_remove_missing_node_names_it(model) -> None:
    with pytest.raises(EditError, match="no node with id '77'"):
        RemoveCommand(model, ["77"])


def test_move_many_nodes_is_one_command_and_merges(model, stack) -> None:
    stack.push(MoveCommand(model, {"1": ((0, 0), (20, 20)), "2": ((300, 0), (320, 20))}))
    assert stack.count() == 1
    stack.push(MoveCommand(model, {"1": ((20, 20), (40, 40))}, merge_key="nudge"))
    stack.push(MoveCommand(model, {"1": ((40, 40), (60, 60))}, merge_key="nudge"))
    assert stack.count() == 2
    assert model.node("1").pos == [60.0, 60.0]
    stack.undo()
    assert model.node("1").pos == [20.0, 20.0]
    stack.undo()
    assert model.node("1").pos == [0.0, 0.0] and model.node("2").pos == [300.0, 0.0]


def test_connecting_the_same_ports_twice_is_refused(model) -> None:
    with pytest.raises(EditError, match="already connected"):
        ConnectCommand(model, "5", "output", "12", "a")


def test_connect_replace_and_undo(model, stack) -> None:
    stack.push(add_node_command(model, "test.text", (0, 500)))
    before = dump(model)
    stack.push(ConnectCommand(model, "13", "output", "2", "input"))
    assert model.edges_into("2", "input") == [8]
    assert not model.has_edge(3)
    assert stack.count() == 2
    stack.undo()
    assert dump(model) == {**before, "last_link_id": 8}
    assert model.edges_into("2", "input") == [3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("5", "output", "2", "input"),
            "gives number, input 'input' of node 'Upper' .* takes string",
        ),
        (("1", "output", "1", "input"), "cannot be connected to itself"),
        (("1", "nope", "2", "input"), "has no output 'nope'"),
        (("1", "output", "2", "nope"), "has no input 'nope'"),
        (("1", "output", "44", "input"), "no node with id '44'"),
    ],
)
def test_refused_connections_say_why(model, args, message) -> None:
    last = model.doc.last_link_id
    with pytest.raises(EditError, match=message):
        ConnectCommand(model, *args)
    assert model.doc.last_link_id == last


def test_field_rename_and_setting_round_trip(model, stack) -> None:
    before = dump(model)
    stack.push(SetFieldCommand(model, "1", "text", "bye"))
    stack.push(SetFieldCommand(model, "1", "extra", [1, 2]))
    stack.push(SetFieldCommand(model, "1", "text", MISSING))
    stack.push(RenameCommand(model, "1", "Begin"))
    stack.push(SetSettingCommand(model, "1", "retries", 3))
    stack.push(SetSettingCommand(model, "1", "onError", "error_output"))
    node = model.node("1")
    assert node.data.fields == {"extra": [1, 2]}
    assert node.data.label == "Begin" and node.data.retries == 3
    assert [p.name for p in model.ports("1")[1]] == ["output", "error"]
    for _ in range(6):
        stack.undo()
    assert dump(model) == before
    assert [p.name for p in model.ports("1")[1]] == ["output"]


def test_typing_in_a_field_merges(model, stack) -> None:
    for text in ("h", "he", "hel"):
        stack.push(SetFieldCommand(model, "1", "text", text, merge=True))
    assert stack.count() == 1
    stack.undo()
    assert model.node("1").data.fields["text"] == "hi"


def test_bad_setting_names_node_and_setting(model) -> None:
    with pytest.raises(EditError, match=r"node 'Start' \(1\): setting 'retries'"):
        SetSettingCommand(model, "1", "retries", -1)
    with pytest.raises(EditError, match="unknown setting 'colour'"):
        SetSettingCommand(model, "1", "colour", "red")


def test_groups(model, stack) -> None:
    before = dump(model)
    command = GroupCommand(model, [0, 0, 100, 100], "New")
    stack.push(command)
    stack.push(ResizeGroupCommand(model, command.key, [0, 0, 300, 200], merge=True))
    stack.push(ResizeGroupCommand(model, command.key, [0, 0, 320, 220], merge=True))
    stack.push(RenameGroupCommand(model, command.key, "Renamed"))
    stack.push(UngroupCommand(model, "~1"))
    assert stack.count() == 4
    assert [g.title for g in model.doc.groups] == ["Numbers", "Renamed"]
    for _ in range(4):
        stack.undo()
    assert dump(model) == before


def test_bad_group_bounding_is_refused(model) -> None:
    with pytest.raises(EditError, match="bounding must be"):
        GroupCommand(model, [0, 0, -5, 10])
    with pytest.raises(EditError, match="group 'Numbers': bounding must be"):
        ResizeGroupCommand(model, "g-1", [0, 0, 0, 10])


def test_paste_renumbers_and_drops_outside_edges(model, stack) -> None:
    text = clip.selection_json(model, ["1", "2", "5"], ["g-1"])
    fragment = clip.parse_fragment(text)
    assert [e.id for e in fragment.edges] == [3]  # 7 leads to 12, which was not copied
    command = PasteCommand(model, fragment, at=(1000, 1000))
    stack.push(command)
    assert command.node_ids == ["13", "14", "15"]
    assert model.node("13").pos == [1000.0, 1000.0]
    assert model.node("14").pos == [1300.0, 1000.0]
    edge = model.edge(command.edge_ids[0])
    assert (edge.source, edge.target) == ("13", "14")
    assert len(model.doc.groups) == 3
    stack.undo()
    assert len(model.doc.nodes) == 5 and len(model.doc.groups) == 2


def test_model_signals(model, stack, qtbot) -> None:
    seen: list[tuple[str, object]] = []
    for name in (
        "nodes_added",
        "nodes_removed",
        "node_moved",
        "node_changed",
        "edges_added",
        "edges_removed",
        "group_added",
        "group_removed",
        "group_changed",
    ):
        getattr(model, name).connect(lambda value, n=name: seen.append((n, value)))
    stack.push(AddNodesCommand(model, [], []))
    stack.push(RemoveCommand(model, ["1"]))
    stack.push(MoveCommand(model, {"2": ((300, 0), (0, 0))}))
    stack.push(RenameCommand(model, "2", "X"))
    group = GroupCommand(model, [0, 0, 10, 10])
    stack.push(group)
    stack.push(DisconnectCommand(model, [7]))
    assert seen == [
        ("edges_removed", [3]),
        ("nodes_removed", ["1"]),
        ("node_moved", "2"),
        ("node_changed", "2"),
        ("group_added", group.key),
        ("edges_removed", [7]),
    ]


# -- the random round trip ---------------------------------------------------------------


def _random_edit(rng: random.Random, editor: Editor) -> str | None:
    """Push one random edit and return its kind; None when it does not apply here."""
    model, stack = editor.model, editor.stack
    nodes = model.node_ids()
    edges = model.edge_ids()
    groups = model.group_keys()
    op = rng.choice(
        [
            "add",
            "add",
            "remove",
            "move",
            "connect",
            "connect",
            "disconnect",
            "field",
            "rename",
            "setting",
            "group",
            "ungroup",
            "resize",
            "paste",
        ]
    )
    if op == "add":
        key = rng.choice(["test.text", "test.number", "test.sum", "test.upper"])
        stack.push(add_node_command(model, key, (rng.randint(-500, 2000), rng.randint(-500, 2000))))
    elif op == "remove" and nodes:
        picked = rng.sample(nodes, min(len(nodes), rng.randint(1, 3)))
        extra = rng.sample(edges, 1) if edges and rng.random() < 0.3 else []
        gone = rng.sample(groups, 1) if groups and rng.random() < 0.3 else []
        stack.push(RemoveCommand(model, picked, extra, gone))
    elif op == "move" and nodes:
        picked = rng.sample(nodes, min(len(nodes), rng.randint(1, 5)))
        dx, dy = rng.uniform(-300, 300), rng.uniform(-300, 300)
        moves = {}
        for node_id in picked:
            x, y = model.node(node_id).pos
            moves[node_id] = ((x, y), (x + dx, y + dy))
        group_moves = {}
        if groups and rng.random() < 0.3:
            key = rng.choice(groups)
            x, y, w, h = model.group(key).bounding
            group_moves[key] = ([x, y, w, h], [x + dx, y + dy, w, h])
        stack.push(MoveCommand(model, moves, group_moves))
    elif op == "connect" and len(nodes) >= 2:
        for _ in range(20):
            source, target = rng.sample(nodes, 2)
            outputs = model.ports(source)[1]
            inputs = model.ports(target)[0]
            if not outputs or not inputs:
                continue
            out, inp = rng.choice(outputs), rng.choice(inputs)
            try:
                command = ConnectCommand(model, source, out.name, target, inp.name)
            except EditError:
                continue
            stack.push(command)
            return op
        return None
    elif op == "disconnect" and edges:
        stack.push(DisconnectCommand(model, rng.sample(edges, min(len(edges), rng.randint(1, 2)))))
    elif op == "field" and nodes:
        node_id = rng.choice(nodes)
        name = rng.choice(["text", "value", "extra"])
        value = rng.choice([MISSING, "x" * rng.randint(0, 5), rng.randint(0, 99), {"k": [1]}])
        stack.push(SetFieldCommand(model, node_id, name, value, merge=rng.random() < 0.5))
    elif op == "rename" and nodes:
        stack.push(RenameCommand(model, rng.choice(nodes), f"node {rng.randint(0, 999)}"))
    elif op == "setting" and nodes:
        name, value = rng.choice(
            [
                ("disabled", True),
                ("disabled", False),
                ("retries", rng.randint(0, 5)),
                ("timeout", rng.choice([None, 2.5])),
                ("onError", rng.choice(["stop", "continue", "error_output"])),
                ("retryDelay", 3.0),
            ]
        )
        stack.push(SetSettingCommand(model, rng.choice(nodes), name, value))
    elif op == "group":
        x, y = rng.randint(-500, 1500), rng.randint(-500, 1500)
        stack.push(GroupCommand(model, [x, y, rng.randint(100, 600), rng.randint(100, 400)]))
    elif op == "ungroup" and groups:
        stack.push(UngroupCommand(model, rng.choice(groups)))
    elif op == "resize" and groups:
        key = rng.choice(groups)
        x, y, _, _ = model.group(key).bounding
        stack.push(
            ResizeGroupCommand(model, key, [x, y, rng.randint(80, 900), rng.randint(80, 900)])
        )
    elif op == "paste" and nodes:
        picked = rng.sample(nodes, min(len(nodes), rng.randint(1, 4)))
        text = clip.selection_json(model, picked, rng.sample(groups, 1) if groups else [])
        at = (rng.uniform(-1000, 3000), rng.uniform(-1000, 3000)) if rng.random() < 0.5 else None
        result = clip.paste(model, stack, text=text, at=at)
        assert result.ok, result.message
    else:
        return None
    return op


def _assert_scene_matches(editor: Editor) -> None:
    scene, model = editor.scene, editor.model
    assert set(scene.nodes) == set(model.node_ids())
    assert set(scene.edges) == set(model.edge_ids())
    assert set(scene.groups) == set(model.group_keys())
    for node_id, item in scene.nodes.items():
        assert [item.pos().x(), item.pos().y()] == model.node(node_id).pos
    for edge_id, item in scene.edges.items():
        edge = model.edge(edge_id)
        assert (item.source.node_id, item.target.node_id) == (edge.source, edge.target)
        assert item in item.source.edges and item in item.target.edges


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_200_random_edits_undo_and_redo_round_trip(qtbot, registry, seed) -> None:
    editor = Editor(seed_document(), registry)
    qtbot.addWidget(editor.widget)
    original = dump(editor.model)
    rng = random.Random(seed)
    kinds: collections.Counter[str] = collections.Counter()
    while sum(kinds.values()) < 200:
        kind = _random_edit(rng, editor)
        if kind:
            kinds[kind] += 1
    assert set(kinds) == {
        "add",
        "remove",
        "move",
        "connect",
        "disconnect",
        "field",
        "rename",
        "setting",
        "group",
        "ungroup",
        "resize",
        "paste",
    }, kinds
    assert editor.model.doc.port_links_in_sync()  # kept up per edit, not only on save
    edited = dump(editor.model)
    assert edited != original
    _assert_scene_matches(editor)
    entries = editor.stack.count()
    assert 0 < entries <= 200  # merged field edits share entries

    while editor.stack.canUndo():
        editor.stack.undo()
    assert editor.model.doc.port_links_in_sync()
    undone = dump(editor.model)
    # The id counters only grow (an undone id is never handed out again); all else is equal.
    assert without_counters(undone) == without_counters(original)
    assert undone["last_node_id"] == edited["last_node_id"] >= original["last_node_id"]
    assert undone["last_link_id"] == edited["last_link_id"] >= original["last_link_id"]
    _assert_scene_matches(editor)

    while editor.stack.canRedo():
        editor.stack.redo()
    assert editor.model.doc.port_links_in_sync()
    assert dump(editor.model) == edited
    _assert_scene_matches(editor)
