"""A wire that a later field edit made type-incompatible is marked on the canvas.

GitHub's output is an object for "get issue" and a list for "list issues": changing the
operation in the Node details panel (its real combo box, real key events) while the
output feeds Slack's object input or If's boolean condition turns that wire into a red
dashed one whose tooltip gives the connect check's reason; changing it back, undo and
redo follow. A document saved with such a wire shows it on load, and an edit re-checks
only the wires of the node that changed.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QHelpEvent, QImage, QUndoStack
from PySide6.QtWidgets import QApplication, QToolTip

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.ui.canvas import Editor
from glyphic_desktop.ui.canvas.edge_item import PROBLEM_PREFIX, EdgeItem
from glyphic_desktop.ui.canvas.style import DARK, LIGHT, PORT_COLORS, CanvasTheme
from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand, add_node_command
from glyphic_desktop.ui.docks.inspector import InspectorPanel
from glyphic_desktop.ui.graph_model import GraphModel

from .test_canvas import add

EXPRESSION = "{{ input.operation }}"  # GitHub's output stays `any` while written so


def _editor(qtbot, document: WorkflowDocument | None = None) -> Editor:
    editor = Editor(document or WorkflowDocument(), default_registry())
    qtbot.addWidget(editor.widget)
    editor.widget.resize(1000, 700)
    editor.widget.show()
    qtbot.waitExposed(editor.widget)
    editor.view.set_zoom(1.0)
    editor.view.centerOn(400, 300)
    return editor


def _panel(qtbot, editor: Editor, node_id: str) -> InspectorPanel:
    """The Node details panel over the editor's model and undo stack, showing ``node_id``."""
    panel = InspectorPanel(editor.model, editor.stack)
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_node(node_id)
    return panel


def _choose(qtbot, panel: InspectorPanel, field: str, value: str) -> None:
    """Pick ``value`` in the field's combo box: a click opens its list, the arrow keys
    move to the entry and Enter picks it (real events; one edit, on Enter)."""
    combo = panel.form.editors[field].input
    wanted = combo.findData(value)
    assert wanted >= 0, f"{value!r} is not a choice of {field}"
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    for _ in range(combo.count()):
        row = view.currentIndex().row()
        if row == wanted:
            break
        qtbot.keyClick(view, Qt.Key.Key_Down if row < wanted else Qt.Key.Key_Up)
    assert combo.currentData() != value or view.currentIndex().row() == wanted
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentData() == value


def _github_into_slack(qtbot, operation: str = "get_issue") -> tuple[Editor, str, str, int]:
    editor = _editor(qtbot)
    github = add(editor, "github", 0, 250)
    slack = add(editor, "slack", 600, 250)
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", operation))
    editor.stack.push(ConnectCommand(editor.model, github, "output", slack, "input"))
    (edge,) = editor.model.doc.edges
    return editor, github, slack, edge.id


def _close(pixel: QColor, color: QColor, tolerance: int = 40) -> bool:
    return (
        abs(pixel.red() - color.red()) <= tolerance
        and abs(pixel.green() - color.green()) <= tolerance
        and abs(pixel.blue() - color.blue()) <= tolerance
    )


def _wire_pixels(editor: Editor, item: EdgeItem, color: QColor) -> tuple[int, int]:
    """Grab the view; of the sample points along the middle of the wire, how many have a
    pixel of ``color`` within one pixel, and how many points were sampled."""
    QApplication.processEvents()
    image: QImage = editor.view.viewport().grab().toImage()
    path = item.path()
    hits = samples = 0
    for step in range(40):
        point = editor.view.mapFromScene(path.pointAtPercent(0.2 + 0.6 * step / 39))
        samples += 1
        if any(
            _close(image.pixelColor(point.x() + dx, point.y() + dy), color)
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if image.rect().contains(point.x() + dx, point.y() + dy)
        ):
            hits += 1
    return hits, samples


def _assert_drawn_invalid(editor: Editor, item: EdgeItem, theme: CanvasTheme) -> None:
    hits, samples = _wire_pixels(editor, item, theme.refuse)
    # dashed: most points lie on a dash (a gap is shorter than a dash and 1 px is searched)
    assert hits >= samples // 2, f"{hits} of {samples} points on the wire are {theme.name} red"


def _assert_drawn_valid(editor: Editor, item: EdgeItem, theme: CanvasTheme) -> None:
    hits, _ = _wire_pixels(editor, item, theme.refuse)
    assert hits == 0
    drawn, samples = _wire_pixels(editor, item, QColor(PORT_COLORS[item.port_type]))
    assert drawn >= samples * 3 // 4


def _tooltip_at(qtbot, editor: Editor, scene_point: QPointF) -> str:
    """Ask for the tooltip where the mouse rests over ``scene_point`` (a real ToolTip event)."""
    viewport = editor.view.viewport()
    local = editor.view.mapFromScene(scene_point)
    event = QHelpEvent(QEvent.Type.ToolTip, local, viewport.mapToGlobal(local))
    QApplication.sendEvent(viewport, event)
    return QToolTip.text() if QToolTip.isVisible() else ""


def test_changing_the_operation_marks_the_wire_and_changing_back_clears_it(qtbot) -> None:
    editor, github, slack, edge_id = _github_into_slack(qtbot)
    item = editor.scene.edges[edge_id]
    assert not item.invalid and item.toolTip() == ""
    _assert_drawn_valid(editor, item, DARK)
    said: list[str] = []
    editor.scene.status_message.connect(said.append)
    panel = _panel(qtbot, editor, github)
    entries = editor.stack.count()

    _choose(qtbot, panel, "operation", "list_issues")
    assert editor.stack.count() == entries + 1  # one undoable edit, through the panel
    assert editor.model.node(github).data.fields["operation"] == "list_issues"
    assert editor.scene.edges[edge_id] is item and item.invalid
    assert item.port_type == "array"  # the wire's own colour follows the output too
    # The reason is the connect check's own, word for word.
    refusal = editor.model.check_connection(github, "output", slack, "input")
    assert refusal is not None and "gives array" in refusal and "takes object" in refusal
    assert item.problem == refusal
    assert "put a Loop over items between them" in item.problem
    assert item.toolTip() == PROBLEM_PREFIX + refusal
    assert said == [f"Wire no longer fits: {refusal}"]
    _assert_drawn_invalid(editor, item, DARK)
    shown = _tooltip_at(qtbot, editor, item.path().pointAtPercent(0.5))
    assert refusal in shown

    _choose(qtbot, panel, "operation", "get_issue")
    assert not item.invalid and item.problem is None and item.toolTip() == ""
    assert item.port_type == "object"
    _assert_drawn_valid(editor, item, DARK)

    editor.stack.undo()  # back to list_issues
    assert item.invalid and item.problem == refusal
    _assert_drawn_invalid(editor, item, DARK)
    editor.stack.undo()  # back to get_issue
    assert not item.invalid
    _assert_drawn_valid(editor, item, DARK)
    editor.stack.redo()
    assert item.invalid
    # Renaming the node at the other end rewords the reason (it names both nodes).
    panel.show_node(slack)
    panel.label_edit.setFocus()
    panel.label_edit.selectAll()
    qtbot.keyClicks(panel.label_edit, "Team chat")
    qtbot.keyClick(panel.label_edit, Qt.Key.Key_Return)
    assert editor.model.node(slack).data.label == "Team chat"
    assert item.invalid and "'Team chat'" in item.problem and "'Team chat'" in item.toolTip()
    assert item.problem == editor.model.check_connection(github, "output", slack, "input")
    editor.stack.undo()  # the rename
    assert item.problem == refusal
    editor.stack.undo()  # list_issues: get_issue again
    assert not item.invalid and item.toolTip() == ""


def test_a_wire_into_the_if_condition_is_marked_in_both_themes(qtbot) -> None:
    editor = _editor(qtbot)
    github = add(editor, "github", 0, 250)
    check = add(editor, "if", 600, 250)
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", EXPRESSION))
    # Written as an expression the output may be anything: the condition takes it.
    editor.stack.push(ConnectCommand(editor.model, github, "output", check, "condition"))
    (edge,) = editor.model.doc.edges
    item = editor.scene.edges[edge.id]
    assert not item.invalid
    panel = _panel(qtbot, editor, github)
    # The panel's Fixed/Expression switch (a real click) back to a fixed operation, then
    # a list operation picked in its combo box.
    mode = panel.form.editors["operation"].mode_button
    assert mode.isChecked()  # the expression shows in Expression mode
    qtbot.mouseClick(mode, Qt.MouseButton.LeftButton)
    assert editor.model.node(github).data.fields["operation"] != EXPRESSION
    _choose(qtbot, panel, "operation", "list_issues")
    assert editor.model.node(github).data.fields["operation"] == "list_issues"
    assert item.invalid
    assert "it gives a list (array) but the input takes true/false" in item.problem
    assert item.problem == editor.model.check_connection(github, "output", check, "condition")
    _assert_drawn_invalid(editor, item, DARK)
    editor.scene.set_theme("light")
    _assert_drawn_invalid(editor, item, LIGHT)
    # One issue is an object: still no true/false, still marked, with that reason.
    _choose(qtbot, panel, "operation", "get_issue")
    assert item.invalid and "it gives an object but the input takes true/false" in item.problem
    # Undo down to the expression: the wire fits again.
    while editor.model.node(github).data.fields.get("operation") != EXPRESSION:
        editor.stack.undo()
    assert not item.invalid
    _assert_drawn_valid(editor, item, LIGHT)


def _saved_with_a_wrong_wire() -> WorkflowDocument:
    """A document holding GitHub (list issues) -> Slack, as a file would: the wire was
    made while the operation was "get issue" (no canvas involved)."""
    model = GraphModel(WorkflowDocument(), default_registry())
    stack = QUndoStack()
    for command in (
        add_node_command(model, "github", (0, 250)),
        add_node_command(model, "slack", (600, 250)),
    ):
        stack.push(command)
    github, slack = model.node_ids()
    stack.push(SetFieldCommand(model, github, "operation", "get_issue"))
    stack.push(ConnectCommand(model, github, "output", slack, "input"))
    stack.push(SetFieldCommand(model, github, "operation", "list_issues"))
    return WorkflowDocument.model_validate(model.doc.to_data())


def test_a_document_loaded_with_a_wrong_wire_shows_it(qtbot) -> None:
    document = _saved_with_a_wrong_wire()
    (edge,) = document.edges
    problems = [p for p in preflight(document, default_registry()) if p.kind == "port_type"]
    assert [p.edge_id for p in problems] == [edge.id]  # preflight agrees

    opened = _editor(qtbot, document)
    item = opened.scene.edges[edge.id]
    assert item.invalid and "gives array" in item.problem and "takes object" in item.problem
    _assert_drawn_invalid(opened, item, DARK)

    # Loading it into an editor already open (document_reset) marks it too.
    other = _editor(qtbot)
    add(other, "code", 0, 0)
    other.load(WorkflowDocument.model_validate(document.to_data()))
    reloaded = other.scene.edges[edge.id]
    assert reloaded.invalid and reloaded.problem == item.problem
    _assert_drawn_invalid(other, reloaded, DARK)
    # Fixing the operation there clears it.
    other.stack.push(SetFieldCommand(other.model, edge.source, "operation", "get_issue"))
    assert not reloaded.invalid


def test_a_deleted_wrong_wire_comes_back_marked_on_undo(qtbot) -> None:
    document = _saved_with_a_wrong_wire()
    editor = _editor(qtbot, document)
    (edge,) = document.edges
    editor.scene.edges[edge.id].setSelected(True)
    assert editor.scene.delete_selection()
    assert edge.id not in editor.scene.edges
    editor.stack.undo()
    assert editor.scene.edges[edge.id].invalid


def test_an_edit_rechecks_only_the_wires_of_the_node_that_changed(qtbot) -> None:
    editor, github, _slack, edge_id = _github_into_slack(qtbot)
    start = add(editor, "manual", -400, 250)
    editor.stack.push(ConnectCommand(editor.model, start, "output", github, "input"))
    # Thirty other wires elsewhere in the graph.
    for row in range(30):
        a = add(editor, "code", 0, 600 + 150 * row)
        b = add(editor, "code", 400, 600 + 150 * row)
        editor.stack.push(ConnectCommand(editor.model, a, "output", b, "input"))
    assert len(editor.model.doc.edges) == 32
    checked: list[int] = []
    judge = editor.model.wire_problem

    def counting(wire: int) -> str | None:
        checked.append(wire)
        return judge(wire)

    editor.model.wire_problem = counting  # the scene asks the model per wire it re-checks
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", "list_issues"))
    github_wires = set(editor.model.edges_of(github))
    assert len(github_wires) == 2
    assert sorted(checked) == sorted(github_wires)
    assert editor.scene.edges[edge_id].invalid
    checked.clear()
    editor.stack.undo()
    assert sorted(checked) == sorted(github_wires)
    assert not editor.scene.edges[edge_id].invalid
    # Editing an unwired node re-checks nothing.
    lone = add(editor, "github", 0, -400)
    checked.clear()
    editor.stack.push(SetFieldCommand(editor.model, lone, "operation", "list_pulls"))
    assert checked == []
