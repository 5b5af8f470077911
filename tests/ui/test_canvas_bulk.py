"""Undo of a bulk delete puts the very same canvas items back (no rebuild of every node
and wire), and they behave as fresh ones: wired, selectable, draggable."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF

from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand, add_node_command

from .test_canvas import body_pos, drag


def chain(editor, n: int) -> list[str]:
    ids = []
    for i in range(n):
        command = add_node_command(editor.model, "test.text", ((i % 10) * 260.0, (i // 10) * 160))
        editor.stack.push(command)
        ids.append(command.node_ids[0])
        if i:
            editor.stack.push(ConnectCommand(editor.model, ids[-2], "output", ids[-1], "input"))
    return ids


def consistent(editor) -> None:
    scene, model = editor.scene, editor.model
    assert set(scene.nodes) == set(model.node_ids())
    assert set(scene.edges) == set(model.edge_ids())
    for node_id, item in scene.nodes.items():
        assert item.scene() is scene
        assert sorted(e.edge_id for e in item.edges) == sorted(model.edges_of(node_id))
    for edge_id, item in scene.edges.items():
        edge = model.edge(edge_id)
        assert item.source is scene.nodes[edge.source]
        assert item.target is scene.nodes[edge.target]
        assert item.endpoints()[0] == item.source.port_scene_pos(edge.sourceHandle, True)


def test_undo_of_a_bulk_delete_reuses_the_items(qtbot, editor):
    ids = chain(editor, 100)
    items = dict(editor.scene.nodes)
    wires = dict(editor.scene.edges)
    editor.scene.select_all()
    editor.scene.delete_selection()
    assert editor.scene.nodes == {} and editor.scene.edges == {}
    editor.stack.undo()
    assert all(editor.scene.nodes[n] is items[n] for n in ids)
    assert all(editor.scene.edges[e] is wires[e] for e in wires)
    consistent(editor)
    assert editor.scene.selected_node_ids() == []

    # They still move with their wires, take edits, and can be deleted again.
    editor.view.centerOn(editor.scene.nodes[ids[0]])
    start = body_pos(editor, ids[0])
    drag(qtbot, editor, start, start + QPoint(40, 0))
    assert editor.model.node(ids[0]).pos == [40.0, 0.0]
    consistent(editor)
    editor.stack.push(SetFieldCommand(editor.model, ids[1], "text", "changed"))
    assert editor.scene.nodes[ids[1]] is items[ids[1]]
    editor.stack.undo()  # the field
    editor.stack.undo()  # the drag
    assert editor.model.node(ids[0]).pos == [0.0, 0.0]
    consistent(editor)
    editor.scene.select_all()
    editor.scene.delete_selection()
    editor.stack.undo()
    editor.stack.redo()
    editor.stack.undo()
    consistent(editor)
    assert editor.scene.nodes[ids[0]].pos() == QPointF(*editor.model.node(ids[0]).pos)


def test_items_are_rebuilt_when_another_edit_came_between(qtbot, editor):
    ids = chain(editor, 70)
    first = editor.scene.nodes[ids[0]]
    editor.scene.select_all()
    editor.scene.delete_selection()
    extra = add_node_command(editor.model, "test.number", (0.0, -400.0))
    editor.stack.push(extra)  # another batch: the removed items are let go
    editor.stack.undo()
    editor.stack.undo()
    assert editor.scene.nodes[ids[0]] is not first
    consistent(editor)
