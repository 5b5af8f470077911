"""The start page: with no workflow open the canvas area shows recent workflows, the
bundled examples (opened straight from resources/examples), New and three things to try;
empty Logs and Executions docks say what will appear there; the status bar forgets the
previous workflow. Real mouse clicks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.docks.executions import EMPTY_SAVED, EMPTY_UNSAVED
from glyphic_desktop.ui.docks.logs import EMPTY_TEXT, LogLine
from glyphic_desktop.ui.start_page import THINGS_TO_TRY, bundled_examples

from .helpers import make_window


def click_item(qtbot, widget, row: int) -> None:
    item = widget.item(row)
    rect = widget.visualItemRect(item)
    QTest.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.wait(5)


def test_start_page_lists_recent_workflows_examples_and_tips(qtbot, db, user_id):
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Stored before", WorkflowDocument())
    window = make_window(qtbot, db)
    page = window.start_page
    assert window.start_page_shown()
    assert page.isVisible() and not window.view.isVisible()
    assert page.recent_names() == ["Stored before"]
    names = page.example_names()
    assert len(names) == len(bundled_examples()) >= 3
    assert "Loop over items" in names
    tips = page.findChild(type(page.recent_empty), "startTips").text()
    assert all(tip.split(":")[0][:30] in tips for tip in THINGS_TO_TRY)


def test_an_example_opens_straight_from_its_file_without_storing_it(qtbot, db, user_id):
    window = make_window(qtbot, db)
    page = window.start_page
    row = page.example_names().index("Loop over items")
    click_item(qtbot, page.examples, row)
    assert not window.start_page_shown()
    assert window.view.isVisible()
    assert window.workflow_name == "Loop over items"
    assert window.workflow_id is None  # nothing stored until the user saves
    assert window.model.doc.nodes
    assert not window.trust_banner.isVisible()  # bundled examples are trusted
    with db.session() as session:
        assert WorkflowRepository(session, user_id).list() == []


def test_recent_workflow_opens_with_one_click_and_new_shows_an_empty_canvas(qtbot, db, user_id):
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("Recent one", WorkflowDocument())
    window = make_window(qtbot, db)
    click_item(qtbot, window.start_page.recent, 0)
    assert window.workflow_id == record.id
    assert window.view.isVisible()
    assert window.statusBar().currentMessage() == "Opened “Recent one” (version 1)"

    other = make_window(qtbot, db)
    QTest.mouseClick(other.start_page.new_button, Qt.MouseButton.LeftButton)
    assert not other.start_page_shown()
    assert other.model.doc.nodes == [] and other.workflow_id is None


def test_opening_another_workflow_clears_the_previous_status_message(qtbot, db, user_id):
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        first = repo.create("First", WorkflowDocument())
        second = repo.create("Second", WorkflowDocument())
    window = make_window(qtbot, db)
    assert window.open_workflow(first.id)
    window.statusBar().showMessage("Queued run 1234 for the agent", 60_000)
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    assert window.open_workflow(second.id)
    assert "" in messages  # the old message went before the new one came
    assert "Queued" not in window.statusBar().currentMessage()


def test_empty_logs_and_executions_docks_say_what_appears_there(qtbot, db, user_id):
    window = make_window(qtbot, db)
    window.logs_dock.show()
    window.logs_dock.raise_()
    qtbot.wait(5)
    placeholder = window.logs_dock.view.placeholder
    assert placeholder.text() == EMPTY_TEXT and placeholder.isVisible()
    window.logs_dock.append_lines([LogLine(None, "info", None, "", "hello")])
    assert not placeholder.isVisible()
    window.logs_dock.clear()
    assert placeholder.isVisible()
    assert window.executions_dock.status.text() == EMPTY_UNSAVED
    assert window.save_as("With no runs")
    assert window.executions_dock.status.text() == EMPTY_SAVED


def test_closing_the_workflow_goes_back_to_the_start_page(qtbot, db, user_id):
    window = make_window(qtbot, db)
    click_item(qtbot, window.start_page.examples, 0)
    assert window.save_as("Kept example")
    window.view.setFocus()
    qtbot.keyClick(window.view.viewport(), Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.start_page_shown()
    assert window.workflow_id is None and window.model.doc.nodes == []
    assert window.start_page.recent_names() == ["Kept example"]
    assert window.title_text() == "Untitled — Glyphic"
