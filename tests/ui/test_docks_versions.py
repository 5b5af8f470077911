"""The Versions dock: lists the history; restore is one undoable edit saved as a new version."""

from __future__ import annotations

from PySide6.QtGui import QUndoStack

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.versions import VersionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.docks.versions import VersionsDock
from glyphic_desktop.ui.graph_model import GraphModel


def _doc(labels):
    return WorkflowDocument.model_validate(
        {
            "last_node_id": len(labels),
            "nodes": [
                {"id": str(i), "type": "log", "data": {"label": label}}
                for i, label in enumerate(labels, 1)
            ],
            "edges": [{"id": 1, "source": "1", "target": "2"}] if len(labels) > 1 else [],
            "last_link_id": 1,
        }
    )


def test_list_restore_undo_and_save(qtbot, db):
    user = current_user_id(db)
    with db.session() as session:
        repo = WorkflowRepository(session, user)
        record = repo.create("Flow", _doc(["A", "B"]))
        record = repo.save(
            record.id, _doc(["A", "B", "C"]), base_version=1, change_summary="added C"
        )
    model = GraphModel(record.document)
    stack = QUndoStack()
    dock = VersionsDock(db, user, model, stack)
    qtbot.addWidget(dock)
    dock.show()
    dock.set_workflow(record.id)
    assert dock.listed_versions() == [2, 1]
    assert dock.tree.topLevelItem(0).text(2) == "added C"
    before = model.doc.to_data()

    assert dock.select_version(1)
    with qtbot.waitSignal(dock.restored):
        dock.restore_button.click()
    assert [n.data.label for n in model.doc.nodes] == ["A", "B"]
    assert stack.count() == 1 and stack.undoText() == "Restore version 1"
    stack.undo()
    assert model.doc.to_data() == before
    stack.redo()
    assert [n.data.label for n in model.doc.nodes] == ["A", "B"]
    assert [e.id for e in model.doc.edges] == [1]

    with db.session() as session:
        saved = WorkflowRepository(session, user).save(record.id, model.doc, base_version=2)
    assert saved.version == 3
    dock.refresh()
    assert dock.listed_versions() == [3, 2, 1]
    with db.session() as session:
        v3 = VersionRepository(session, user).get(record.id, 3).document
    assert [n.data.label for n in v3.nodes] == ["A", "B"]


def test_unsaved_workflow_has_no_history(qtbot, db):
    dock = VersionsDock(db, current_user_id(db), GraphModel(), QUndoStack())
    qtbot.addWidget(dock)
    dock.set_workflow(None)
    assert dock.listed_versions() == []
    assert not dock.restore_button.isEnabled()
    assert "Save the workflow" in dock.status.text()
