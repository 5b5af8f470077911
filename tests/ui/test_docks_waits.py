"""The Executions dock cancels a waiting run (issue 16 item 5): the button is enabled only
for a waiting run and the row ends cancelled."""

from __future__ import annotations

from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.docks.executions import ExecutionsDock


def test_cancel_wait_button_cancels_the_selected_waiting_run(qtbot, db, monkeypatch):
    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "1")
    user_id = current_user_id(db)
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "start"}},
                {"id": "wait", "type": "wait", "data": {"fields": {"mode": "resume"}}},
            ],
            "edges": [{"id": "1", "source": "start", "target": "wait"}],
        }
    )
    with db.session() as session:
        workflow_id = WorkflowRepository(session, user_id).create("Waits", document).id
    done = run_workflow(db, user_id, workflow_id)
    assert done.status == "waiting"
    dock = ExecutionsDock(db, user_id)
    qtbot.addWidget(dock)
    dock.show()
    dock.set_workflow(workflow_id)
    assert dock.statuses() == ["waiting"]
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0))
    assert dock.cancel_button.isEnabled()
    with qtbot.waitSignal(dock.message) as said:
        qtbot.mouseClick(dock.cancel_button, qtbot_button())
    assert said.args == ["Waiting run cancelled"]
    assert dock.statuses() == ["cancelled"]
    assert not dock.cancel_button.isEnabled()
    with db.session() as session:
        status = session.execute(
            text("SELECT status FROM executions WHERE id = :id"), {"id": done.execution_id}
        ).scalar_one()
    assert status == "cancelled"


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
