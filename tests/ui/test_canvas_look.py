"""How nodes look and read: state borders and badges, the zoomed-out labels, ports at 30 %,
the minimap, and typed built-in ports that refuse a wrong wire (real mouse events)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.ui.canvas import Editor
from glyphic_desktop.ui.canvas.minimap import Minimap
from glyphic_desktop.ui.canvas.node_item import animator, label_font
from glyphic_desktop.ui.canvas.port_item import REFUSE
from glyphic_desktop.ui.canvas.style import LABEL_PX, STATE_COLORS
from glyphic_desktop.ui.commands import ConnectCommand, SetSettingCommand, add_node_command

from .test_canvas import LEFT, NO_MOD, add, drag, messages, port_pos


def grab(editor: Editor, node_id: str, margin: float = 12.0) -> QImage:
    """The node (plus a margin) rendered 1:1 from the scene at the view's zoom."""
    item = editor.scene.nodes[node_id]
    rect = item.sceneBoundingRect().adjusted(-margin, -margin, margin, margin)
    scale = editor.view.zoom()
    image = QImage(
        int(rect.width() * scale), int(rect.height() * scale), QImage.Format.Format_RGB32
    )
    image.fill(editor.scene.theme.background)
    painter = QPainter(image)
    editor.scene.render(painter, QRectF(image.rect()), rect)
    painter.end()
    return image


def count_near(image: QImage, color: QColor, tolerance: int = 40) -> int:
    """How many pixels of ``image`` are within ``tolerance`` of ``color``."""
    found = 0
    for y in range(0, image.height()):
        for x in range(0, image.width()):
            pixel = image.pixelColor(x, y)
            if (
                abs(pixel.red() - color.red())
                + abs(pixel.green() - color.green())
                + abs(pixel.blue() - color.blue())
                <= tolerance
            ):
                found += 1
    return found


def border_pixels(image: QImage, margin: int, color: QColor) -> int:
    """Pixels of ``color`` on the left edge of the node (where its border runs)."""
    strip = image.copy(margin - 2, margin + 30, 5, image.height() - 2 * margin - 40)
    return count_near(strip, color)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_each_run_state_draws_its_border_and_badge(qtbot, editor, theme) -> None:
    editor.scene.set_theme(theme)
    node = add(editor, "test.text", 100, 100)
    item = editor.scene.nodes[node]
    plain = grab(editor, node)
    for state in ("running", "done", "failed", "cancelled"):
        color = QColor(STATE_COLORS[state])
        assert border_pixels(plain, 12, color) == 0
        editor.scene.set_node_status(node, state, "3 items" if state == "done" else "")
        image = grab(editor, node)
        assert border_pixels(image, 12, color) >= 10, state  # the border
        header = image.copy(image.width() // 2, 12, image.width() // 2, 26)
        assert count_near(header, color) >= 8, state  # the badge's dot / tint
    assert [text for text, _ in item.badges()] == ["cancelled"]
    editor.scene.set_node_status(node, "done", "3 items")
    assert item.badges() == [("3 items", "done")]
    # Skipped: the whole node dimmed towards the background.
    editor.scene.set_node_status(node, None)
    normal_text = count_near(grab(editor, node), editor.scene.theme.node_text, 60)
    editor.scene.set_node_status(node, "skipped")
    assert count_near(grab(editor, node), editor.scene.theme.node_text, 60) < normal_text / 3
    editor.scene.set_node_status(node, None)


def test_disabled_and_pinned_nodes_are_marked(qtbot, editor) -> None:
    node = add(editor, "test.text", 100, 100)
    item = editor.scene.nodes[node]
    text = editor.scene.theme.node_text
    before = count_near(grab(editor, node), text, 60)
    editor.stack.push(SetSettingCommand(editor.model, node, "disabled", True))
    assert ("disabled", "disabled") in item.badges()
    assert count_near(grab(editor, node), text, 60) < before / 3  # greyed
    editor.stack.push(SetSettingCommand(editor.model, node, "pinnedData", {"output": 1}))
    assert ("pinned", "pinned") in item.badges()
    editor.stack.undo()
    editor.stack.undo()
    assert item.badges() == []


def test_running_border_moves_only_while_a_node_runs(qtbot, editor) -> None:
    node = add(editor, "test.text", 100, 100)
    spinner = animator(editor.scene)
    assert not spinner.timer.isActive()  # nothing runs: no timer, no repaint
    editor.scene.set_node_status(node, "running")
    assert spinner.timer.isActive()
    first = spinner.phase
    qtbot.waitUntil(lambda: spinner.ticks >= 2, timeout=3000)
    assert spinner.phase != first
    editor.scene.set_node_status(node, "done", "1 item")
    assert not spinner.timer.isActive()
    editor.scene.set_node_status(node, "running")
    editor.scene.cancel_running()
    assert editor.scene.nodes[node].status == "cancelled"
    assert not spinner.timer.isActive()


def test_summary_line_shows_the_declared_field_and_marks_expressions() -> None:
    registry = default_registry()
    editor = Editor(WorkflowDocument(), registry)
    http = add(editor, "http_request", 0, 0)
    editor.model.set_field(http, "url", "https://example.com/{{ input.id }}")
    item = editor.scene.nodes[http]
    assert item.preview == "https://example.com/{{ input.id }}"
    assert item.visual.expression and item.visual.icon == "globe"
    log = add(editor, "log", 300, 0)
    editor.model.set_field(log, "message", "hello")
    assert editor.scene.nodes[log].preview == "hello"
    assert editor.scene.nodes[log].visual.color != item.visual.color  # Data vs Network


def test_zoomed_out_titles_stay_readable(qtbot, editor) -> None:
    node = add(editor, "test.text", 100, 100)
    editor.model.set_label(node, "Readable title")
    editor.view.set_zoom(0.2)
    editor.view.centerOn(editor.scene.nodes[node].sceneBoundingRect().center())
    assert not editor.scene.details_visible and editor.scene.labels_visible
    image = QImage(editor.view.viewport().size(), QImage.Format.Format_RGB32)
    painter = QPainter(image)
    editor.view.render(painter)
    painter.end()
    # The label's text pixels: their height on screen is that of an 11 px font, not of
    # an 8.5 pt font scaled to 20 % (under 3 px).
    text = editor.scene.theme.node_text
    rows = [
        y for y in range(image.height()) if count_near(image.copy(0, y, image.width(), 1), text, 30)
    ]
    assert rows, "no title drawn at 20 %"
    assert max(rows) - min(rows) + 1 >= 7
    assert label_font().pixelSize() == LABEL_PX
    assert editor.scene.nodes[node].label_text(80).text().startswith("Readable")


def test_ports_are_grabbable_at_30_percent(qtbot, editor) -> None:
    a = add(editor, "test.text", 100, 100)
    b = add(editor, "test.upper", 400, 100)
    editor.view.set_zoom(0.3)
    editor.view.centerOn(QPointF(350, 150))
    drag(qtbot, editor, port_pos(editor, a, "output", True), port_pos(editor, b, "input", False))
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(a, b)]


def test_minimap_moves_the_view_and_keeps_its_picture(qtbot, editor) -> None:
    for i in range(30):
        add(editor, "test.text", (i % 6) * 300.0, (i // 6) * 200.0)
    minimap = Minimap(editor.view)
    minimap.show()
    qtbot.waitExposed(minimap)
    built = minimap.rebuilds
    assert built >= 1
    # Scrolling and zooming the view repaint the minimap from its cached picture.
    for step in range(10):
        editor.view.centerOn(QPointF(step * 100.0, 0.0))
        minimap.repaint()
    editor.view.set_zoom(0.5)
    minimap.repaint()
    assert minimap.rebuilds == built
    # A click centres the view on that point of the graph.
    target = minimap.to_map(QPointF(1500.0, 800.0)).toPoint()
    QTest.mouseClick(minimap, LEFT, NO_MOD, target)
    centre = editor.view.mapToScene(editor.view.viewport().rect().center())
    assert abs(centre.x() - 1500.0) < 40 and abs(centre.y() - 800.0) < 40
    # Dragging follows the pointer.
    start = minimap.to_map(QPointF(0.0, 0.0)).toPoint()
    QTest.mousePress(minimap, LEFT, NO_MOD, start)
    QTest.mouseMove(minimap, start + QPoint(10, 5))
    QTest.mouseRelease(minimap, LEFT, NO_MOD, start + QPoint(10, 5))
    centre = editor.view.mapToScene(editor.view.viewport().rect().center())
    expected = minimap.to_scene(QPointF(start + QPoint(10, 5)))
    assert abs(centre.x() - expected.x()) < 40 and abs(centre.y() - expected.y()) < 40
    # Fifty nodes added in one go: one rebuild, after the burst.
    editor.stack.beginMacro("many")
    for i in range(50):
        editor.stack.push(add_node_command(editor.model, "test.text", (i * 10.0, 3000.0)))
    editor.stack.endMacro()
    qtbot.waitUntil(lambda: minimap.rebuilds == built + 1, timeout=3000)
    qtbot.wait(minimap.COALESCE_MS * 2)
    assert minimap.rebuilds == built + 1
    # Hidden, it does no work at all.
    minimap.hide()
    add(editor, "test.text", -500.0, -500.0)
    qtbot.wait(minimap.COALESCE_MS * 2)
    assert minimap.rebuilds == built + 1


@pytest.fixture
def builtin_editor(qtbot):
    ed = Editor(WorkflowDocument(), default_registry())
    qtbot.addWidget(ed.widget)
    ed.widget.resize(1000, 700)
    ed.widget.show()
    qtbot.waitExposed(ed.widget)
    ed.view.set_zoom(1.0)
    ed.view.centerOn(400, 300)
    return ed


def test_a_list_cannot_feed_a_node_that_takes_one_item(qtbot, builtin_editor) -> None:
    editor = builtin_editor
    merge = add(editor, "merge", 100, 100)
    slack = add(editor, "slack", 500, 100)
    write = add(editor, "write_file", 100, 400)
    said = messages(editor)
    vp = editor.view.viewport()
    start = port_pos(editor, merge, "output", True)
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(40, 10))
    gesture = editor.view.interaction
    qtbot.mouseMove(vp, port_pos(editor, slack, "input", False))
    assert gesture.feedback == REFUSE
    assert "list (array)" in gesture.reason and "Loop over items" in gesture.reason
    qtbot.mouseRelease(vp, LEFT, NO_MOD, port_pos(editor, slack, "input", False))
    assert editor.model.doc.edges == []
    assert any("Loop over items" in text for text in said)
    # A file is an object: Write file's output may feed Slack.
    drag(
        qtbot,
        editor,
        port_pos(editor, write, "output", True),
        port_pos(editor, slack, "input", False),
    )
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(write, slack)]


def test_preflight_uses_the_same_table() -> None:
    from glyphic_desktop.engine.preflight import preflight

    registry = default_registry()
    editor = Editor(WorkflowDocument(), registry)
    merge = add(editor, "merge", 0, 0)
    slack = add(editor, "slack", 300, 0)
    write = add(editor, "write_file", 0, 300)
    with pytest.raises(Exception, match="Loop over items"):
        editor.stack.push(ConnectCommand(editor.model, merge, "output", slack, "input"))
    document = editor.model.doc.model_copy(deep=True)
    data = document.to_data()
    data["edges"].append(
        {
            "id": 901,
            "source": merge,
            "sourceHandle": "output",
            "target": slack,
            "targetHandle": "input",
        }
    )
    data["edges"].append(
        {
            "id": 902,
            "source": write,
            "sourceHandle": "output",
            "target": slack,
            "targetHandle": "input",
        }
    )
    problems = preflight(WorkflowDocument.model_validate(data), registry)
    kinds = [(p.kind, p.edge_id) for p in problems if p.kind == "port_type"]
    assert kinds == [("port_type", 901)]
    (problem,) = [p for p in problems if p.kind == "port_type"]
    assert "Loop over items" in problem.message


def test_window_minimap_toggle_and_tidy_up_of_the_selection(qtbot, db) -> None:
    from .helpers import make_window

    window = make_window(qtbot, db)
    ids = [window.add_node("manual", QPointF(0.0, 0.0))]
    for x, y in ((900.0, 700.0), (-400.0, 300.0), (2000.0, 2000.0)):
        ids.append(window.add_node("log", QPointF(x, y)))
    for a, b in ((ids[0], ids[1]), (ids[1], ids[2])):
        window.undo_stack.push(ConnectCommand(window.model, a, "output", b, "input"))
    # View > Minimap by its shortcut: shown in the canvas corner; a click moves the view.
    action = window.actions["minimap"]
    assert action.isEnabled() and not action.isChecked()
    window.view.setFocus()
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    minimap = window.view.minimap
    assert action.isChecked()
    qtbot.waitUntil(minimap.isVisible)
    target = minimap.to_map(QPointF(2000.0, 2000.0)).toPoint()
    QTest.mouseClick(minimap, LEFT, NO_MOD, target)
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert abs(centre.x() - 2000.0) < 80 and abs(centre.y() - 2000.0) < 80
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert not minimap.isVisible()
    # Tidy up the three wired nodes only: one undo step; the fourth does not move.
    window.scene.select_nodes(ids[:3])
    before = window.undo_stack.count()
    untouched = list(window.model.node(ids[3]).pos)
    QTest.keyClick(
        window.view.viewport(),
        Qt.Key.Key_L,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.undo_stack.count() == before + 1
    xs = [window.model.node(node_id).pos[0] for node_id in ids[:3]]
    assert xs[0] < xs[1] < xs[2]  # left to right along the wires
    assert window.model.node(ids[3]).pos == untouched
    window.undo_stack.undo()
    assert window.model.node(ids[1]).pos == [900.0, 700.0]


def test_stopped_run_leaves_the_running_node_cancelled(qtbot, db) -> None:
    from .helpers import build_chain, make_window

    window = make_window(qtbot, db)
    ids = build_chain(window, [("manual", {}), ("delay", {"seconds": 60})])
    window.prompts.text_answers = ["Cancel me"]
    assert window.save()
    assert window.run()
    item = window.scene.nodes[ids[1]]
    qtbot.waitUntil(lambda: item.status == "running", timeout=15_000)
    assert animator(window.scene).timer.isActive()
    window.actions["stop"].trigger()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=15_000)
    assert item.status == "cancelled"
    assert ("cancelled", "cancelled") in item.badges()
    assert not animator(window.scene).timer.isActive()
