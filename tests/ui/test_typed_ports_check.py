"""Typed built-in ports in the editor, driven with real mouse events: If's boolean
``condition`` input refuses an object or a list, GitHub's output is a list for the list
operations (and follows a change of operation), an If saved before the condition input
existed shows it, and painting never asks a type for its output types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF
from PySide6.QtGui import QImage, QPainter

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.preflight import preflight
from glyphic_desktop.nodes.builtin.integrations import GitHubNode
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.ui.canvas import Editor, NodeRequest
from glyphic_desktop.ui.canvas.port_item import ACCEPT, REFUSE
from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand
from glyphic_desktop.ui.graph_model import EditError

from .test_canvas import LEFT, NO_MOD, add, drag, messages, port_pos

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "resources" / "examples" / "branching-if-switch.json"
)


def _editor(qtbot, document: WorkflowDocument | None = None, centre=(400, 300)) -> Editor:
    ed = Editor(document or WorkflowDocument(), default_registry())
    qtbot.addWidget(ed.widget)
    ed.widget.resize(1000, 700)
    ed.widget.show()
    qtbot.waitExposed(ed.widget)
    ed.view.set_zoom(1.0)
    ed.view.centerOn(*centre)
    return ed


def _hover_verdict(qtbot, editor: Editor, start: QPoint, end: QPoint) -> tuple[str, str | None]:
    """Press on ``start``, hover ``end``, release there: the hover's feedback and reason."""
    vp = editor.view.viewport()
    qtbot.mousePress(vp, LEFT, NO_MOD, start)
    qtbot.mouseMove(vp, start + QPoint(40, 10))
    qtbot.mouseMove(vp, end)
    gesture = editor.view.interaction
    verdict = (gesture.feedback, gesture.reason)
    qtbot.mouseRelease(vp, LEFT, NO_MOD, end)
    return verdict


def test_an_object_or_a_list_is_refused_by_the_if_condition(qtbot) -> None:
    editor = _editor(qtbot)
    fetch = add(editor, "http_request", 100, 100)
    join = add(editor, "merge", 100, 400)
    check = add(editor, "if", 500, 250)
    said = messages(editor)
    condition = port_pos(editor, check, "condition", False)
    feedback, reason = _hover_verdict(
        qtbot, editor, port_pos(editor, fetch, "output", True), condition
    )
    assert feedback == REFUSE
    assert reason is not None
    assert "takes boolean" in reason and "it gives an object but the input takes true/false" in (
        reason
    )
    feedback, reason = _hover_verdict(
        qtbot, editor, port_pos(editor, join, "output", True), condition
    )
    assert feedback == REFUSE
    assert "it gives a list (array) but the input takes true/false" in reason
    assert editor.model.doc.edges == []
    assert any("Cannot connect" in text and "true/false" in text for text in said)
    # The item input still takes anything: the response goes there.
    drag(
        qtbot,
        editor,
        port_pos(editor, fetch, "output", True),
        port_pos(editor, check, "input", False),
    )
    assert [(e.source, e.targetHandle) for e in editor.model.doc.edges] == [(fetch, "input")]


def test_an_untyped_output_feeds_the_condition(qtbot) -> None:
    editor = _editor(qtbot)
    code = add(editor, "code", 100, 250)
    check = add(editor, "if", 500, 250)
    drag(
        qtbot,
        editor,
        port_pos(editor, code, "output", True),
        port_pos(editor, check, "condition", False),
    )
    assert [(e.source, e.target, e.targetHandle) for e in editor.model.doc.edges] == [
        (code, check, "condition")
    ]


def test_github_list_output_is_an_array_and_follows_the_operation(qtbot) -> None:
    editor = _editor(qtbot)
    github = add(editor, "github", 100, 250)
    slack = add(editor, "slack", 500, 100)
    check = add(editor, "if", 500, 400)
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", "list_issues"))
    assert editor.model.port(github, "output", True).type == "array"
    feedback, reason = _hover_verdict(
        qtbot,
        editor,
        port_pos(editor, github, "output", True),
        port_pos(editor, slack, "input", False),
    )
    assert feedback == REFUSE and "Loop over items" in reason
    feedback, reason = _hover_verdict(
        qtbot,
        editor,
        port_pos(editor, github, "output", True),
        port_pos(editor, check, "condition", False),
    )
    assert feedback == REFUSE and "list (array)" in reason and "true/false" in reason
    assert editor.model.doc.edges == []
    # One issue is an object: Slack takes it now.
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", "get_issue"))
    assert editor.model.port(github, "output", True).type == "object"
    feedback, reason = _hover_verdict(
        qtbot,
        editor,
        port_pos(editor, github, "output", True),
        port_pos(editor, slack, "input", False),
    )
    assert (feedback, reason) == (ACCEPT, None)
    assert [(e.source, e.target) for e in editor.model.doc.edges] == [(github, slack)]
    # Undo of the operation change brings the list type back with it.
    editor.stack.undo()  # the connection
    editor.stack.undo()  # get_issue
    assert editor.model.port(github, "output", True).type == "array"
    with pytest.raises(EditError, match="Loop over items"):
        editor.stack.push(ConnectCommand(editor.model, github, "output", slack, "input"))


def test_changing_the_operation_after_the_wire_exists_is_reported_by_preflight(qtbot) -> None:
    editor = _editor(qtbot)
    start = add(editor, "manual", -200, 250)
    github = add(editor, "github", 100, 250)
    slack = add(editor, "slack", 500, 250)
    for name, value in (("owner", "octo"), ("repo", "demo"), ("operation", "get_issue")):
        editor.stack.push(SetFieldCommand(editor.model, github, name, value))
    editor.stack.push(SetFieldCommand(editor.model, github, "number", 3))
    editor.stack.push(ConnectCommand(editor.model, start, "output", github, "input"))
    drag(
        qtbot,
        editor,
        port_pos(editor, github, "output", True),
        port_pos(editor, slack, "input", False),
    )
    (wire,) = [e for e in editor.model.doc.edges if e.target == slack]

    def port_problems() -> list[str]:
        return [
            p.message
            for p in preflight(editor.model.doc, default_registry())
            if p.kind == "port_type"
        ]

    assert port_problems() == []
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", "list_issues"))
    (problem,) = port_problems()
    assert f"edge {wire.id} connects" in problem and "(array) to input 'input' (object)" in problem
    # The editor agrees: the same wire would be refused now, with the same reason.
    reason = editor.model.check_connection(github, "output", slack, "input")
    assert reason is not None and "put a Loop over items between them" in reason


def test_an_if_saved_before_the_condition_input_shows_it_and_takes_a_wire(qtbot) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    document = WorkflowDocument.model_validate(json.loads(text))
    assert [p.name for p in document.find_node("node-2").inputs] == ["input"]
    check = document.find_node("node-2")
    editor = _editor(qtbot, document, centre=(check.pos[0] + 100, check.pos[1] + 60))
    inputs, outputs = editor.model.ports("node-2")
    assert [(p.name, p.type) for p in inputs] == [("input", "any"), ("condition", "boolean")]
    assert [p.name for p in outputs] == ["true", "false"]
    assert "condition" in dict(editor.scene.nodes["node-2"].in_centers)
    # Opening it changed nothing in the document.
    assert editor.model.doc.to_data() == WorkflowDocument.model_validate(json.loads(text)).to_data()
    # A wire from the untyped Manual trigger goes into the new input.
    drag(
        qtbot,
        editor,
        port_pos(editor, "node-1", "output", True),
        port_pos(editor, "node-2", "condition", False),
    )
    wired = [(e.source, e.targetHandle) for e in editor.model.doc.edges if e.target == "node-2"]
    assert wired == [("node-1", "input"), ("node-1", "condition")]
    assert [p for p in preflight(editor.model.doc, default_registry())] == []


def test_painting_never_asks_for_output_types(qtbot, monkeypatch) -> None:
    calls: list[object] = []
    declared = GitHubNode.output_types.__func__

    def counting(cls, fields):
        calls.append(fields)
        return declared(cls, fields)

    monkeypatch.setattr(GitHubNode, "output_types", classmethod(counting))
    editor = _editor(qtbot)
    github = add(editor, "github", 100, 250)
    assert calls  # asked once when the node was drawn
    calls.clear()
    image = QImage(1000, 700, QImage.Format.Format_RGB32)
    for zoom in (1.0, 0.4, 2.0):
        editor.view.set_zoom(zoom)
        painter = QPainter(image)
        editor.scene.render(painter, QRectF(image.rect()), QRectF(-500, -300, 1500, 1000))
        painter.end()
        editor.view.viewport().repaint()
    assert calls == []
    editor.stack.push(SetFieldCommand(editor.model, github, "operation", "list_pulls"))
    assert len(calls) == 1  # once per field edit, whatever is painted afterwards


def test_the_node_search_from_the_condition_offers_only_types_that_can_feed_it(qtbot) -> None:
    editor = _editor(qtbot)
    check = add(editor, "if", 500, 250)
    requests: list[NodeRequest] = []
    editor.scene.node_requested.connect(requests.append)
    drag(
        qtbot,
        editor,
        port_pos(editor, check, "condition", False),
        editor.view.mapFromScene(QPointF(150, 450)),
    )
    (request,) = requests
    keys = {spec.key for spec in request.compatible_types()}
    assert {"code", "set", "manual"} <= keys  # untyped outputs
    # An object, a list or a new GitHub node (create_issue answers an object) cannot.
    assert not keys & {"github", "http_request", "merge", "slack"}
    new_id = request.accept("code")
    assert [(e.source, e.target, e.targetHandle) for e in editor.model.doc.edges] == [
        (new_id, check, "condition")
    ]
