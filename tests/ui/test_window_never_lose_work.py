"""Never lose work: autosave drafts, crash recovery, conflicts, a lost database, bad files."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.conflict_dialog import ConflictChoice
from glyphic_desktop.ui.drafts import DraftStore

from .helpers import build_chain, make_window


def _labels(document):
    return [node.data.label for node in document.nodes]


def test_autosave_writes_a_draft_and_a_restart_offers_it(qtbot, db):
    window = make_window(qtbot, db, autosave_ms=100)
    build_chain(window, [("manual", {}), ("log", {"message": "draft me"})])
    store = DraftStore()
    qtbot.waitUntil(lambda: bool(store.list()), timeout=5000)
    (draft,) = store.list()
    assert draft.name == "Untitled"
    assert draft.document["nodes"][1]["data"]["fields"]["message"] == "draft me"

    # A crash: the window goes away without closing (no clean-up ran).
    window.autosaver.timer.stop()
    window.closeEvent = lambda event: event.accept()
    window.hide()

    again = make_window(qtbot, db, autosave_ms=100)
    assert again.offer_drafts()
    assert again.prompts.kinds() == ["offer_draft"]
    assert [n.type for n in again.model.doc.nodes] == ["manual", "log"]
    assert again.model.doc.nodes[1].data.fields["message"] == "draft me"
    assert again.is_dirty() and again.windowTitle() == "Untitled • — Glyphic"
    again.prompts.text_answers = ["Recovered"]
    assert again.save()
    assert store.list() == []  # saved: the draft is gone


def test_declined_draft_is_discarded(qtbot, db):
    window = make_window(qtbot, db, autosave_ms=50)
    build_chain(window, [("manual", {})])
    qtbot.waitUntil(lambda: bool(DraftStore().list()), timeout=5000)
    window.autosaver.timer.stop()
    window.closeEvent = lambda event: event.accept()
    window.hide()
    again = make_window(qtbot, db)
    again.prompts.draft_answer = False
    assert again.offer_drafts() is False
    assert DraftStore().list() == []
    assert again.model.doc.nodes == []


def test_clean_close_leaves_no_draft(qtbot, db):
    window = make_window(qtbot, db, autosave_ms=50)
    build_chain(window, [("manual", {})])
    qtbot.waitUntil(lambda: bool(DraftStore().list()), timeout=5000)
    window.prompts.text_answers = ["Saved flow"]
    assert window.save()
    assert window.close()
    assert DraftStore().list() == []


def _stored(db, name, document=None):
    from glyphic_desktop.document.model import WorkflowDocument

    with db.session() as session:
        return WorkflowRepository(session, current_user_id(db)).create(
            name, document or WorkflowDocument()
        )


def _save_elsewhere(db, workflow_id, label):
    with db.session() as session:
        repo = WorkflowRepository(session, current_user_id(db))
        record = repo.get(workflow_id)
        record.document.nodes[0].data.label = label
        return repo.save(workflow_id, record.document, base_version=record.version)


def _conflicted(qtbot, db):
    window = make_window(qtbot, db)
    build_chain(window, [("manual", {})])
    window.prompts.text_answers = ["Shared"]
    assert window.save()
    _save_elsewhere(db, window.workflow_id, "changed elsewhere")
    window.model.set_label(window.model.node_ids()[0], "mine")  # not via the stack on purpose
    window._dirty_without_undo = True
    return window


def test_stale_save_asks_and_never_overwrites_silently(qtbot, db):
    window = _conflicted(qtbot, db)
    window.prompts.conflict_answer = ConflictChoice.CANCEL
    assert window.save() is False
    assert ("conflict", (1, 2)) in window.prompts.asked
    with db.session() as session:
        stored = WorkflowRepository(session, current_user_id(db)).get(window.workflow_id)
    assert stored.version == 2 and _labels(stored.document) == ["changed elsewhere"]
    assert window.is_dirty()


def test_conflict_overwrite_saves_on_top(qtbot, db):
    window = _conflicted(qtbot, db)
    window.prompts.conflict_answer = ConflictChoice.OVERWRITE
    assert window.save()
    with db.session() as session:
        stored = WorkflowRepository(session, current_user_id(db)).get(window.workflow_id)
    assert stored.version == 3 and _labels(stored.document) == ["mine"]
    assert not window.is_dirty()


def test_conflict_reload_takes_the_stored_version(qtbot, db):
    window = _conflicted(qtbot, db)
    window.prompts.conflict_answer = ConflictChoice.RELOAD
    assert window.save() is False
    assert _labels(window.model.doc) == ["changed elsewhere"]
    assert window.base_version == 2 and not window.is_dirty()


def test_conflict_save_as_copy_keeps_both(qtbot, db):
    window = _conflicted(qtbot, db)
    original = window.workflow_id
    window.prompts.conflict_answer = ConflictChoice.SAVE_AS_COPY
    window.prompts.text_answers = ["Shared (mine)"]
    assert window.save()
    assert window.workflow_id != original and window.workflow_name == "Shared (mine)"
    with db.session() as session:
        repo = WorkflowRepository(session, current_user_id(db))
        assert _labels(repo.get(original).document) == ["changed elsewhere"]
        assert _labels(repo.get(window.workflow_id).document) == ["mine"]


def test_losing_the_database_keeps_the_edit_in_the_draft(qtbot, database_url, pg_server_url):
    db = Database(database_url)
    try:
        window = make_window(qtbot, db, autosave_ms=60_000)
        build_chain(window, [("manual", {})])
        window.prompts.text_answers = ["Fragile"]
        assert window.save()
        db.dispose()
        name = make_url(database_url).database
        admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

        build_chain(window, [("log", {"message": "typed after the database went away"})])
        assert window.save() is False
        ((title, message, _details),) = window.prompts.errors()
        assert title == "Cannot save" and "database is not reachable" in message
        assert "draft" in message
        (draft,) = DraftStore().list()
        assert draft.workflow_id == str(window.workflow_id)
        messages = [n["data"]["fields"].get("message") for n in draft.document["nodes"]]
        assert "typed after the database went away" in messages
        assert window.is_dirty()
        window.prompts.unsaved_answer = "discard"
    finally:
        db.dispose()


def test_invalid_workflow_file_lists_problems_and_changes_nothing(qtbot, db, tmp_path):
    window = make_window(qtbot, db)
    build_chain(window, [("manual", {})])
    before = window.model.doc.to_data()
    bad = tmp_path / "broken.json"
    bad.write_text(
        json.dumps(
            {
                "nodes": [{"id": "1", "type": "log", "pos": "here"}, {"id": "1", "type": "log"}],
                "edges": [{"id": 1, "source": "1", "target": "9"}],
            }
        )
    )
    original = bad.read_text()
    assert window.import_file(str(bad)) is False
    ((title, text_, details),) = window.prompts.errors()
    assert title == "Cannot open the workflow file"
    assert "broken.json is not a valid workflow" in text_ and "nothing was changed" in text_
    assert "nodes[0].pos" in details
    assert window.model.doc.to_data() == before
    assert bad.read_text() == original
    assert window.undo_stack.count() == 1  # the one add, still undoable


def test_import_and_export_round_trip(qtbot, db, tmp_path):
    window = make_window(qtbot, db)
    build_chain(window, [("manual", {}), ("log", {"message": "exported"})])
    window.prompts.text_answers = ["Exported flow"]
    window.save()
    path = tmp_path / "out.json"
    assert window.export_file(str(path))
    data = json.loads(path.read_text())
    assert data["metadata"]["name"] == "Exported flow"
    assert window.new_workflow()
    assert window.import_file(str(path))
    assert window.workflow_name == "Exported flow" and window.workflow_id is None
    assert window.model.doc.nodes[1].data.fields["message"] == "exported"
    assert window.is_dirty()
