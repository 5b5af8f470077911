"""Copy/paste as workflow JSON: fragments, whole files, single nodes and garbage."""

from __future__ import annotations

import json
import re

import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from glyphic_desktop.ui import clipboard as clip
from glyphic_desktop.ui.graph_model import GraphModel

from .test_commands import SEED_DOC, dump, seed_document


@pytest.fixture
def model(registry) -> GraphModel:
    return GraphModel(seed_document(), registry)


def test_copy_puts_workflow_json_on_the_system_clipboard(qtbot, model) -> None:
    text = clip.copy_selection(model, ["1", "2"])
    board = QApplication.clipboard()
    assert board.text() == text
    assert board.mimeData().hasFormat(clip.MIME_TYPE)
    data = json.loads(text)
    assert [n["id"] for n in data["nodes"]] == ["1", "2"]
    assert [e["id"] for e in data["edges"]] == [3]
    assert clip.clipboard_text() == text


def test_paste_from_clipboard_is_one_undo_entry(qtbot, model) -> None:
    stack = QUndoStack()
    clip.copy_selection(model, ["1", "2"])
    before = dump(model)
    result = clip.paste(model, stack)
    assert result.ok and result.message == "Pasted 2 nodes"
    assert result.node_ids == ["13", "14"]
    assert stack.count() == 1
    stack.undo()
    assert {
        k: v for k, v in dump(model).items() if k != "last_node_id" and k != "last_link_id"
    } == {k: v for k, v in before.items() if k not in ("last_node_id", "last_link_id")}


def test_pasting_a_whole_file_imports_its_nodes(qtbot, model) -> None:
    stack = QUndoStack()
    result = clip.paste(model, stack, text=json.dumps(SEED_DOC), at=(5000, 0))
    assert result.ok
    assert len(model.doc.nodes) == 10 and len(model.doc.edges) == 4
    assert len(model.doc.groups) == 4


def test_pasting_a_single_node_object(qtbot, model) -> None:
    node = SEED_DOC["nodes"][0]
    result = clip.paste(model, QUndoStack(), text=json.dumps(node))
    assert result.ok and len(result.node_ids) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Nothing to paste: the clipboard is empty"),
        ("hello world", r"not workflow JSON \(Expecting value at line 1, column 1\)"),
        ("[1, 2]", "the clipboard JSON is a list, not a workflow"),
        ('{"name": "x"}', 'has no "nodes" list'),
        ('{"nodes": []}', "has no nodes"),
        ('{"nodes": [{"id": "1", "type": "t", "pos": [1]}]}', r"invalid at nodes\[0\]\.pos"),
        ('{"nodes": [{"type": "t"}]}', r"invalid at nodes\[0\]\.id: Field required"),
        (
            '{"nodes": [{"id": "1", "type": "t"}, {"id": "1", "type": "t"}]}',
            r"two nodes with id '1' \(nodes\[1\]\)",
        ),
    ],
)
def test_pasting_garbage_changes_nothing(qtbot, model, text, message) -> None:
    stack = QUndoStack()
    before = dump(model)
    result = clip.paste(model, stack, text=text)
    assert not result.ok
    assert result.message.startswith(("Cannot paste", "Nothing to paste"))
    assert re.search(message, result.message), result.message
    assert stack.count() == 0
    assert dump(model) == before
