"""`glyphic import` of foreign files: --dry-run, --json, --format, --split-tabs, the grouped
report, bad files (one line per problem with its JSON path, exit 2, nothing saved), and
schedules created paused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.cli.main import main
from glyphic_desktop.store.database import Database

from .test_formats_convert import API_PROMPT, FLOW

DATA = Path(__file__).parents[1] / "data" / "formats"
SCHEDULED = DATA / "nodered" / "inject-03-trigger_a_flow_at_a_specific_time.json"


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_dry_run_prints_the_grouped_report_and_stores_nothing(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    path = DATA / "n8n" / "0168_Datetime_GoogleCalendar_Send_Scheduled.json"
    assert main(["import", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "converted from an n8n workflow export" in out
    assert "mapped: n8n-nodes-base.code -> code (3)" in out
    assert "placeholders: 4 node(s) of 3 type(s)" in out
    assert "expressions that need attention (4, kept as is):" in out
    assert "schedules (1), created INACTIVE" in out
    assert "cron '0 8 1 * *'" in out
    assert "dry run: nothing was imported" in out
    assert _count(db, "workflows") == 0


def test_json_prints_the_report_as_json(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "api.json", {"prompt": API_PROMPT})
    assert main(["import", "--dry-run", "--json", str(path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    (item,) = payload["workflows"]
    assert payload["dry_run"] is True
    assert item["format"] == "comfyui_api"
    assert item["report"]["nodes"] == 3 and item["report"]["edges"] == 3
    assert {"type": "KSampler", "count": 1} in item["report"]["placeholders"]
    assert _count(db, "workflows") == 0
    assert main(["import", "--json", str(path), "--name", "Api"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dry_run"] is False and "as 'Api'" in payload["imported"][0]
    assert _count(db, "workflows") == 1


def test_a_bad_foreign_file_lists_each_problem_with_its_path_and_saves_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = DATA / "nodered" / "delay-01-delay_message.json"
    bad = _write(tmp_path / "bad.json", {"prompt": {"1": {"class_type": 4}, "2": "x"}})
    assert main(["import", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "prompt.1" in err and "prompt.2" in err
    assert "nothing was imported" in err
    assert _count(db, "workflows") == 0


def test_format_forces_a_format(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = DATA / "reactflow" / "flowise-replicate_llm.json"
    assert main(["import", "--dry-run", "--format", "nodered", str(path)]) == 2
    assert "a Node-RED flow file is a JSON array of nodes" in capsys.readouterr().err
    assert main(["import", "--dry-run", "--format", "reactflow", str(path)]) == 0
    assert "converted from a React Flow file" in capsys.readouterr().out


def test_split_tabs_imports_one_workflow_per_node_red_tab(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "flows.json", FLOW)
    assert main(["import", "--split-tabs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "as 'Main'" in out and "as 'Other'" in out
    with db.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM workflows ORDER BY name")).scalars().all()
    assert names == ["Main", "Other"]
    other = _write(tmp_path / "n8n.json", {"nodes": [], "connections": {}})
    assert main(["import", "--split-tabs", str(other)]) == 2
    assert "--split-tabs splits Node-RED flow files only" in capsys.readouterr().err


def test_imported_schedules_are_created_paused(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SCHEDULED), "--name", "Timed"]) == 0
    out = capsys.readouterr().out
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, cron_expression, is_active, next_run_at FROM schedules")
        ).all()
    (row,) = rows
    assert row.is_active is False and row.next_run_at is None
    assert f"glyphic schedule resume {row.id}" in out
    assert "created paused" in out
