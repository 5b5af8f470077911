"""The Executions dock: this workflow's runs; opening one shows its logs and node outputs."""

from __future__ import annotations

from glyphic_desktop.ui.docks.executions import ExecutionsDock, format_duration

from .helpers import build_chain, make_window


def test_runs_listed_and_opened(qtbot, db):
    window = make_window(qtbot, db)
    ids = build_chain(
        window,
        [
            ("manual", {}),
            ("set", {"fields": [{"name": "colour", "value": "teal"}]}),
            ("log", {"message": "stored line"}),
        ],
    )
    window.prompts.text_answers = ["History"]
    window.save()
    for _ in range(2):
        window.run()
        qtbot.waitUntil(lambda: not window.is_running(), timeout=30_000)
    dock = window.executions_dock
    assert dock.statuses() == ["completed", "completed"]
    item = dock.tree.topLevelItem(0)
    assert [item.text(i) for i in (0, 1)] == ["completed", "manual"]
    assert item.text(3).endswith(("ms", " s"))

    with qtbot.waitSignal(dock.viewerOpened) as opened:
        dock.open_button.click()
    viewer = opened.args[0]
    qtbot.addWidget(viewer)
    messages = [line.message for line in viewer.log_view.model.lines]
    assert "stored line" in messages
    assert {line.node_label for line in viewer.log_view.model.lines} >= {"Log"}
    text = viewer.show_node_output(ids[1])
    assert '"colour": "teal"' in text
    assert viewer.tabs.tabText(1).startswith("Outputs (")


def test_unsaved_workflow_lists_nothing(qtbot, db):
    from glyphic_desktop.store.repositories.users import current_user_id

    dock = ExecutionsDock(db, current_user_id(db))
    qtbot.addWidget(dock)
    assert dock.statuses() == []
    assert not dock.open_button.isEnabled()
    assert dock.open_selected() is None


def test_format_duration():
    assert format_duration(None) == "—"
    assert format_duration(850) == "850 ms"
    assert format_duration(12_300) == "12.3 s"
    assert format_duration(245_000) == "4 min 05 s"
