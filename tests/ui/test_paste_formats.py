"""Pasting another tool's JSON (ComfyUI UI and API, React Flow, n8n, Node-RED) in the
real editor: it goes through the converters and lands at the cursor, wired, as one undo
entry (real files from tests/data/formats)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor, QGuiApplication

from glyphic_desktop.document.io import read_workflow_file

from .helpers import make_window

DATA = Path(__file__).parents[1] / "data" / "formats"
PASTED = {
    "comfyui": "layer_diffusion_cond_joint_fg.json",
    "comfyui_api": "salad-sd1.5-txt2img.json",
    "reactflow": "chainforge-multi-step-equations.json",
    "n8n": "9003_FanOut_Broadcast_and_Merge_Webhook.json",
    "nodered": "delay-01-delay_message.json",
}


@pytest.mark.parametrize("fmt", sorted(PASTED))
def test_ctrl_v_pastes_foreign_json_at_the_cursor_wired_as_one_undo_entry(qtbot, db, fmt):
    path = DATA / fmt / PASTED[fmt]
    expected = read_workflow_file(path).document
    window = make_window(qtbot, db)
    window.add_node("manual")
    stack_before = window.undo_stack.count()
    nodes_before = {n.id for n in window.model.doc.nodes}
    edges_before = len(window.model.doc.edges)
    QGuiApplication.clipboard().setText(path.read_text(encoding="utf-8"))
    viewport = window.view.viewport()
    QCursor.setPos(viewport.mapToGlobal(QPoint(120, 90)))
    at = window.view.cursor_scene_pos()
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)

    doc = window.model.doc
    pasted = [n for n in doc.nodes if n.id not in nodes_before]
    assert len(pasted) == len(expected.nodes)
    assert len(doc.edges) - edges_before == len(expected.edges)
    assert sorted(n.type for n in pasted) == sorted(n.type for n in expected.nodes)
    # Wired: every pasted edge joins two pasted nodes with the converted handles.
    ids = {n.id for n in pasted}
    new_edges = doc.edges[edges_before:]
    assert all(e.source in ids and e.target in ids for e in new_edges)
    assert sorted((e.sourceHandle, e.targetHandle) for e in new_edges) == sorted(
        (e.sourceHandle, e.targetHandle) for e in expected.edges
    )
    # At the cursor: the pasted nodes' top-left corner is the cursor's scene point.
    assert min(n.pos[0] for n in pasted) == pytest.approx(at.x())
    assert min(n.pos[1] for n in pasted) == pytest.approx(at.y())
    # Data came through (not empty placeholders).
    for node, source in zip(pasted, expected.nodes, strict=True):
        assert (node.type, node.data.label) == (source.type, source.data.label)
        assert node.data.fields == source.data.fields
    assert window.undo_stack.count() == stack_before + 1
    assert "converted from" in window.statusBar().currentMessage()

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {n.id for n in window.model.doc.nodes} == nodes_before
    assert len(window.model.doc.edges) == edges_before


def test_ctrl_v_of_a_broken_foreign_file_names_the_json_path_and_changes_nothing(qtbot, db):
    window = make_window(qtbot, db)
    window.add_node("manual")
    before = window.model.doc.to_data()
    stack_before = window.undo_stack.count()
    QGuiApplication.clipboard().setText('{"prompt": {"3": {"class_type": 5, "inputs": {}}}}')
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.model.doc.to_data() == before
    assert window.undo_stack.count() == stack_before
    assert "prompt.3" in window.statusBar().currentMessage()


@pytest.mark.parametrize("fmt", ["comfyui_api", "nodered", "reactflow"])
def test_file_import_in_the_editor_uses_the_same_converters(qtbot, db, fmt):
    path = DATA / fmt / PASTED[fmt]
    expected = read_workflow_file(path).document
    window = make_window(qtbot, db)
    assert window.import_file(str(path))
    doc = window.model.doc
    assert [(n.id, n.type, n.data.fields) for n in doc.nodes] == [
        (n.id, n.type, n.data.fields) for n in expected.nodes
    ]
    assert len(doc.edges) == len(expected.edges)
    assert window.workflow_id is None and window.is_dirty()
