"""The Open dialog: lists with tags/last run/status, searches, duplicates, deletes."""

from __future__ import annotations

from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.open_dialog import OpenDialog


def _doc(*types):
    return WorkflowDocument.model_validate(
        {"nodes": [{"id": str(i), "type": t} for i, t in enumerate(types, 1)]}
    )


def _seed(db):
    user = current_user_id(db)
    with db.session() as session:
        repo = WorkflowRepository(session, user)
        a = repo.create("Daily report", _doc("schedule", "http_request"), tags=["reports"])
        repo.create("Webhook echo", _doc("webhook", "log"), tags=["hooks", "demo"])
        repo.create("Scratch", _doc("manual"))
        session.execute(
            text(
                "INSERT INTO executions (workflow_id, user_id, status, trigger_type, started_at) "
                "VALUES (:w, :u, 'failed', 'manual', now())"
            ),
            {"w": a.id, "u": user},
        )
    return user


def _dialog(qtbot, db, user):
    dialog = OpenDialog(db, user, [("http_request", "HTTP request"), ("log", "Log")])
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_lists_tags_last_run_and_status(qtbot, db):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    assert sorted(dialog.names()) == ["Daily report", "Scratch", "Webhook echo"]
    row = dialog.names().index("Daily report")
    assert dialog.table.item(row, 1).text() == "reports"
    assert dialog.table.item(row, 3).text() == "failed"
    assert dialog.table.item(row, 2).text() != "—"
    scratch = dialog.names().index("Scratch")
    assert dialog.table.item(scratch, 3).text() == "never run"


def test_search_by_name_tag_and_node_type(qtbot, db):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    qtbot.keyClicks(dialog.search, "report")
    qtbot.waitUntil(lambda: dialog.names() == ["Daily report"])
    dialog.search.clear()
    dialog.tag_filter.setCurrentText("demo")
    qtbot.waitUntil(lambda: dialog.names() == ["Webhook echo"])
    dialog.tag_filter.setCurrentText("")
    dialog.type_filter.setCurrentIndex(dialog.type_filter.findData("http_request"))
    qtbot.waitUntil(lambda: dialog.names() == ["Daily report"])


def test_open_returns_the_selected_id(qtbot, db):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    assert dialog.select_name("Scratch")
    dialog.open_button.click()
    with db.session() as session:
        assert WorkflowRepository(session, user).get(dialog.selected_id).name == "Scratch"
    assert dialog.result() == dialog.DialogCode.Accepted


def test_duplicate_asks_a_name(qtbot, db, monkeypatch):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    dialog.select_name("Scratch")
    monkeypatch.setattr(dialog, "ask_text", lambda *a: "Scratch 2")
    dialog.duplicate_button.click()
    assert "Scratch 2" in dialog.names()
    assert dialog.current().name == "Scratch 2"


def test_delete_needs_confirmation(qtbot, db, monkeypatch):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    dialog.select_name("Scratch")
    asked = []
    monkeypatch.setattr(dialog, "confirm", lambda title, body: asked.append(body) or False)
    dialog.delete_button.click()
    assert "Scratch" in dialog.names()
    assert "cannot be undone" in asked[0]
    monkeypatch.setattr(dialog, "confirm", lambda title, body: True)
    dialog.delete_button.click()
    assert "Scratch" not in dialog.names()


def test_duplicate_name_taken_is_shown(qtbot, db, monkeypatch):
    user = _seed(db)
    dialog = _dialog(qtbot, db, user)
    dialog.select_name("Scratch")
    monkeypatch.setattr(dialog, "ask_text", lambda *a: "Daily report")
    dialog.duplicate_button.click()
    assert "already exists" in dialog.status.text()


def test_window_open_action_opens_the_picked_workflow(qtbot, db):
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from .helpers import make_window

    _seed(db)
    window = make_window(qtbot, db)

    def pick() -> None:
        dialogs = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, OpenDialog) and w.isVisible()
        ]
        if not dialogs:
            QTimer.singleShot(20, pick)
            return
        dialog = dialogs[0]
        dialog.select_name("Webhook echo")
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(20, pick)
    window.actions["open"].trigger()
    assert window.workflow_name == "Webhook echo"
    assert [n.type for n in window.model.doc.nodes] == ["webhook", "log"]
    assert window.windowTitle() == "Webhook echo — Glyphic"
