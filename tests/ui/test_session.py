"""The workflow session without any window: open, save (on a worker thread), change
summaries, saves without changes, conflicts, drafts."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication, QMainWindow
from sqlalchemy import event

from glyphic_desktop.store.repositories.versions import VersionRepository
from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand, add_node_command
from glyphic_desktop.ui.conflict_dialog import ConflictChoice
from glyphic_desktop.ui.drafts import DraftStore
from glyphic_desktop.ui.graph_model import GraphModel
from glyphic_desktop.ui.session import WorkflowSession

from .helpers import ScriptedPrompts


@pytest.fixture
def make_session(qapp, db, user_id, tmp_path):
    made = []

    def make(drafts_dir=None) -> WorkflowSession:
        model = GraphModel()
        stack = QUndoStack()
        session = WorkflowSession(
            db,
            user_id,
            model,
            stack,
            prompts=ScriptedPrompts(),
            drafts=DraftStore(drafts_dir or tmp_path / "drafts"),
            autosave_ms=60_000,
        )
        session.statuses = []
        session.status.connect(lambda text, _ms: session.statuses.append(text))
        made.append((session, stack))
        return session

    yield make
    for session, _stack in made:
        session.close()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow)]


def edit(session: WorkflowSession) -> tuple[str, str]:
    """Two Log nodes, wired, and a field changed."""
    model, stack = session.model, session.stack
    first = add_node_command(model, "manual", (0, 0))
    stack.push(first)
    second = add_node_command(model, "log", (300, 0))
    stack.push(second)
    a, b = first.node_ids[0], second.node_ids[0]
    stack.push(ConnectCommand(model, a, "output", b, "input"))
    stack.push(SetFieldCommand(model, b, "message", "hello"))
    return a, b


def versions(db, user_id, workflow_id):
    with db.session() as s:
        return VersionRepository(s, user_id).list(workflow_id)


def test_save_runs_on_a_worker_thread_with_a_generated_summary(make_session, db, user_id):
    session = make_session()
    writes: list[int] = []

    def record(conn, cursor, statement, *_args):
        if "workflows" in statement and ("INSERT" in statement or "UPDATE" in statement):
            writes.append(threading.get_ident())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        _a, b = edit(session)
        assert session.save_as("Session one")
        assert not session.is_dirty()
        session.stack.push(SetFieldCommand(session.model, b, "message", "changed"))
        assert session.save()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert writes and threading.get_ident() not in writes  # never on the GUI thread
    listed = versions(db, user_id, session.workflow_id)
    assert [v.version for v in listed] == [2, 1]
    assert listed[0].change_summary == "1 field changed"
    assert session.base_version == 2
    assert session.model.doc.revision == 2
    assert session.model.doc.id == str(session.workflow_id)


def test_summary_counts_each_kind_of_change(make_session, db, user_id):
    session = make_session()
    assert session.save_as("Session two")
    edit(session)
    assert session.save()
    summary = versions(db, user_id, session.workflow_id)[0].change_summary
    assert summary == "2 nodes added, 1 connection added, 1 field changed"


def test_the_users_summary_wins(make_session, db, user_id):
    session = make_session()
    assert session.save_as("Session three")
    edit(session)
    assert session.save("wired the log")
    assert versions(db, user_id, session.workflow_id)[0].change_summary == "wired the log"


def test_saving_without_changes_writes_no_version_and_says_so(make_session, db, user_id):
    session = make_session()
    edit(session)
    assert session.save_as("Unchanged")
    assert session.save()
    assert session.save()
    assert [v.version for v in versions(db, user_id, session.workflow_id)] == [1]
    assert session.statuses[-1] == "No changes to save: version 1 is current"


def test_conflict_overwrite_and_cancel(make_session, db, user_id):
    first = make_session()
    _a, b = edit(first)
    assert first.save_as("Shared")
    second = make_session()
    assert second.open_workflow(first.workflow_id)
    second.stack.push(SetFieldCommand(second.model, b, "message", "from the second"))
    assert second.save()
    first.stack.push(SetFieldCommand(first.model, b, "message", "from the first"))
    first.prompts.conflict_answer = ConflictChoice.CANCEL
    assert first.save() is False
    assert first.statuses[-1] == "Not saved: the stored workflow is newer"
    first.prompts.conflict_answer = ConflictChoice.OVERWRITE
    assert first.save()
    assert first.base_version == 3
    assert ("conflict", (1, 2)) in first.prompts.asked


def test_edits_during_a_save_stay_out_of_the_saved_version(make_session, db, user_id):
    """The worker writes a copy-on-write snapshot: the model may change meanwhile."""
    session = make_session()
    _a, b = edit(session)
    assert session.save_as("Snapshot")
    snapshot = session.model.snapshot()
    session.stack.push(SetFieldCommand(session.model, b, "message", "after the snapshot"))
    node = next(n for n in snapshot.nodes if n.id == b)
    assert node.data.fields["message"] == "hello"
    assert session.model.node(b).data.fields["message"] == "after the snapshot"
    session.model.release(snapshot)


def test_autosave_draft_written_off_the_gui_thread_comes_back(make_session, qtbot, tmp_path):
    session = make_session()
    edit(session)
    written: list[str] = []
    session.autosaver.written.connect(written.append)
    assert session.autosaver.flush_in_background()
    qtbot.waitUntil(lambda: bool(written), timeout=10_000)
    assert not session.busy()
    again = make_session()
    again.prompts.draft_answer = True
    assert again.offer_drafts()
    assert again.is_dirty()
    assert [n.data.label for n in again.model.doc.nodes] == [
        n.data.label for n in session.model.doc.nodes
    ]


def test_a_workflow_from_a_file_saves_with_its_schedules_paused(make_session, db, user_id):
    """An import (here the bundled scheduled example, as the start page opens it) never
    arms a schedule: its first save creates the Schedule node's schedule paused."""
    from glyphic_desktop.paths import resources_dir
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    session = make_session()
    assert session.import_file(str(resources_dir() / "examples" / "scheduled-report.json"))
    session.prompts.text_answers.append("Daily report")
    assert session.save()
    with db.session() as s:
        schedules = ScheduleRepository(s, user_id).list()
    assert len(schedules) == 1
    assert not schedules[0].is_active and schedules[0].next_run_at is None
    assert any("created paused" in text for text in session.statuses)

    # A workflow made in the editor (not from a file) arms its schedule as before.
    fresh = make_session()
    fresh.set_document(
        session.model.doc.model_copy(deep=True), workflow_id=None, name="x", base_version=None
    )
    fresh.prompts.text_answers.append("Made here")
    assert fresh.save()
    with db.session() as s:
        made_here = [r for r in ScheduleRepository(s, user_id).list() if r.is_active]
    assert len(made_here) == 1 and made_here[0].next_run_at is not None
