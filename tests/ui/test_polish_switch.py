"""The Switch node draws only its configured and wired outputs (display only)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.ui.canvas import Editor
from glyphic_desktop.ui.commands import ConnectCommand, RemoveCommand, SetFieldCommand
from glyphic_desktop.ui.commands import add_node_command as add_command

from .test_canvas import drag, port_pos

RULE = {"operator": "equals", "compare_to": "x", "label": ""}


@pytest.fixture
def switch_editor(qtbot):
    ed = Editor(WorkflowDocument(), default_registry())
    qtbot.addWidget(ed.widget)
    ed.widget.resize(1000, 700)
    ed.widget.show()
    qtbot.waitExposed(ed.widget)
    ed.view.set_zoom(1.0)
    ed.view.centerOn(400, 300)
    return ed


def add(editor: Editor, key: str, x: float, y: float) -> str:
    command = add_command(editor.model, key, (x, y))
    editor.stack.push(command)
    return command.node_ids[0]


def drawn(editor: Editor, node_id: str) -> list[str]:
    return [port.name for port in editor.scene.nodes[node_id].outputs]


def test_switch_draws_fallback_plus_one_output_per_rule(switch_editor) -> None:
    ed = switch_editor
    switch = add(ed, "switch", 100, 100)
    item = ed.scene.nodes[switch]
    assert drawn(ed, switch) == ["fallback"]
    small = item.height
    # The declared ports are untouched: the model (and so preflight / engine) sees all 9.
    assert len(ed.model.ports(switch)[1]) == 9
    assert len(ed.model.node(switch).outputs) == 9
    ed.stack.push(SetFieldCommand(ed.model, switch, "rules", [RULE, RULE]))
    assert drawn(ed, switch) == ["case_0", "case_1", "fallback"]
    assert item.height > small
    ed.stack.undo()
    assert drawn(ed, switch) == ["fallback"] and item.height == small


def test_a_wired_output_stays_drawn_and_wires_follow_the_drawn_ports(switch_editor) -> None:
    ed = switch_editor
    switch = add(ed, "switch", 100, 100)
    log = add(ed, "log", 500, 100)
    ed.stack.push(SetFieldCommand(ed.model, switch, "rules", [RULE]))
    connect = ConnectCommand(ed.model, switch, "case_5", log, "input")
    ed.stack.push(connect)
    assert drawn(ed, switch) == ["case_0", "case_5", "fallback"]
    item = ed.scene.nodes[switch]
    wire = ed.scene.edges[connect.edge_id]
    start, _ = wire.endpoints()
    assert start == item.port_scene_pos("case_5", True)
    assert item.port_at(start).name == "case_5"
    # fallback moved down one row when case_5 appeared, and its hit test followed.
    fallback = item.port_scene_pos("fallback", True)
    assert item.port_at(fallback).name == "fallback"
    assert ed.scene.port_at(fallback).name == "fallback"
    ed.stack.undo()
    assert drawn(ed, switch) == ["case_0", "fallback"]
    assert item.port_at(fallback) is None  # nothing drawn there any more
    ed.stack.redo()
    ed.stack.push(RemoveCommand(ed.model, edge_ids=[connect.edge_id]))
    assert drawn(ed, switch) == ["case_0", "fallback"]


def test_connect_a_drawn_switch_output_with_the_mouse(qtbot, switch_editor) -> None:
    ed = switch_editor
    switch = add(ed, "switch", 100, 100)
    first = add(ed, "log", 500, 50)
    second = add(ed, "log", 500, 300)
    ed.stack.push(SetFieldCommand(ed.model, switch, "rules", [RULE, RULE]))
    drag(qtbot, ed, port_pos(ed, switch, "case_1", True), port_pos(ed, first, "input", False))
    drag(qtbot, ed, port_pos(ed, switch, "fallback", True), port_pos(ed, second, "input", False))
    assert sorted((e.sourceHandle, e.target) for e in ed.model.doc.edges) == [
        ("case_1", first),
        ("fallback", second),
    ]
    # Remove the rules: the wired case_1 stays on the canvas.
    ed.stack.push(SetFieldCommand(ed.model, switch, "rules", []))
    assert drawn(ed, switch) == ["case_1", "fallback"]
    edge = next(e for e in ed.model.doc.edges if e.sourceHandle == "case_1")
    assert ed.scene.edges[edge.id].endpoints()[0] == ed.scene.nodes[switch].port_scene_pos(
        "case_1", True
    )


def test_a_loaded_switch_draws_its_wired_outputs(switch_editor) -> None:
    ed = switch_editor
    switch = add(ed, "switch", 100, 100)
    log = add(ed, "log", 500, 100)
    ed.stack.push(ConnectCommand(ed.model, switch, "case_6", log, "input"))
    data = ed.to_data()
    ed.load(WorkflowDocument.model_validate(data))
    assert drawn(ed, switch) == ["case_6", "fallback"]
    edge = ed.model.doc.edges[0]
    start, _ = ed.scene.edges[edge.id].endpoints()
    assert start == ed.scene.nodes[switch].port_scene_pos("case_6", True)
    assert start != QPointF()
