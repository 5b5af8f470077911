"""Canvas gestures driven with real mouse, wheel and key events (pytest-qt)."""

from __future__ import annotations

import itertools
import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.ui.canvas import Editor, NodeRequest
from glyphic_desktop.ui.canvas.port_item import ACCEPT, REFUSE
from glyphic_desktop.ui.canvas.view import MAX_ZOOM, MIN_ZOOM
from glyphic_desktop.ui.commands import ConnectCommand, add_node_command

from .test_commands import seed_document

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def add(editor: Editor, key: str, x: float, y: float) -> str:
    command = add_node_command(editor.model, key, (x, y))
    editor.stack.push(command)
    return command.node_ids[0]


def vpos(editor: Editor, scene_point: QPointF) -> QPoint:
    return editor.view.mapFromScene(scene_point)


def port_pos(editor: Editor, node_id: str, name: str, output: bool) -> QPoint:
    return vpos(editor, editor.scene.nodes[node_id].port_scene_pos(name, output))


def body_pos(editor: Editor, node_id: str) -> QPoint:
    item = editor.scene.nodes[node_id]
    return vpos(editor, item.pos() + QPointF(100, 12))


def drag(
    qtbot, editor: Editor, start: QPoint, end: QPoint, modifier=NO_MOD, steps: int = 4
) -> None:
    vp = editor.view.viewport()
    qtbot.mousePress(vp, LEFT, modifier, start)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, LEFT, modifier, end)


def messages(editor: Editor) -> list[str]:
    found: list[str] = []
    editor.scene.status_message.connect(found.append)
    return found


def test_connect_two_ports_by_drag(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    entries = editor.stack.count()
    drag(qtbot, editor, port_pos(editor, a, "output", True), port_pos(editor, b, "input", False))
    edges = editor.model.doc.edges
    assert [(e.source, e.sourceHandle, e.target, e.targetHandle) for e in edges] == [
        (a, "output", b, "input")
    ]
    assert editor.stack.count() == entries + 1
    assert editor.scene.edges[edges[0].id].source is editor.scene.nodes[a]
    assert editor.scene.overlay is None


def test_connect_from_an_input_to_an_output(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 100)
    drag(qtbot, editor, port_pos(editor, b, "input", False), port_pos(editor, a, "output", True))
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, b)]


def test_incompatible_connection_is_refused_with_feedback(qtbot, editor) -> None:
    num = add(editor, "test.number", 100, 100)
    upper = add(editor, "test.upper", 450, 100)
    text = add(editor, "test.text", 450, 300)
    said = messages(editor)
    vp = editor.view.viewport()
    start = port_pos(editor, num, "output", True)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(40, 10))
    gesture = editor.view.interaction
    assert gesture is not None and gesture.feedback is None
    # Hovering a string input with a number output: refused, drawn red.
    qtbot.mouseMove(vp, port_pos(editor, upper, "input", False))
    assert gesture.feedback == REFUSE
    assert "gives number" in gesture.reason and "takes string" in gesture.reason
    assert editor.scene.nodes[upper].highlight == ("input", False, REFUSE)
    assert editor.scene.overlay[1].color() == editor.scene.theme.refuse
    # Hovering an "any" input: accepted, drawn green.
    qtbot.mouseMove(vp, port_pos(editor, text, "input", False))
    assert gesture.feedback == ACCEPT
    assert editor.scene.nodes[upper].highlight is None
    assert editor.scene.nodes[text].highlight == ("input", False, ACCEPT)
    # Back on the refusing port, release: nothing is added, the reason is shown.
    qtbot.mouseMove(vp, port_pos(editor, upper, "input", False))
    entries = editor.stack.count()
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, upper, "input", False))
    assert editor.model.doc.edges == []
    assert editor.stack.count() == entries
    assert any("gives number" in m for m in said)
    assert editor.view.interaction is None
    assert editor.scene.nodes[upper].highlight is None


def test_dragging_a_wire_end_moves_it_then_removes_it(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 450, 50)
    c = add(editor, "test.upper", 450, 250)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    entries = editor.stack.count()
    drag(qtbot, editor, port_pos(editor, b, "input", False), port_pos(editor, c, "input", False))
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, c)]
    assert editor.stack.count() == entries + 1  # one macro
    # Pick up the end again and drop it on empty canvas: the wire goes.
    drag(qtbot, editor, port_pos(editor, c, "input", False), vpos(editor, QPointF(300, 500)))
    assert editor.model.doc.edges == []
    editor.stack.undo()
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, c)]
    editor.stack.undo()
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, b)]


def test_dropping_a_wire_on_empty_canvas_requests_a_compatible_node(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    requests: list[NodeRequest] = []
    editor.scene.node_requested.connect(requests.append)
    drop = QPointF(500, 400)
    drag(qtbot, editor, port_pos(editor, a, "output", True), vpos(editor, drop))
    assert len(requests) == 1
    request = requests[0]
    assert request.port.node_id == a and request.port.output
    assert abs(request.pos.x() - drop.x()) < 2 and abs(request.pos.y() - drop.y()) < 2
    keys = sorted(t.key for t in request.compatible_types())
    assert keys == ["test.number", "test.text", "test.upper"]  # Sum takes numbers only
    entries = editor.stack.count()
    new_id = request.accept("test.upper")
    assert editor.stack.count() == entries + 1
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, new_id)]
    editor.stack.undo()
    assert not editor.model.has_node(new_id) and editor.model.doc.edges == []


def test_rubber_band_and_ctrl_click_selection(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.text", 100, 250)
    c = add(editor, "test.text", 500, 100)
    drag(qtbot, editor, vpos(editor, QPointF(50, 60)), vpos(editor, QPointF(350, 400)))
    assert sorted(editor.scene.selected_node_ids()) == sorted([a, b])
    qtbot.mouseClick(editor.view.viewport(), LEFT, CTRL, body_pos(editor, c))
    assert sorted(editor.scene.selected_node_ids()) == sorted([a, b, c])
    qtbot.mouseClick(editor.view.viewport(), LEFT, CTRL, body_pos(editor, a))
    assert sorted(editor.scene.selected_node_ids()) == sorted([b, c])
    qtbot.mouseClick(editor.view.viewport(), LEFT, NO_MOD, vpos(editor, QPointF(800, 500)))
    assert editor.scene.selected_node_ids() == []


def test_move_by_drag_is_one_undo_entry_and_snaps(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 400, 100)
    c = add(editor, "test.text", 100, 300)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    editor.scene.select_nodes([a, c])
    entries = editor.stack.count()
    start = body_pos(editor, a)
    drag(qtbot, editor, start, start + QPoint(47, 33), steps=6)
    assert editor.stack.count() == entries + 1
    assert editor.model.node(a).pos == [140.0, 140.0]  # 100 + 47 → 140 on the 20 grid
    assert editor.model.node(c).pos == [140.0, 340.0]  # moved by the same snapped delta
    assert editor.model.node(b).pos == [400.0, 100.0]
    edge = editor.scene.edges[editor.model.doc.edges[0].id]
    assert edge.endpoints()[0] == editor.scene.nodes[a].port_scene_pos("output", True)
    editor.stack.undo()
    assert editor.model.node(a).pos == [100.0, 100.0]
    assert editor.scene.nodes[a].pos() == QPointF(100, 100)
    assert edge.endpoints()[0] == editor.scene.nodes[a].port_scene_pos("output", True)


def test_separate_drags_of_the_same_node_are_separate_undo_steps(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.text", 100, 300)
    entries = editor.stack.count()
    for _ in range(2):
        start = body_pos(editor, a)
        drag(qtbot, editor, start, start + QPoint(40, 0))
    assert editor.model.node(a).pos == [180.0, 100.0]
    assert editor.stack.count() == entries + 2  # one undo step per drag
    start = body_pos(editor, b)
    drag(qtbot, editor, start, start + QPoint(40, 0))
    assert editor.stack.count() == entries + 3
    editor.stack.undo()
    assert editor.model.node(b).pos == [100.0, 300.0]
    editor.stack.undo()
    assert editor.model.node(a).pos == [140.0, 100.0]  # only the second drag undone
    editor.stack.undo()
    assert editor.model.node(a).pos == [100.0, 100.0]


def test_move_without_snapping(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    editor.view.snap_enabled = False
    start = body_pos(editor, a)
    drag(qtbot, editor, start, start + QPoint(47, 33))
    assert editor.model.node(a).pos == [147.0, 133.0]


def test_a_click_without_drag_moves_nothing(qtbot, editor) -> None:
    a = add(editor, "test.text", 101, 99)
    entries = editor.stack.count()
    qtbot.mouseClick(editor.view.viewport(), LEFT, NO_MOD, body_pos(editor, a))
    assert editor.stack.count() == entries
    assert editor.scene.selected_node_ids() == [a]


def test_delete_key_and_undo(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 400, 100)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    before = editor.model.doc.to_data()
    editor.view.setFocus()
    qtbot.mouseClick(editor.view.viewport(), LEFT, NO_MOD, body_pos(editor, a))
    qtbot.keyClick(editor.view, Qt.Key.Key_Delete)
    assert not editor.model.has_node(a) and editor.model.doc.edges == []
    assert set(editor.scene.nodes) == {b} and editor.scene.edges == {}
    qtbot.keyClick(editor.view, Qt.Key.Key_Z, CTRL)
    assert editor.model.doc.to_data() == before
    assert set(editor.scene.nodes) == {a, b} and len(editor.scene.edges) == 1


def test_copy_paste_through_the_system_clipboard(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 400, 100)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    editor.view.setFocus()
    editor.scene.select_nodes([a, b])
    qtbot.keyClick(editor.view, Qt.Key.Key_C, CTRL)
    copied = json.loads(QApplication.clipboard().text())
    assert [n["id"] for n in copied["nodes"]] == [a, b]
    qtbot.mouseMove(editor.view.viewport(), vpos(editor, QPointF(200, 400)))
    qtbot.keyClick(editor.view, Qt.Key.Key_V, CTRL)
    assert len(editor.model.doc.nodes) == 4 and len(editor.model.doc.edges) == 2
    pasted = editor.scene.selected_node_ids()
    assert len(pasted) == 2 and not {a, b} & set(pasted)
    new_edge = editor.model.doc.edges[1]
    assert {new_edge.source, new_edge.target} == set(pasted)
    qtbot.keyClick(editor.view, Qt.Key.Key_Z, CTRL)
    assert len(editor.model.doc.nodes) == 2


def test_pasting_garbage_changes_nothing_and_says_so(qtbot, editor) -> None:
    add(editor, "test.text", 100, 100)
    said = messages(editor)
    before = editor.model.doc.to_data()
    entries = editor.stack.count()
    QApplication.clipboard().setText("definitely not a workflow")
    editor.view.setFocus()
    qtbot.keyClick(editor.view, Qt.Key.Key_V, CTRL)
    assert editor.model.doc.to_data() == before
    assert editor.stack.count() == entries
    assert said and said[-1].startswith("Cannot paste: the clipboard text is not workflow JSON")


def test_duplicate_and_select_all_keys(qtbot, editor) -> None:
    add(editor, "test.text", 100, 100)
    add(editor, "test.text", 300, 100)
    editor.view.setFocus()
    qtbot.keyClick(editor.view, Qt.Key.Key_A, CTRL)
    assert len(editor.scene.selected_node_ids()) == 2
    qtbot.keyClick(editor.view, Qt.Key.Key_D, CTRL)
    assert len(editor.model.doc.nodes) == 4
    assert editor.model.doc.nodes[2].pos == [140.0, 140.0]


def test_arrow_nudges_merge_into_one_entry(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    editor.scene.select_nodes([a])
    editor.view.setFocus()
    entries = editor.stack.count()
    for _ in range(3):
        qtbot.keyClick(editor.view, Qt.Key.Key_Right)
    qtbot.keyClick(editor.view, Qt.Key.Key_Down)
    assert editor.model.node(a).pos == [160.0, 120.0]
    assert editor.stack.count() == entries + 1  # consecutive nudges merge
    editor.stack.undo()
    assert editor.model.node(a).pos == [100.0, 100.0]


def _wheel(editor: Editor, at: QPoint, delta: int) -> None:
    vp = editor.view.viewport()
    event = QWheelEvent(
        QPointF(at),
        QPointF(vp.mapToGlobal(at)),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        NO_MOD,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, event)


def test_wheel_zooms_around_the_cursor_within_limits(qtbot, editor) -> None:
    at = QPoint(700, 200)
    under = editor.view.mapToScene(at)
    _wheel(editor, at, 120)
    assert editor.view.zoom() == pytest.approx(1.0015**120, rel=1e-3)
    after = editor.view.mapToScene(at)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2
    for _ in range(60):
        _wheel(editor, at, 120)
    assert editor.view.zoom() == pytest.approx(MAX_ZOOM)
    for _ in range(200):
        _wheel(editor, at, -120)
    assert editor.view.zoom() == pytest.approx(MIN_ZOOM)


def test_pan_with_middle_button_and_space_drag(qtbot, editor) -> None:
    vp = editor.view.viewport()
    center = QPoint(500, 350)
    before = editor.view.mapToScene(center)
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, NO_MOD, center)
    qtbot.mouseMove(vp, center + QPoint(100, 50))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, NO_MOD, center + QPoint(100, 50))
    after = editor.view.mapToScene(center)
    assert after.x() == pytest.approx(before.x() - 100, abs=1)
    assert after.y() == pytest.approx(before.y() - 50, abs=1)
    editor.view.setFocus()
    qtbot.keyPress(editor.view, Qt.Key.Key_Space)
    drag(qtbot, editor, center, center + QPoint(-60, 0))
    qtbot.keyRelease(editor.view, Qt.Key.Key_Space)
    again = editor.view.mapToScene(center)
    assert again.x() == pytest.approx(after.x() + 60, abs=1)
    assert editor.model.doc.nodes == []  # panning edits nothing


def test_fit_all_and_fit_selection(qtbot, editor) -> None:
    ids = [add(editor, "test.text", x, y) for x, y in ((-3000, -2000), (4000, 2500), (0, 0))]
    editor.view.fit_all()
    visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
    for node_id in ids:
        assert visible.contains(editor.scene.nodes[node_id].sceneBoundingRect())
    editor.scene.select_nodes([ids[1]])
    editor.view.fit_selection()
    assert editor.view.zoom() == pytest.approx(1.5)
    visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
    assert visible.contains(editor.scene.nodes[ids[1]].sceneBoundingRect())
    assert not visible.contains(editor.scene.nodes[ids[0]].sceneBoundingRect())


def test_group_drag_carries_its_nodes_and_grip_resizes(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    outside = add(editor, "test.text", 600, 100)
    editor.scene.select_nodes([a])
    key = editor.scene.group_selection("Mine")
    group = editor.scene.groups[key]
    x, y, _, _ = editor.model.group(key).bounding
    assert (x, y) == (80.0, 100.0 - 20.0 - 28.0)
    editor.scene.clearSelection()
    editor.view.snap_enabled = False
    entries = editor.stack.count()
    title = vpos(editor, QPointF(x + 10, y + 8))
    drag(qtbot, editor, title, title + QPoint(40, 60))
    assert editor.stack.count() == entries + 1
    assert editor.model.node(a).pos == [140.0, 160.0]
    assert editor.model.node(outside).pos == [600.0, 100.0]
    assert editor.model.group(key).bounding[:2] == [x + 40, y + 60]
    gx, gy, gw, gh = editor.model.group(key).bounding
    grip = vpos(editor, QPointF(gx + gw - 4, gy + gh - 4))
    drag(qtbot, editor, grip, grip + QPoint(100, 50))
    nx, ny, nw, nh = editor.model.group(key).bounding
    assert (nx, ny) == (gx, gy) and nw > gw + 80 and nh > gh + 30
    assert group.rect().width() == nw
    editor.stack.undo()
    assert editor.model.group(key).bounding == [gx, gy, gw, gh]


def test_unknown_node_types_draw_as_placeholders(qtbot, registry) -> None:
    editor = Editor(seed_document(), registry)
    qtbot.addWidget(editor.widget)
    editor.widget.resize(1000, 700)
    editor.widget.show()
    item = editor.scene.nodes["9"]
    assert item.unknown and [p.name for p in item.outputs] == ["output"]
    assert not editor.scene.nodes["1"].unknown
    editor.view.set_zoom(1.0)
    editor.view.centerOn(item.sceneBoundingRect().center())
    image = QImage(1000, 700, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    editor.view.render(painter)
    painter.end()
    assert item.texts is not None and "preview" in item.texts  # "unknown type: gmail"


def test_level_of_detail_switches(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 400, 100)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    scene = editor.scene
    pos = scene.nodes[a].port_scene_pos("output", True)
    assert scene.port_at(pos) is not None
    editor.view.set_zoom(0.2)
    assert not scene.details_visible and scene.wires_visible
    assert scene.port_at(pos) is None  # no wiring at block level
    editor.view.set_zoom(0.03)
    assert not scene.edge_layer.isVisible()
    editor.view.set_zoom(1.0)
    assert scene.details_visible and scene.edge_layer.isVisible()
    for zoom in (1.0, 0.2, 0.03):
        editor.view.set_zoom(zoom)
        image = QImage(400, 300, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        editor.view.render(painter)
        painter.end()


def test_status_badges_and_theme(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    editor.scene.set_node_status(a, "running", "3 items")
    assert editor.scene.nodes[a].status == "running"
    editor.scene.set_theme("light")
    image = QImage(400, 300, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    editor.view.render(painter)
    painter.end()
    editor.scene.clear_statuses()
    assert editor.scene.nodes[a].status is None
    with pytest.raises(Exception, match="unknown canvas theme 'pink'"):
        editor.scene.set_theme("pink")


def test_double_click_requests_search_or_activates_node(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    requests: list[NodeRequest] = []
    activated: list[str] = []
    editor.scene.node_requested.connect(requests.append)
    editor.scene.node_activated.connect(activated.append)
    qtbot.mouseDClick(editor.view.viewport(), LEFT, NO_MOD, vpos(editor, QPointF(600, 500)))
    qtbot.mouseDClick(editor.view.viewport(), LEFT, NO_MOD, body_pos(editor, a))
    assert len(requests) == 1 and requests[0].port is None
    assert activated == [a]
    assert len(requests[0].compatible_types()) == 4
    new_id = requests[0].accept("test.sum")
    assert editor.model.node(new_id).pos == pytest.approx(
        [requests[0].pos.x(), requests[0].pos.y()]
    )


def test_editor_load_resets_history(qtbot, editor) -> None:
    add(editor, "test.text", 0, 0)
    assert editor.stack.count() == 1
    editor.load(seed_document())
    assert editor.stack.count() == 0 and editor.stack.isClean()
    assert set(editor.scene.nodes) == {"1", "2", "5", "9", "12"}
    assert len(editor.scene.groups) == 2
    editor.load(WorkflowDocument())
    assert editor.scene.nodes == {} and editor.scene.edges == {}


def test_escape_cancels_a_drag(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    entries = editor.stack.count()
    vp = editor.view.viewport()
    start = body_pos(editor, a)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(30, 10))
    qtbot.mouseMove(vp, start + QPoint(90, 60))
    assert editor.scene.nodes[a].pos() != QPointF(100, 100)
    editor.view.setFocus()
    qtbot.keyClick(editor.view, Qt.Key.Key_Escape)
    qtbot.mouseRelease(vp, LEFT, NO_MOD, start + QPoint(90, 60))
    assert editor.scene.nodes[a].pos() == QPointF(100, 100)
    assert editor.model.node(a).pos == [100.0, 100.0]
    assert editor.stack.count() == entries


def test_click_a_wire_and_delete_it(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 500, 100)
    editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    edge = next(iter(editor.scene.edges.values()))
    start, end = edge.endpoints()
    middle = (start + end) / 2
    qtbot.mouseClick(editor.view.viewport(), LEFT, NO_MOD, vpos(editor, middle))
    assert editor.scene.selected_edge_ids() == [edge.edge_id]
    editor.view.setFocus()
    qtbot.keyClick(editor.view, Qt.Key.Key_Delete)
    assert editor.model.doc.edges == [] and editor.scene.edges == {}
    assert editor.model.has_node(a) and editor.model.has_node(b)


def test_wiring_a_node_to_itself_is_refused(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    said = messages(editor)
    vp = editor.view.viewport()
    qtbot.mousePress(vp, LEFT, NO_MOD, port_pos(editor, a, "output", True))
    qtbot.mouseMove(vp, port_pos(editor, a, "output", True) + QPoint(30, 30))
    qtbot.mouseMove(vp, port_pos(editor, a, "input", False))
    assert editor.view.interaction.feedback == REFUSE
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, a, "input", False))
    assert editor.model.doc.edges == []
    assert any("cannot be connected to itself" in m for m in said)


def test_group_and_ungroup_keys(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    said = messages(editor)
    editor.view.setFocus()
    qtbot.keyClick(editor.view, Qt.Key.Key_G, CTRL)
    assert said == ["Select the nodes to group first"] and editor.model.doc.groups == []
    editor.scene.select_nodes([a])
    qtbot.keyClick(editor.view, Qt.Key.Key_G, CTRL)
    assert len(editor.model.doc.groups) == 1
    key = editor.model.group_keys()[0]
    editor.scene.clearSelection()
    editor.scene.groups[key].setSelected(True)
    qtbot.keyClick(editor.view, Qt.Key.Key_G, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert editor.model.doc.groups == [] and editor.scene.groups == {}


def test_loading_a_document_mid_drag_abandons_the_gesture(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    vp = editor.view.viewport()
    start = port_pos(editor, a, "output", True)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(50, 50))
    assert editor.view.interaction is not None
    editor.load(seed_document())
    assert editor.view.interaction is None and editor.scene.overlay is None
    qtbot.mouseMove(vp, start + QPoint(80, 80))
    qtbot.mouseRelease(vp, LEFT, NO_MOD, start + QPoint(80, 80))
    assert len(editor.model.doc.edges) == 2  # the loaded document's own


def test_dragging_a_node_reroutes_only_its_own_wires(qtbot, editor, monkeypatch) -> None:
    from glyphic_desktop.ui.canvas.edge_item import EdgeItem

    ids = [add(editor, "test.text", (i % 10) * 260, (i // 10) * 160) for i in range(60)]
    for a, b in itertools.pairwise(ids):
        editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    editor.view.centerOn(editor.scene.nodes[ids[30]])
    rerouted: list[int] = []
    original = EdgeItem.adjust
    monkeypatch.setattr(
        EdgeItem, "adjust", lambda self: (rerouted.append(self.edge_id), original(self))
    )
    start = body_pos(editor, ids[30])
    drag(qtbot, editor, start, start + QPoint(60, 40), steps=5)
    moved_edges = set(editor.model.edges_of(ids[30]))
    assert len(moved_edges) == 2
    assert set(rerouted) == moved_edges
    assert len(rerouted) <= 2 * 6 + 2  # per drag step, plus the command's final placement
