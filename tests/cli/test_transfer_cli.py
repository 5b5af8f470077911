"""`glyphic export` / `glyphic import` through the database: round trips and every bad case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.cli.main import main
from glyphic_desktop.cli.transfer import safe_file_name, write_text_atomically
from glyphic_desktop.document.io import load_document_text
from glyphic_desktop.store.database import Database

SAMPLES = Path(__file__).parents[1] / "document" / "samples"


def _counts(db: Database) -> tuple[int, int]:
    with db.engine.connect() as conn:
        workflows = conn.execute(text("SELECT count(*) FROM workflows")).scalar_one()
        versions = conn.execute(text("SELECT count(*) FROM workflow_versions")).scalar_one()
    return workflows, versions


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _simple(label: str = "Say hi") -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "1", "type": "manual", "data": {"label": "Start"}},
            {"id": "2", "type": "log", "data": {"label": label, "fields": {"message": "hi"}}},
        ],
        "edges": [{"id": 1, "source": "1", "sourceHandle": "output", "target": "2"}],
    }


def _export(name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["export", name]) == 0
    return json.loads(capsys.readouterr().out)


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def test_import_then_export_round_trip_keeps_extra_keys(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = SAMPLES / "glyphic_extras.json"
    assert main(["import", str(source), "--name", "Extras"]) == 0
    out = capsys.readouterr().out
    assert f"imported {source} as 'Extras'" in out
    exported = _export("Extras", capsys)
    original = load_document_text(source.read_text(encoding="utf-8")).to_data()
    assert exported["metadata"].pop("name") == "Extras"
    assert exported["revision"] == 1
    assert _without(exported, "id", "revision") == _without(original, "id", "revision")
    # Export -> import (replace) -> export gives the same file again, one version later.
    path = tmp_path / "extras.json"
    assert main(["export", "Extras", "-o", str(path)]) == 0
    assert "exported 'Extras' to" in capsys.readouterr().out
    first = json.loads(path.read_text(encoding="utf-8"))
    assert main(["import", str(path), "--replace"]) == 0
    assert "as version 2 of 'Extras'" in capsys.readouterr().out
    again = _export(first["id"], capsys)
    assert again["revision"] == 2
    assert _without(again, "revision") == _without(first, "revision")
    assert _counts(db) == (1, 2)


def test_import_of_a_bad_file_changes_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path / "good.json", _simple())
    assert main(["import", str(good)]) == 0
    before = _counts(db)
    assert before == (1, 1)
    other = _write(tmp_path / "other.json", _simple("Other"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [\n  {"id": "1", "type": "log"}\n  {"id": 2}]}', encoding="utf-8")
    invalid = _write(
        tmp_path / "invalid.json",
        {
            "nodes": [{"id": "1", "type": "log", "data": {"fields": []}}],
            "edges": [{"id": 1, "source": "1", "target": "7"}],
        },
    )
    capsys.readouterr()
    assert main(["import", str(other), str(broken), str(invalid)]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: invalid JSON at line 3, column 3: Expecting ',' delimiter" in err
    assert f"{invalid}: nodes[0].data.fields: Input should be a valid dictionary" in err
    assert f"{invalid}: edges[0].target: no node has the id '7'" in err
    assert "nothing was imported: 2 of 3 files have problems" in err
    assert "Traceback" not in err
    assert _counts(db) == before


def test_name_clash_needs_replace(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "Daily report.json", _simple())
    assert main(["import", str(path)]) == 0
    assert "as 'Daily report'" in capsys.readouterr().out
    changed = _write(tmp_path / "Daily report.json", _simple("Changed"))
    assert main(["import", str(changed)]) == 2
    err = capsys.readouterr().err
    assert "a workflow named 'Daily report' already exists (version 1); use --replace" in err
    assert "nothing was imported" in err
    assert _counts(db) == (1, 1)
    assert main(["import", str(changed), "--replace"]) == 0
    assert "as version 2 of 'Daily report'" in capsys.readouterr().out
    exported = _export("Daily report", capsys)
    assert exported["nodes"][1]["data"]["label"] == "Changed"
    assert _counts(db) == (1, 2)


def test_same_document_id_needs_replace_or_a_new_name(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(_write(tmp_path / "a.json", _simple())), "--name", "A"]) == 0
    exported = _export("A", capsys)
    exported["metadata"]["name"] = "Renamed in the file"
    path = _write(tmp_path / "copy.json", exported)
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"this workflow is already stored as 'A' (same document id {exported['id']})" in err
    assert main(["import", str(path), "--name", "Copy of A"]) == 0
    assert "as 'Copy of A'" in capsys.readouterr().out
    assert _counts(db) == (2, 2)
    assert main(["import", str(path), "--replace"]) == 0
    assert "as version 2 of 'A'" in capsys.readouterr().out


def test_import_foreign_files_prints_notes(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(SAMPLES / name) for name in ("n8n_orders.json", "comfyui_txt2img.json")]
    assert main(["import", *files]) == 0
    captured = capsys.readouterr()
    assert f"{files[0]}: converted from an n8n workflow export" in captured.err
    # The report is grouped: placeholders by type with counts, not one line per node.
    assert (
        "  placeholders: 1 node(s) of 1 type(s) with no Glyphic counterpart, kept with their "
        "data: n8n-nodes-base.airtable (1)"
    ) in captured.err
    assert f"{files[1]}: converted from a ComfyUI workflow" in captured.err
    # The n8n Slack credential became a reference; no such credential is stored: reported.
    assert any(
        line.startswith(f"{files[0]}: note: ") and "'Sales Slack'" in line and "not bound" in line
        for line in captured.err.splitlines()
    ), captured.err
    assert "as 'Order alerts'" in captured.out  # the n8n workflow's own name
    assert "as 'comfyui_txt2img'" in captured.out  # the file name when the file has none
    exported = _export("Order alerts", capsys)
    assert exported["metadata"]["importedFrom"] == "n8n"
    slack = next(node for node in exported["nodes"] if node["type"] == "slack")
    assert slack["data"]["credential"] == {"integration": {"type": "slack", "name": "Sales Slack"}}
    assert [node["type"] for node in exported["nodes"]][:3] == ["manual", "http_request", "if"]
    assert _counts(db) == (2, 2)


def test_two_files_with_the_same_name_in_one_import(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").mkdir()
    first = _write(tmp_path / "flow.json", _simple())
    second = _write(tmp_path / "x" / "flow.json", _simple())
    assert main(["import", str(first), str(second)]) == 2
    assert "the same workflow name 'flow' as" in capsys.readouterr().err
    assert _counts(db) == (0, 0)


def test_export_all_writes_one_safe_file_per_workflow(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Report: daily/weekly", "report: daily/weekly!", "CON"):
        path = _write(tmp_path / "in.json", _simple())
        assert main(["import", str(path), "--name", name]) == 0
    out_dir = tmp_path / "out" / "nested"
    capsys.readouterr()
    assert main(["export", "--all", str(out_dir)]) == 0
    names = sorted(path.name for path in out_dir.iterdir())
    assert names == ["CON_.json", "Report_ daily_weekly.json", "report_ daily_weekly-2.json"]
    stored = {
        json.loads(path.read_text(encoding="utf-8"))["metadata"]["name"]
        for path in out_dir.iterdir()
    }
    assert stored == {"Report: daily/weekly", "report: daily/weekly!", "CON"}
    # The directory round-trips: importing it again with --replace adds one version each.
    files = sorted(str(path) for path in out_dir.iterdir())
    assert main(["import", *files, "--replace"]) == 0
    assert _counts(db) == (3, 6)


def test_export_all_of_nothing(db: Database, tmp_path: Path, capsys) -> None:
    assert main(["export", "--all", str(tmp_path / "empty")]) == 0
    assert "no workflows to export" in capsys.readouterr().err


def test_export_unknown_workflow(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "Nope"]) == 2
    err = capsys.readouterr().err
    assert "glyphic: no workflow named 'Nope'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export"], "name a workflow to export (NAME or ID), or use --all DIR"),
        (["export", "x", "--all", "d"], "either a workflow (NAME or ID) or --all DIR, not both"),
        (["export", "--all", "d", "-o", "f"], "-o FILE exports one workflow"),
        (["import", "a.json", "b.json", "--name", "N"], "--name names one workflow"),
        (["import", "a.json", "--name", " "], "--name must not be empty"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["import", "--force", "a.json"])
    assert excinfo.value.code == 2
    assert "unrecognized arguments: --force" in capsys.readouterr().err


def test_export_all_into_a_file_is_refused(tmp_path: Path, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    assert main(["export", "--all", str(target)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_import_missing_file_changes_nothing(db: Database, tmp_path: Path, capsys) -> None:
    assert main(["import", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read the file: No such file or directory" in (
        capsys.readouterr().err
    )
    assert _counts(db) == (0, 0)


def test_import_not_a_workflow(db: Database, tmp_path: Path, capsys) -> None:
    path = _write(tmp_path / "list.json", [{"nodes": []}])
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not a Glyphic workflow: the file holds a JSON array" in err
    assert _counts(db) == (0, 0)


def test_unreachable_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://nobody:pw@127.0.0.1:1/glyphic")
    path = _write(tmp_path / "ok.json", _simple())
    assert main(["import", str(path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("glyphic: cannot reach PostgreSQL at 127.0.0.1:1")
    assert len(err.strip().splitlines()) == 1
    assert main(["export", "anything"]) == 3
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in capsys.readouterr().err


def test_export_to_an_unwritable_place(db: Database, tmp_path: Path, capsys) -> None:
    assert main(["import", str(_write(tmp_path / "w.json", _simple()))]) == 0
    target = tmp_path / "no-such-dir" / "out.json"
    assert main(["export", "w", "-o", str(target)]) == 2
    assert f"cannot write {target}: No such file or directory" in capsys.readouterr().err


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    target = tmp_path / "dir" / "out.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_text_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(TypeError):
        write_text_atomically(target, 42)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(path.name for path in target.parent.iterdir()) == ["out.json"]


def test_safe_file_names() -> None:
    taken: set[str] = set()
    assert safe_file_name("a/b\\c:d", taken) == "a_b_c_d.json"
    assert safe_file_name("A/B\\C:D", taken) == "A_B_C_D-2.json"
    assert safe_file_name("...", taken) == "workflow.json"
    assert safe_file_name("nul.txt", taken) == "nul.txt_.json"
    assert safe_file_name("Café ünïcode", taken) == "Café ünïcode.json"
    assert len(safe_file_name("x" * 500)) == 125
