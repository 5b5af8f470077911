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


def _block_colors(editor, ids: list[str]) -> set[tuple[int, int, int]]:
    """The on-screen colours at the centres of the given nodes' blocks."""
    image = editor.view.viewport().grab().toImage()
    colors = set()
    for node_id in ids:
        item = editor.scene.nodes[node_id]
        centre = item.sceneBoundingRect().center()
        point = editor.view.mapFromScene(centre)
        color = image.pixelColor(point)
        colors.add((color.red(), color.green(), color.blue()))
    return colors


def test_bulk_selection_shows_on_every_block_and_goes_away(qtbot, editor):
    """Selecting hundreds of nodes at once takes the one-repaint path (no rect per node):
    every block still turns the selection colour, and back when deselected, zoomed out
    where only the blocks are drawn."""
    from glyphic_desktop.ui.canvas import scene as scene_module

    ids = chain(editor, scene_module._BULK_SELECTION + 100)
    editor.view.fit_all()
    editor.view.set_zoom(0.05)
    editor.view.centerOn(editor.scene.nodes_bounding_rect().center())
    qtbot.wait(20)
    selection = editor.scene.theme.selection
    wanted = (selection.red(), selection.green(), selection.blue())
    plain = _block_colors(editor, ids)
    assert wanted not in plain

    for select in (
        editor.scene.select_all,
        lambda: editor.scene.select_nodes(ids),
    ):
        select()
        qtbot.wait(20)
        assert editor.scene.selected_node_count() == len(ids)
        assert _block_colors(editor, ids) == {wanted}
        editor.scene.clearSelection()
        qtbot.wait(20)
        assert editor.scene.selected_node_count() == 0
        assert _block_colors(editor, ids) == plain

    # A small change after a bulk one still repaints its own nodes.
    editor.scene.select_all()
    qtbot.wait(20)
    editor.scene.select_nodes(ids[:3])
    qtbot.wait(20)
    assert _block_colors(editor, ids[:3]) == {wanted}
    assert wanted not in _block_colors(editor, ids[3:])
