"""`glyphic schedule`: list, add, pause, resume, remove, next; bad arguments exit 2 in one line."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.schedules import ScheduleRepository
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``glyphic schedule ARGS``; argparse's own errors (SystemExit) become the exit code."""
    try:
        code = main(["schedule", *args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workflow(database_url: str) -> uuid.UUID:
    db = Database(database_url)
    try:
        user_id = current_user_id(db)
        document = WorkflowDocument.model_validate(
            {"nodes": [{"id": "1", "type": "manual_trigger", "data": {"label": "Start"}}]}
        )
        with db.session() as session:
            return WorkflowRepository(session, user_id).create("Nightly report", document).id
    finally:
        db.dispose()


def _schedules(database_url: str):
    db = Database(database_url)
    try:
        with db.session() as session:
            return ScheduleRepository(session, current_user_id(db)).list()
    finally:
        db.dispose()


def _add(capsys, *extra: str, workflow: str = "Nightly report") -> tuple[int, str, str]:
    return run(capsys, "add", workflow, "--cron", "30 2 * * *", *extra)


def _only_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_add_by_name_then_list(database_url, workflow, capsys) -> None:
    code, out, err = _add(
        capsys,
        "--timezone",
        "Europe/Berlin",
        "--name",
        "nightly",
        "--misfire",
        "all",
        "--max-catchup",
        "3",
        "--overlap",
        "queue",
        "--input",
        '{"limit": 5}',
    )
    assert code == 0, err
    assert out.startswith("added schedule 'nightly' of workflow 'Nightly report' (id ")
    assert "'30 2 * * *' in Europe/Berlin, next run " in out and "02:30 CE" in out
    (record,) = _schedules(database_url)
    assert (record.name, record.timezone, record.input_data) == (
        "nightly",
        "Europe/Berlin",
        {"limit": 5},
    )
    assert (record.misfire_policy, record.max_catchup, record.overlap_policy) == ("all", 3, "queue")
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "WORKFLOW",
        "CRON",
        "TIMEZONE",
        "NEXT",
        "RUN",
        "LAST",
        "RUN",
        "RUNS",
        "STATE",
        "RETRIES",
    ]
    assert lines[1].startswith(str(record.id))
    assert "nightly" in lines[1] and "Nightly report" in lines[1] and "30 2 * * *" in lines[1]
    assert lines[1].split()[-3:] == ["0", "active", "1"]
    code, out, _ = run(capsys, "list", "--json")
    (row,) = json.loads(out)
    assert row["id"] == str(record.id) and row["workflow"] == "Nightly report"
    assert row["next_run_at"] == record.next_run_at.isoformat()
    assert (row["active"], row["run_count"], row["last_run_at"]) == (True, 0, None)


def test_add_by_id_with_defaults(database_url, workflow, capsys) -> None:
    code, _, err = run(capsys, "add", str(workflow), "--cron", "@hourly")
    assert code == 0, err
    (record,) = _schedules(database_url)
    assert (record.name, record.timezone, record.cron_expression) == (
        "Nightly report",
        "UTC",
        "@hourly",
    )
    assert (record.misfire_policy, record.max_catchup, record.overlap_policy) == (
        "once",
        None,
        "skip",
    )


def test_empty_list(database_url, capsys) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and out.startswith("no schedules")
    code, out, _ = run(capsys, "list", "--json")
    assert json.loads(out) == []


def test_pause_resume_remove(database_url, workflow, capsys) -> None:
    _add(capsys, "--name", "nightly")
    (record,) = _schedules(database_url)
    code, out, _ = run(capsys, "pause", str(record.id))
    assert code == 0 and out.startswith("paused schedule 'nightly'")
    (paused,) = _schedules(database_url)
    assert not paused.is_active and paused.next_run_at is None
    code, out, _ = run(capsys, "list")
    assert out.splitlines()[1].split()[-3:] == ["0", "paused", "1"]
    code, out, _ = run(capsys, "resume", "nightly")  # a unique name works too
    assert code == 0 and out.startswith("resumed schedule 'nightly'") and "next run 20" in out
    (resumed,) = _schedules(database_url)
    assert resumed.is_active and resumed.next_run_at > datetime.now(UTC)
    code, out, _ = run(capsys, "remove", str(record.id))
    assert code == 0 and out.startswith("removed schedule 'nightly'")
    assert _schedules(database_url) == []


def test_next(database_url, workflow, capsys) -> None:
    _add(capsys, "--timezone", "Europe/Berlin")
    (record,) = _schedules(database_url)
    code, out, _ = run(capsys, "next", str(record.id), "--count", "3")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(" 02:30 CE" in line or " 03:00 CEST" in line for line in lines)
    assert all(line.endswith(" UTC)") for line in lines)
    code, out, _ = run(capsys, "next", str(record.id), "--json")
    times = [datetime.fromisoformat(t) for t in json.loads(out)]
    assert len(times) == 5 and times == sorted(times) and times[0] == record.next_run_at
    run(capsys, "pause", str(record.id))
    code, out, _ = run(capsys, "next", str(record.id), "--count", "1")
    assert code == 0 and "is paused; if resumed now it would fire at:" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--timezone", "Mars/Base"), "glyphic: unknown timezone 'Mars/Base'"),
        (("--misfire", "all", "--max-catchup", "-2"), "max catch-up must be between 0 and 1000"),
        (("--max-catchup", "2"), "max catch-up only applies with misfire policy 'all'"),
        (("--input", "{nope"), "glyphic: --input is not valid JSON: "),
        (("--input", "[1]"), "glyphic: --input must be a JSON object, not list"),
        (("--name", " "), "glyphic: a schedule name must not be empty"),
        (("--misfire", "sometimes"), "argument --misfire: invalid choice: 'sometimes'"),
        (("--overlap", "never"), "argument --overlap: invalid choice: 'never'"),
        (("--max-catchup", "many"), "argument --max-catchup: invalid int value: 'many'"),
    ],
)
def test_add_bad_arguments_exit_2_with_one_line(
    database_url, workflow, capsys, args, message
) -> None:
    code, _, err = _add(capsys, *args)
    assert code == 2
    assert message in _only_line(err)
    assert _schedules(database_url) == []


def test_add_bad_cron_exits_2(database_url, workflow, capsys) -> None:
    code, _, err = run(capsys, "add", "Nightly report", "--cron", "61 * * * *")
    assert code == 2
    assert _only_line(err).startswith("glyphic: invalid cron expression '61 * * * *': ")
    code, _, err = run(capsys, "add", "Nightly report", "--cron", "* * *")
    assert code == 2 and "expected 5 fields" in _only_line(err)


def test_add_missing_cron_is_a_usage_error(database_url, workflow, capsys) -> None:
    code, _, err = run(capsys, "add", "Nightly report")
    assert code == 2
    assert "the following arguments are required: --cron" in _only_line(err)


def test_unknown_workflow_and_schedule(database_url, workflow, capsys) -> None:
    code, _, err = run(capsys, "add", "No such flow", "--cron", "@daily")
    assert code == 2 and _only_line(err).startswith("glyphic: no workflow named 'No such flow'")
    missing = uuid.uuid4()
    for verb in ("pause", "resume", "remove", "next"):
        code, _, err = run(capsys, verb, str(missing))
        assert code == 2
        assert _only_line(err).startswith(f"glyphic: no schedule with id or name '{missing}'")


def test_next_count_out_of_range(database_url, workflow, capsys) -> None:
    _add(capsys)
    (record,) = _schedules(database_url)
    for count in ("0", "5000"):
        code, _, err = run(capsys, "next", str(record.id), "--count", count)
        assert code == 2
        assert "--count must be between 1 and 1000" in _only_line(err)


def test_ambiguous_name_asks_for_the_id(database_url, workflow, capsys) -> None:
    _add(capsys, "--name", "twin")
    _add(capsys, "--name", "twin")
    code, _, err = run(capsys, "pause", "twin")
    assert code == 2 and "several schedules are named 'twin'; use the schedule id" in err


def test_bare_command_prints_help(database_url, capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "sub-commands" in out and "next" in out


def test_list_shows_a_fired_schedule(database_url, workflow, capsys) -> None:
    from glyphic_desktop.agent.scheduler import fire_due_schedules

    run(capsys, "add", "Nightly report", "--cron", "0 * * * *", "--name", "hourly")
    (record,) = _schedules(database_url)
    db = Database(database_url)
    try:
        fire_due_schedules(db, agent="test", now=record.next_run_at)
    finally:
        db.dispose()
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert out.splitlines()[1].split()[-3:] == ["1", "active", "1"]
    code, out, _ = run(capsys, "list", "--json")
    (row,) = json.loads(out)
    assert row["run_count"] == 1
    assert row["last_run_at"] == record.next_run_at.isoformat()
