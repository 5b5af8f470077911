"""The Executions dock lists the files of an opened run and opens them with the system.

Runs are real (``engine.runner.run_workflow`` on PostgreSQL); only the OS call
``QDesktopServices.openUrl`` (behind ``executions.open_with_system``) is replaced,
to see which URL would be opened.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.paths import files_dir
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.docks import executions
from glyphic_desktop.ui.docks.executions import ExecutionsDock, format_size

pytestmark = pytest.mark.usefixtures("db")


def document(nodes: list[tuple[str, str, dict[str, Any]]]) -> WorkflowDocument:
    """A chain of built-in nodes, each feeding the next."""
    registry = default_registry()
    doc_nodes, edges = [], []
    for index, (node_id, key, fields) in enumerate(nodes):
        cls = registry.get(key)
        doc_nodes.append(
            {
                "id": node_id,
                "type": key,
                "pos": [80 + 300 * index, 120],
                "data": {"label": cls.title, "nodeType": key, "fields": fields},
                "inputs": [{"name": p.name, "type": p.type} for p in cls.inputs],
                "outputs": [{"name": p.name, "type": p.type} for p in cls.outputs],
            }
        )
        if index:
            edges.append(
                {
                    "id": index,
                    "source": nodes[index - 1][0],
                    "sourceHandle": "output",
                    "target": node_id,
                    "targetHandle": "input",
                }
            )
    return WorkflowDocument.model_validate({"nodes": doc_nodes, "edges": edges})


class OpenedUrls:
    """Stands in for the OS: records the URLs and answers ``answer``."""

    def __init__(self) -> None:
        self.urls: list[QUrl] = []
        self.answer = True

    def __call__(self, url: QUrl) -> bool:
        self.urls.append(QUrl(url))
        return self.answer


@pytest.fixture
def opened(monkeypatch) -> OpenedUrls:
    fake = OpenedUrls()
    # Replace our module's hook, never the attribute of the Qt class itself: patching a
    # Shiboken type's static method and restoring it has crashed later tests.
    monkeypatch.setattr(executions, "open_with_system", fake)
    return fake


def run_and_open(qtbot, db, nodes):
    user_id = current_user_id(db)
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create("With files", document(nodes))
    result = run_workflow(db, user_id, record)
    assert result.ok, result.error
    dock = ExecutionsDock(db, user_id)
    qtbot.addWidget(dock)
    dock.set_workflow(record.id, {"w": "Save notes", "c": "Make bytes"})
    with qtbot.waitSignal(dock.viewerOpened) as signal:
        dock.open_button.click()
    viewer = signal.args[0]
    qtbot.addWidget(viewer)
    return result, viewer


def test_files_of_the_opened_run_are_listed_and_opened(qtbot, db, opened):
    result, viewer = run_and_open(
        qtbot,
        db,
        [
            ("m", "manual", {}),
            ("w", "write_file", {"path": "notes/today.txt", "content": "x" * 2048}),
            ("c", "code", {"code": "result = b'%PDF-1.4 tiny'"}),
        ],
    )
    path = files_dir() / "notes" / "today.txt"
    pdf = files_dir() / str(result.execution_id) / "output.pdf"
    assert viewer.file_names() == ["today.txt", "output.pdf"]
    assert viewer.tabs.tabText(2) == "Files (2)"
    first = viewer.file_list.item(0)
    assert first.text() == "today.txt · 2.0 KB · text/plain · by Write file"
    assert first.toolTip() == str(path)
    assert viewer.file_list.item(1).text() == "output.pdf · 13 B · application/pdf · by Code"

    viewer.tabs.setCurrentIndex(2)
    viewer.show()
    qtbot.waitExposed(viewer)
    second = viewer.file_list.item(1)
    rect = viewer.file_list.visualItemRect(second)
    viewport = viewer.file_list.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert [url.toLocalFile() for url in opened.urls] == [str(pdf)]
    assert opened.urls[0].scheme() == "file"
    assert viewer.file_status.text() == "Opened output.pdf"

    viewer.file_list.setCurrentRow(0)
    viewer.open_file_button.click()
    assert opened.urls[-1] == QUrl.fromLocalFile(str(path))


def test_a_file_gone_from_disk_is_marked_and_not_opened(qtbot, db, opened):
    result, _ = run_and_open(
        qtbot, db, [("m", "manual", {}), ("w", "write_file", {"path": "gone.txt", "content": "x"})]
    )
    (files_dir() / "gone.txt").unlink()
    dock = _dock_of(qtbot, db, result)
    viewer = dock.open_selected()
    qtbot.addWidget(viewer)
    assert viewer.file_list.item(0).text().endswith("(missing)")
    assert viewer.open_file() is False
    assert opened.urls == []
    assert viewer.file_status.text() == f"gone.txt is no longer at {files_dir() / 'gone.txt'}"


def test_when_no_application_opens_the_file(qtbot, db, opened):
    opened.answer = False
    _, viewer = run_and_open(
        qtbot, db, [("m", "manual", {}), ("w", "write_file", {"path": "odd.zzz", "content": "x"})]
    )
    assert viewer.open_file() is False
    assert len(opened.urls) == 1
    assert viewer.file_status.text() == "No application could open odd.zzz"


def test_a_run_without_files(qtbot, db, opened):
    _, viewer = run_and_open(qtbot, db, [("m", "manual", {}), ("s", "set", {})])
    assert viewer.file_names() == [] and viewer.tabs.tabText(2) == "Files (0)"
    assert not viewer.open_file_button.isEnabled()
    assert viewer.file_status.text() == "This run produced no files."
    assert viewer.open_file() is False and opened.urls == []


def test_format_size():
    assert format_size(None) == "—"
    assert format_size(512) == "512 B"
    assert format_size(12_600) == "12.3 KB"
    assert format_size(4 * 1024 * 1024) == "4.0 MB"
    assert format_size(3 * 1024**4) == "3072.0 GB"


def _dock_of(qtbot, db, result) -> ExecutionsDock:
    dock = ExecutionsDock(db, current_user_id(db))
    qtbot.addWidget(dock)
    dock.set_workflow(result.workflow_id)
    return dock
