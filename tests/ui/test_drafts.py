"""Autosave drafts: atomic writes, listing, discarding, and no secrets in a draft."""

from __future__ import annotations

import json
import os
import stat

from glyphic_desktop import paths
from glyphic_desktop.ui.drafts import Autosaver, Draft, DraftStore, scrub_secrets


def _document(credential=None):
    data = {"label": "Send", "nodeType": "http", "fields": {"url": "https://x.test"}}
    if credential is not None:
        data["credential"] = credential
    return {"id": "wf-1", "nodes": [{"id": "1", "type": "http", "data": data}], "edges": []}


def test_write_is_atomic_private_and_round_trips(glyphic_home):
    store = DraftStore()
    assert store.directory == paths.drafts_dir()
    path = store.write(
        Draft(key="wf-1", document=_document(), workflow_id="wf-1", name="Flow", base_version=3)
    )
    assert path.parent == paths.drafts_dir()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["wf-1.json"]  # no temp file left
    loaded = store.load("wf-1")
    assert loaded is not None
    assert (loaded.workflow_id, loaded.name, loaded.base_version) == ("wf-1", "Flow", 3)
    assert loaded.document == _document()
    assert loaded.saved_at


def test_list_newest_first_and_discard(glyphic_home):
    store = DraftStore()
    first = Draft(key="a", document=_document())
    store.write(first)
    second = Draft(key="b/../c", document=_document())
    store.write(second)
    data = json.loads(store.path_for("a").read_text())
    data["saved_at"] = "2000-01-01T00:00:00+00:00"
    store.path_for("a").write_text(json.dumps(data))
    assert [d.key for d in store.list()] == ["b/../c", "a"]
    assert store.path_for("b/../c").parent == store.directory
    store.discard("a")
    store.discard("a")  # twice is fine
    assert [d.key for d in store.list()] == ["b/../c"]


def test_unreadable_draft_is_ignored(glyphic_home):
    store = DraftStore()
    paths.ensure_dir(store.directory)
    (store.directory / "broken.json").write_text("{not json")
    (store.directory / "other.json").write_text('{"no": "document"}')
    assert store.list() == []
    assert store.load("broken") is None


def test_drafts_never_hold_decrypted_secrets(glyphic_home):
    credential = {
        "id": "c-1",
        "type": "smtp",
        "name": "Work",
        "password": "hunter2",
        "token": "xoxb-secret",
    }
    store = DraftStore()
    store.write(Draft(key="k", document=_document(credential)))
    text = store.path_for("k").read_text()
    assert "hunter2" not in text and "xoxb-secret" not in text
    assert store.load("k").document["nodes"][0]["data"]["credential"] == {
        "id": "c-1",
        "type": "smtp",
        "name": "Work",
    }
    assert scrub_secrets({"nodes": "odd"}) == {"nodes": "odd"}


def test_autosaver_writes_after_the_delay(qtbot, glyphic_home):
    document = _document()
    saver = Autosaver(lambda: Draft(key="auto", document=document), delay_ms=100)
    with qtbot.waitSignal(saver.written, timeout=2000):
        saver.schedule()
        saver.schedule()  # restarting the wait still writes once
    assert DraftStore().load("auto").document == document
    saver.discard("auto")
    assert DraftStore().load("auto") is None


def test_autosaver_reports_a_failed_write(qtbot, glyphic_home):
    blocker = paths.data_dir()
    blocker.mkdir(parents=True)
    (blocker / "drafts").write_text("a file where the directory should be")
    saver = Autosaver(lambda: Draft(key="x", document={}), delay_ms=10)
    with qtbot.waitSignal(saver.failed, timeout=2000) as signal:
        saver.schedule()
    assert "could not write the autosave draft" in signal.args[0]


def test_autosaver_with_nothing_to_save(qtbot, glyphic_home):
    saver = Autosaver(lambda: None, delay_ms=10)
    assert saver.flush() is None


def test_a_document_snapshot_is_written_whole_and_without_secrets(glyphic_home):
    from glyphic_desktop.document.model import WorkflowDocument

    secret = {"id": "c-1", "type": "smtp", "name": "Work", "password": "hunter2"}
    nodes = [_document()["nodes"][0] | {"id": str(i)} for i in range(1, 601)]
    nodes[450] = _document(secret)["nodes"][0] | {"id": "451"}  # in a later slice
    document = WorkflowDocument.model_validate({"id": "wf-1", "nodes": nodes, "edges": []})
    store = DraftStore()
    store.write(Draft(key="k", document=document, name="Big"))
    assert "hunter2" not in store.path_for("k").read_text(encoding="utf-8")
    loaded = store.load("k")
    assert loaded.name == "Big"
    expected = json.loads(document.model_dump_json())
    expected["nodes"][450]["data"]["credential"] = {"id": "c-1", "type": "smtp", "name": "Work"}
    assert loaded.document == expected
    assert document.nodes[450].data.credential["password"] == "hunter2"  # the editor's copy
