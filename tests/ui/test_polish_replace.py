"""ReplaceDocumentCommand and the Versions dock's restore: one undoable whole-document edit."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.commands import ReplaceDocumentCommand, add_node_command
from glyphic_desktop.ui.docks.versions import VersionsDock
from glyphic_desktop.ui.graph_model import GraphModel

LEFT = Qt.MouseButton.LeftButton
IDENTITY = ("id", "revision", "last_node_id", "last_link_id")


def _doc(labels, config, metadata, last_node_id=None, last_link_id=1):
    return WorkflowDocument.model_validate(
        {
            "last_node_id": last_node_id if last_node_id is not None else len(labels),
            "last_link_id": last_link_id,
            "nodes": [
                {"id": str(i), "type": "log", "data": {"label": label, "fields": {"n": i}}}
                for i, label in enumerate(labels, 1)
            ],
            "edges": [{"id": 1, "source": "1", "target": "2"}] if len(labels) > 1 else [],
            "groups": [{"id": "g1", "title": labels[0], "bounding": [0, 0, 100, 100]}],
            "config": config,
            "metadata": metadata,
            "customKey": labels[-1],
        }
    )


def _content(doc: WorkflowDocument) -> dict:
    data = json.loads(json.dumps(doc.to_data()))
    return {k: v for k, v in data.items() if k not in IDENTITY}


def test_replace_document_is_one_entry_keeps_id_and_only_grows_counters(registry) -> None:
    current = _doc(["A", "B", "C"], {"timezone": "UTC"}, {"owner": "me"}, last_node_id=9)
    current.id, current.revision = "wf-1", 4
    model = GraphModel(current, registry)
    stack = QUndoStack()
    before = _content(model.doc)
    other = _doc(["X", "Y"], {"timezone": "Europe/Paris"}, {"tags": ["old"]}, 2, 7)
    other.id, other.revision = "someone-else", 1
    resets: list[None] = []
    model.document_reset.connect(lambda: resets.append(None))

    stack.push(ReplaceDocumentCommand(model, other, "Restore version 1"))
    assert stack.count() == 1 and stack.undoText() == "Restore version 1"
    assert _content(model.doc) == _content(other)
    assert model.doc.config == {"timezone": "Europe/Paris"}
    assert model.doc.metadata == {"tags": ["old"]}
    assert (model.doc.id, model.doc.revision) == ("wf-1", 4)
    assert (model.doc.last_node_id, model.doc.last_link_id) == (9, 7)
    assert model.node_ids() == ["1", "2"] and model.group_keys() == ["g1"]
    # Changing the given document afterwards does not reach the model.
    other.config["timezone"] = "changed"
    assert model.doc.config == {"timezone": "Europe/Paris"}

    # An edit on top, then undo both: the original content, counters never lowered.
    stack.push(add_node_command(model, "test.text", (0, 0)))
    assert model.node_ids()[-1] == "10"
    stack.undo()
    stack.undo()
    assert _content(model.doc) == before
    assert (model.doc.id, model.doc.revision) == ("wf-1", 4)
    assert (model.doc.last_node_id, model.doc.last_link_id) == (10, 7)
    stack.redo()
    restored = _doc(["X", "Y"], {"timezone": "Europe/Paris"}, {"tags": ["old"]}, 2, 7)
    assert _content(model.doc) == _content(restored)
    assert len(resets) == 3  # replace, undo, redo


def test_restore_an_old_version_by_mouse_then_undo(qtbot, db) -> None:
    user = current_user_id(db)
    v1 = _doc(["A", "B"], {"timezone": "UTC", "retries": 1}, {"note": "first"})
    v2 = _doc(["A", "B", "C"], {"timezone": "Asia/Tokyo"}, {"note": "second", "tags": ["x"]}, 5)
    with db.session() as session:
        repo = WorkflowRepository(session, user)
        record = repo.create("Flow", v1)
        record = repo.save(record.id, v2, base_version=1, change_summary="added C")
    model = GraphModel(record.document)
    stack = QUndoStack()
    dock = VersionsDock(db, user, model, stack)
    qtbot.addWidget(dock)
    dock.resize(500, 300)
    with qtbot.waitExposed(dock):
        dock.show()
    dock.set_workflow(record.id)
    previous = _content(model.doc)
    assert model.doc.config == {"timezone": "Asia/Tokyo"}

    # Click version 1 in the list, then the Restore button.
    tree = dock.tree
    row = tree.visualItemRect(tree.topLevelItem(1)).center()
    qtbot.mouseClick(tree.viewport(), LEFT, pos=row)
    assert tree.currentItem().data(0, Qt.ItemDataRole.UserRole) == 1
    with qtbot.waitSignal(dock.restored):
        qtbot.mouseClick(dock.restore_button, LEFT)

    assert _content(model.doc) == _content(v1)
    assert model.doc.config == {"timezone": "UTC", "retries": 1}
    assert model.doc.metadata == {"note": "first"}
    assert model.doc.id == str(record.id) and model.doc.revision == 2
    assert model.doc.last_node_id == 5  # max of both: ids are never handed out twice
    assert stack.count() == 1 and stack.undoText() == "Restore version 1"

    stack.undo()
    assert _content(model.doc) == previous
    assert model.doc.metadata == {"note": "second", "tags": ["x"]}

    # The restored document is what the next save records (as version 3).
    stack.redo()
    with db.session() as session:
        saved = WorkflowRepository(session, user).save(record.id, model.doc, base_version=2)
        stored = WorkflowRepository(session, user).get(record.id)
    assert saved.version == 3
    assert stored.document.config == {"timezone": "UTC", "retries": 1}


def test_restore_in_the_window_then_ctrl_z_and_save(qtbot, db) -> None:
    from .helpers import make_window

    window = make_window(qtbot, db)
    window.add_node("manual")
    window.model.doc.config["timezone"] = "UTC"
    window.model.doc.metadata["note"] = "first"
    window.prompts.text_answers = ["Restorable"]
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    first = _content(window.model.doc)
    window.add_node("manual")
    window.model.doc.config["timezone"] = "Asia/Tokyo"
    window.model.doc.metadata["note"] = "second"
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.base_version == 2 and not window.is_dirty()
    second = _content(window.model.doc)

    dock = window.versions_dock
    assert dock.listed_versions() == [2, 1]
    dock.select_version(1)
    qtbot.mouseClick(dock.restore_button, LEFT)
    assert _content(window.model.doc) == first
    assert window.is_dirty() and window.windowTitle().startswith("Restorable •")
    assert len(window.scene.nodes) == 1

    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _content(window.model.doc) == second and not window.is_dirty()
    assert len(window.scene.nodes) == 2
    qtbot.keyClick(
        window.view,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert _content(window.model.doc) == first

    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.base_version == 3
    assert dock.listed_versions() == [3, 2, 1]
    with db.session() as session:
        stored = WorkflowRepository(session, current_user_id(db)).get(window.workflow_id)
    assert _content(stored.document) == first
    assert stored.document.config == {"timezone": "UTC"}
