"""Set fields, Log, Read file and Write file run directly."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from node_helpers import run_node
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.data import LogNode, SetNode
from glyphic_desktop.nodes.builtin.files import ReadFileNode, WriteFileNode, write_atomic
from glyphic_desktop.paths import files_dir


def test_set_fields_on_an_object_keeps_the_input_unchanged() -> None:
    item = {"name": "alpha", "meta": {"a": 1}}
    fields = {"fields": [{"name": "price", "value": 3.5}, {"name": "meta.b", "value": [1, 2]}]}
    out = run_node(SetNode, fields, inputs={"input": item}).output
    assert out == {"name": "alpha", "price": 3.5, "meta": {"a": 1, "b": [1, 2]}}
    assert item == {"name": "alpha", "meta": {"a": 1}}


def test_set_fields_on_each_item_of_a_list_and_drop_others() -> None:
    fields = {"fields": [{"name": "seen", "value": True}], "keep_other_fields": False}
    out = run_node(SetNode, fields, inputs={"input": [{"a": 1}, {"b": 2}]}).output
    assert out == [{"seen": True}, {"seen": True}]
    assert run_node(SetNode, fields).output == {"seen": True}


def test_set_fields_errors() -> None:
    with pytest.raises(NodeError, match="'a' holds a int, not an object"):
        run_node(SetNode, {"fields": [{"name": "a.b", "value": 1}]}, inputs={"input": {"a": 5}})
    with pytest.raises(ValidationError, match="empty part"):
        SetNode.Fields.model_validate({"fields": [{"name": "a..b"}]})
    with pytest.raises(ValidationError) as caught:
        SetNode.Fields.model_validate({"fields": {"name": "x"}})
    assert caught.value.errors()[0]["loc"][0] == "fields"


def test_log_writes_a_line_at_its_level_and_passes_input() -> None:
    result = run_node(
        LogNode,
        {"level": "warn", "message": "low stock", "include_input": True},
        inputs={"input": {"n": 1}},
    )
    assert result.output == {"n": 1}
    assert result.logs == [("warn", "low stock", {"n": 1})]
    rendered = run_node(LogNode, {"message": {"n": 1}}).logs
    assert rendered == [("info", '{"n": 1}', None)]
    with pytest.raises(ValidationError):
        LogNode.Fields.model_validate({"level": "loud"})


def test_write_then_read_text_json_bytes(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    written = run_node(WriteFileNode, {"path": str(target)}, inputs={"input": {"total": 3}}).output
    assert written["path"] == str(target)
    assert written["mime_type"] == "application/json"
    assert json.loads(target.read_text()) == {"total": 3}
    assert run_node(ReadFileNode, {"path": str(target), "format": "json"}).output == {"total": 3}
    text = tmp_path / "note.txt"
    run_node(WriteFileNode, {"path": str(text), "content": "héllo\n"})
    assert run_node(ReadFileNode, {"path": str(text)}).output == "héllo\n"
    raw = run_node(ReadFileNode, {"path": str(text), "format": "bytes"}).output
    assert base64.b64decode(raw["base64"]) == "héllo\n".encode()
    copy = tmp_path / "copy.bin"
    run_node(WriteFileNode, {"path": str(copy), "format": "base64"}, inputs={"input": raw})
    assert copy.read_bytes() == text.read_bytes()


def test_relative_paths_live_under_the_files_folder() -> None:
    out = run_node(WriteFileNode, {"path": "reports/a.txt", "content": "x"}).output
    assert Path(out["path"]) == files_dir() / "reports" / "a.txt"
    assert run_node(ReadFileNode, {"path": "reports/a.txt"}).output == "x"


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    tmp_path = tmp_path / "atomic"
    tmp_path.mkdir()
    target = tmp_path / "data.txt"
    target.write_text("old")
    os.chmod(target, 0o600)
    run_node(WriteFileNode, {"path": str(target), "content": "new"})
    assert target.read_text() == "new"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]

    class Boom(Exception):
        pass

    # A failure while writing keeps the old file whole and removes the temp file.
    original = os.fsync

    def failing_fsync(fd: int) -> None:
        raise Boom

    os.fsync = failing_fsync
    try:
        with pytest.raises(Boom):
            write_atomic(target, b"partial", create_folders=True, overwrite=True)
    finally:
        os.fsync = original
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]


def test_write_file_records_the_file_through_the_engine_service(tmp_path: Path) -> None:
    recorded = []

    class Services:
        def record_file(self, path, mime_type, size):
            recorded.append((Path(path).name, mime_type, size))

    run_node(
        WriteFileNode, {"path": str(tmp_path / "r.csv"), "content": "a,b\n"}, services=Services()
    )
    assert recorded == [("r.csv", "text/csv", 4)]


def test_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(NodeError, match="file not found") as caught:
        run_node(ReadFileNode, {"path": str(missing)})
    assert caught.value.field == "path" and str(missing) in str(caught.value)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"a": 1,,}')
    with pytest.raises(NodeError, match=r"not valid JSON: .* line 1 column 9"):
        run_node(ReadFileNode, {"path": str(bad_json), "format": "json"})
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(NodeError, match="not utf-8 text"):
        run_node(ReadFileNode, {"path": str(binary)})
    with pytest.raises(NodeError, match="is a folder"):
        run_node(ReadFileNode, {"path": str(tmp_path)})
    existing = tmp_path / "keep.txt"
    existing.write_text("keep")
    with pytest.raises(NodeError, match="overwrite is off") as caught:
        run_node(WriteFileNode, {"path": str(existing), "content": "x", "overwrite": False})
    assert caught.value.field == "overwrite"
    with pytest.raises(NodeError, match="does not exist"):
        run_node(
            WriteFileNode,
            {"path": str(tmp_path / "no" / "x.txt"), "content": "x", "create_folders": False},
        )
    with pytest.raises(NodeError, match="nothing to write"):
        run_node(WriteFileNode, {"path": str(tmp_path / "e.txt")})
    with pytest.raises(NodeError, match="not valid base64"):
        run_node(
            WriteFileNode, {"path": str(tmp_path / "e.bin"), "content": "@@", "format": "base64"}
        )
    with pytest.raises(ValidationError) as wrong:
        ReadFileNode.Fields.model_validate({"path": "x", "format": "xml"})
    assert wrong.value.errors()[0]["loc"] == ("format",)
