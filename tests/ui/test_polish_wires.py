"""Wire polish, driven with real mouse events: lifting a wire's output end, the port hover
halo, and refusing wires that would close a loop."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.ui.canvas.port_item import ACCEPT, HOVER, REFUSE
from glyphic_desktop.ui.commands import ConnectCommand
from glyphic_desktop.ui.graph_model import EditError, GraphModel

from .test_canvas import LEFT, NO_MOD, add, drag, messages, port_pos, vpos

SHIFT = Qt.KeyboardModifier.ShiftModifier


def wires(editor) -> list[tuple[str, str, str, str]]:
    return [(e.source, e.sourceHandle, e.target, e.targetHandle) for e in editor.model.doc.edges]


def near_output_end(editor, edge_id: int) -> QPoint:
    """A point on the wire, 20 scene units after it leaves its output port."""
    start, _ = editor.scene.edges[edge_id].endpoints()
    return vpos(editor, start + QPointF(20.0, 0.0))


def connect(editor, a: str, b: str, a_port: str = "output", b_port: str = "input") -> int:
    command = ConnectCommand(editor.model, a, a_port, b, b_port)
    editor.stack.push(command)
    return command.edge_id


# -- the output end of a wire ------------------------------------------------------------


def test_dragging_a_wire_output_end_to_another_output_moves_it(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    c = add(editor, "test.text", 100, 300)
    edge = connect(editor, a, b)
    entries = editor.stack.count()
    vp = editor.view.viewport()
    start = near_output_end(editor, edge)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(20, 40))
    gesture = editor.view.interaction
    assert type(gesture).__name__ == "ReconnectInteraction" and gesture.output_end
    assert not editor.scene.edges[edge].isVisible()  # the lifted wire is drawn by the gesture
    qtbot.mouseMove(vp, port_pos(editor, c, "output", True))
    assert gesture.feedback == ACCEPT
    assert editor.scene.nodes[c].highlight == ("output", True, ACCEPT)
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, c, "output", True))
    assert wires(editor) == [(c, "output", b, "input")]
    assert editor.stack.count() == entries + 1 and editor.stack.undoText() == "Move wire"
    assert editor.view.interaction is None and editor.scene.overlay is None
    editor.stack.undo()
    assert wires(editor) == [(a, "output", b, "input")]
    assert editor.scene.edges[edge].isVisible()


def test_dropping_a_wire_output_end_on_empty_canvas_removes_it(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    edge = connect(editor, a, b)
    entries = editor.stack.count()
    drag(qtbot, editor, near_output_end(editor, edge), vpos(editor, QPointF(300, 500)))
    assert wires(editor) == [] and editor.scene.edges == {}
    assert editor.stack.count() == entries + 1
    editor.stack.undo()
    assert wires(editor) == [(a, "output", b, "input")]


def test_a_wire_output_end_refuses_an_incompatible_output(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    number = add(editor, "test.number", 100, 300)
    edge = connect(editor, a, b)
    said = messages(editor)
    entries = editor.stack.count()
    vp = editor.view.viewport()
    start = near_output_end(editor, edge)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(10, 60))
    qtbot.mouseMove(vp, port_pos(editor, number, "output", True))
    gesture = editor.view.interaction
    assert gesture.feedback == REFUSE and "gives number" in gesture.reason
    assert editor.scene.overlay[1].color() == editor.scene.theme.refuse
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, number, "output", True))
    assert wires(editor) == [(a, "output", b, "input")]
    assert editor.stack.count() == entries
    assert any("gives number" in m for m in said)
    # Back on its own output: nothing changes either.
    drag(qtbot, editor, near_output_end(editor, edge), port_pos(editor, a, "output", True))
    assert wires(editor) == [(a, "output", b, "input")] and editor.stack.count() == entries


def test_shift_drag_from_an_output_lifts_its_newest_wire(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 50)
    c = add(editor, "test.upper", 450, 250)
    d = add(editor, "test.text", 100, 400)
    connect(editor, a, b)
    connect(editor, a, c)
    drag(
        qtbot,
        editor,
        port_pos(editor, a, "output", True),
        port_pos(editor, d, "output", True),
        modifier=SHIFT,
    )
    assert sorted(wires(editor)) == sorted([(a, "output", b, "input"), (d, "output", c, "input")])
    # Without Shift a drag from the output still starts a new wire.
    e = add(editor, "test.upper", 450, 450)
    drag(qtbot, editor, port_pos(editor, a, "output", True), port_pos(editor, e, "input", False))
    assert (a, "output", e, "input") in wires(editor) and len(wires(editor)) == 3


def test_clicking_the_middle_of_a_wire_still_selects_it(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 600, 100)
    edge = connect(editor, a, b)
    start, end = editor.scene.edges[edge].endpoints()
    qtbot.mouseClick(editor.view.viewport(), LEFT, NO_MOD, vpos(editor, (start + end) / 2))
    assert editor.scene.selected_edge_ids() == [edge]
    assert editor.view.interaction is None


# -- hover ---------------------------------------------------------------------------------


def test_hovering_a_port_shows_what_a_press_would_grab(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    vp = editor.view.viewport()
    view = editor.view
    qtbot.mouseMove(vp, vpos(editor, QPointF(300, 400)))
    assert view.hover_port is None
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True))
    assert view.hover_port is not None and (view.hover_port.node_id, view.hover_port.name) == (
        a,
        "output",
    )
    assert editor.scene.nodes[a].highlight == ("output", True, HOVER)
    assert vp.cursor().shape() == Qt.CursorShape.CrossCursor
    assert vp.toolTip().startswith("Output 'output' (string): drag to connect")
    qtbot.mouseMove(vp, port_pos(editor, b, "input", False))
    assert vp.toolTip().startswith("Input 'input' (string)")
    assert editor.scene.nodes[a].highlight is None
    assert editor.scene.nodes[b].highlight == ("input", False, HOVER)
    qtbot.mouseMove(vp, vpos(editor, QPointF(300, 400)))
    assert view.hover_port is None and editor.scene.nodes[b].highlight is None
    assert vp.cursor().shape() != Qt.CursorShape.CrossCursor and vp.toolTip() == ""
    # Pressing the hovered port starts a wire: the hover halo gives way to the drag's.
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True))
    qtbot.mousePress(vp, LEFT, NO_MOD, port_pos(editor, a, "output", True))
    assert view.hover_port is None and editor.scene.nodes[a].highlight is None
    qtbot.mouseMove(vp, port_pos(editor, b, "input", False))
    assert editor.scene.nodes[b].highlight == ("input", False, ACCEPT)
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, b, "input", False))
    assert wires(editor) == [(a, "output", b, "input")]


def test_space_panning_drops_the_hover(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    vp = editor.view.viewport()
    qtbot.mouseMove(vp, vpos(editor, QPointF(600, 500)))
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True))
    assert editor.view.hover_port is not None
    editor.view.setFocus()
    qtbot.keyPress(editor.view, Qt.Key.Key_Space)
    assert editor.view.hover_port is None and editor.scene.nodes[a].highlight is None
    assert vp.cursor().shape() == Qt.CursorShape.OpenHandCursor
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True) + QPoint(1, 0))
    assert editor.view.hover_port is None
    qtbot.keyRelease(editor.view, Qt.Key.Key_Space)


def test_hover_halo_is_painted(qtbot, editor) -> None:
    from PySide6.QtGui import QImage, QPainter

    a = add(editor, "test.text", 100, 100)
    item = editor.scene.nodes[a]

    def render() -> QImage:
        image = QImage(40, 40, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        centre = item.port_scene_pos("output", True)
        source = QRectF(centre.x() - 20, centre.y() - 20, 40, 40)
        editor.scene.render(painter, QRectF(0, 0, 40, 40), source)
        painter.end()
        return image

    plain = render()
    vp = editor.view.viewport()
    qtbot.mouseMove(vp, vpos(editor, QPointF(600, 600)))
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True))
    assert item.highlight == ("output", True, HOVER)
    assert render() != plain


def test_hover_survives_the_hovered_node_being_deleted(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    vp = editor.view.viewport()
    qtbot.mouseMove(vp, vpos(editor, QPointF(600, 500)))
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True))
    assert editor.view.hover_port is not None
    editor.scene.select_nodes([a])
    editor.scene.delete_selection()
    qtbot.mouseMove(vp, vpos(editor, QPointF(600, 600)))
    assert editor.view.hover_port is None


# -- cycles ----------------------------------------------------------------------------------


def chain(editor, count: int) -> list[str]:
    ids = [add(editor, "test.text", 60 + 260 * i, 100) for i in range(count)]
    for left, right in itertools.pairwise(ids):
        connect(editor, left, right)
    return ids


def test_a_wire_closing_a_loop_is_refused_while_hovering(qtbot, editor) -> None:
    editor.view.centerOn(400, 200)
    a, b, c = chain(editor, 3)
    for node_id, label in zip((a, b, c), "ABC", strict=True):
        editor.model.node(node_id).data.label = label
    said = messages(editor)
    entries = editor.stack.count()
    vp = editor.view.viewport()
    start = port_pos(editor, c, "output", True)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(0, 80))
    gesture = editor.view.interaction
    qtbot.mouseMove(vp, port_pos(editor, a, "input", False))
    assert gesture.feedback == REFUSE
    assert gesture.reason == "would create a cycle: C → A → B → C"
    assert editor.scene.nodes[a].highlight == ("input", False, REFUSE)
    assert editor.scene.overlay[1].color() == editor.scene.theme.refuse
    assert said[-1] == "Cannot connect: would create a cycle: C → A → B → C"
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, a, "input", False))
    assert len(wires(editor)) == 2 and editor.stack.count() == entries
    # From the input side: dragging A's input onto C's output is the same loop.
    drag(qtbot, editor, port_pos(editor, a, "input", False), port_pos(editor, c, "output", True))
    assert len(wires(editor)) == 2 and editor.stack.count() == entries
    assert said[-1].endswith("would create a cycle: C → A → B → C")


def test_moving_a_wire_end_into_a_loop_is_refused(qtbot, editor) -> None:
    editor.view.centerOn(400, 200)
    a, b, c = chain(editor, 3)
    entries = editor.stack.count()
    # Lift the output end of B → C and drop it on C's own output: C → C is refused.
    edge = editor.model.edges_into(c, "input")[0]
    drag(qtbot, editor, near_output_end(editor, edge), port_pos(editor, c, "output", True))
    assert editor.stack.count() == entries
    # Lift the input end of A → B and drop it on A's input: refused (A → A).
    drag(qtbot, editor, port_pos(editor, b, "input", False), port_pos(editor, a, "input", False))
    assert editor.stack.count() == entries and len(wires(editor)) == 2


def test_the_cycle_test_walks_once_per_drag(qtbot, editor, monkeypatch) -> None:
    editor.view.centerOn(700, 200)
    ids = chain(editor, 6)
    calls: list[tuple[str, bool]] = []
    original = GraphModel.reach

    def counting(self, start, forward, stop=None):
        calls.append((start, forward))
        return original(self, start, forward, stop)

    monkeypatch.setattr(GraphModel, "reach", counting)
    vp = editor.view.viewport()
    start = port_pos(editor, ids[-1], "output", True)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(0, 80))
    for node_id in ids[:-1] * 2:
        qtbot.mouseMove(vp, port_pos(editor, node_id, "input", False))
        assert editor.view.interaction.feedback == REFUSE
        qtbot.mouseMove(vp, port_pos(editor, node_id, "input", False) + QPoint(0, 60))
    qtbot.mouseRelease(vp, LEFT, NO_MOD, start + QPoint(0, 80))
    assert calls == [(ids[-1], False)]


def test_model_cycle_checks_stay_within_the_reachable_part() -> None:
    # 2,000 separate pairs plus one chain of 4: reaching from the chain sees only the chain.
    nodes = [{"id": str(i), "type": "x"} for i in range(1, 4005)]
    edges = [{"id": i, "source": str(2 * i - 1), "target": str(2 * i)} for i in range(1, 2001)] + [
        {"id": 3000 + i, "source": str(4000 + i), "target": str(4001 + i)} for i in range(1, 4)
    ]
    model = GraphModel(WorkflowDocument.model_validate({"nodes": nodes, "edges": edges}))
    upstream = model.reach("4004", forward=False)
    assert set(upstream.parents) == {"4001", "4002", "4003", "4004"}
    assert model.cycle_path("4004", "4001", upstream) == ["4004", "4001", "4002", "4003", "4004"]
    downstream = model.reach("4001", forward=True)
    assert model.cycle_path("4004", "4001", downstream) == ["4004", "4001", "4002", "4003", "4004"]
    assert model.cycle_path("4004", "4001") == ["4004", "4001", "4002", "4003", "4004"]
    assert model.cycle_path("4001", "1") is None
    # A reach of another start is not used: the walk starts afresh.
    assert model.cycle_path("4003", "4001", upstream) == ["4003", "4001", "4002", "4003"]
    assert model.cycle_path("4001", "4003", upstream) is None
    assert model.reach("4001", forward=True, stop="4002").parents.keys() == {"4001", "4002"}


def test_connect_command_refuses_a_cycle(registry) -> None:
    model = GraphModel(WorkflowDocument(), registry)
    from glyphic_desktop.ui.commands import add_node_command

    ids = []
    for label in "PQ":
        command = add_node_command(model, "test.text", (0, 0), label=label)
        command.redo()
        ids.append(command.node_ids[0])
    ConnectCommand(model, ids[0], "output", ids[1], "input").redo()
    with pytest.raises(EditError, match="cannot connect: would create a cycle: Q → P → Q"):
        ConnectCommand(model, ids[1], "output", ids[0], "input")
