"""`--retry-lost-runs N` of `glyphic schedule add|set` and `glyphic webhook add|set`: shown
by `list` (text and JSON), checked (0..10, exit 2 in one line, nothing changed), and the
value recovery uses when a schedule or webhook run's process dies."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.processes import register_process
from glyphic_desktop.agent.queue import recover_lost_runs
from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.cli.webhook_helpers import listed
from tests.cli.webhook_helpers import run as webhook

pytestmark = pytest.mark.usefixtures("no_os_keyring")


def schedule(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``glyphic schedule ARGS``; argparse's own errors (SystemExit) become the exit code."""
    try:
        code = main(["schedule", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def schedules(capsys) -> dict[str, dict[str, Any]]:
    """``glyphic schedule list --json`` by schedule name."""
    code, out, err = schedule(capsys, "list", "--json")
    assert code == 0, err
    return {item["name"]: item for item in json.loads(out)}


def stored(db, table: str) -> dict[str, int]:
    """``retry_lost_runs`` of every row of ``schedules`` / ``webhooks``, read from the database."""
    key = "name" if table == "schedules" else "path"
    with db.session() as session:
        rows = session.execute(text(f"SELECT {key}, retry_lost_runs FROM {table}")).all()
    return {row[0]: row[1] for row in rows}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def orders(db, user_id) -> uuid.UUID:
    with db.session() as session:
        return WorkflowRepository(session, user_id).create("Orders", WorkflowDocument()).id


# -- set and list ---------------------------------------------------------------------------


def test_schedule_add_and_set_then_list_shows_it(db, orders, capsys) -> None:
    code, out, err = schedule(capsys, "add", "Orders", "--cron", "@daily", "--name", "plain")
    assert code == 0, err
    assert out.splitlines()[1] == "  a lost run is retried once"  # the default
    code, out, err = schedule(
        capsys, "add", "Orders", "--cron", "@daily", "--name", "eager", "--retry-lost-runs", "3"
    )
    assert code == 0, err
    assert out.splitlines()[1] == "  a lost run is retried up to 3 times"
    assert stored(db, "schedules") == {"plain": 1, "eager": 3}

    code, out, err = schedule(capsys, "set", "plain", "--retry-lost-runs", "0")
    assert code == 0, err
    assert out.startswith("schedule 'plain' of workflow 'Orders' (id ")
    assert out.rstrip().endswith(": lost runs are not retried")
    assert stored(db, "schedules") == {"plain": 0, "eager": 3}

    assert {name: item["retry_lost_runs"] for name, item in schedules(capsys).items()} == {
        "plain": 0,
        "eager": 3,
    }
    code, out, _ = schedule(capsys, "list")
    header, *rows = out.splitlines()
    assert header.split()[-1] == "RETRIES"
    assert {row.split()[1]: row.split()[-1] for row in rows} == {"plain": "0", "eager": "3"}


def test_webhook_add_and_set_then_list_shows_it(db, orders, capsys) -> None:
    code, out, err = webhook(capsys, "add", "Orders", "--path", "plain")
    assert code == 0, err
    assert "  a lost run is retried once" in out.splitlines()
    code, out, err = webhook(capsys, "add", "Orders", "--path", "never", "--retry-lost-runs", "0")
    assert code == 0, err
    assert "  lost runs are not retried" in out.splitlines()
    assert stored(db, "webhooks") == {"plain": 1, "never": 0}

    code, out, err = webhook(capsys, "set", "plain", "--retry-lost-runs", "10")
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "webhook /webhooks/plain: auth glyphic, answers immediately",
        "  a lost run is retried up to 10 times",
    ]
    # other settings of `set` keep the retries; the retries keep the other settings
    code, _, err = webhook(capsys, "set", "never", "--respond", "when-finished")
    assert code == 0, err
    assert stored(db, "webhooks") == {"plain": 10, "never": 0}

    items = listed(capsys)
    assert {path: item["retry_lost_runs"] for path, item in items.items()} == {
        "plain": 10,
        "never": 0,
    }
    assert items["never"]["respond"] == "when-finished"
    code, out, _ = webhook(capsys, "list")
    header, *rows = out.splitlines()
    assert header.split()[-1] == "RETRIES"
    assert {row.split()[2]: row.split()[-1] for row in rows} == {
        "/webhooks/never": "0",
        "/webhooks/plain": "10",
    }


# -- bad values -----------------------------------------------------------------------------

BAD = ["11", "-1", "two", "1.5", "", "\u00b2", "0x2"]


@pytest.mark.parametrize("value", BAD)
def test_a_bad_schedule_value_is_one_line_exit_2_and_changes_nothing(
    db, orders, capsys, value
) -> None:
    assert schedule(capsys, "add", "Orders", "--cron", "@daily", "--name", "kept")[0] == 0
    for args in (
        ("add", "Orders", "--cron", "@daily", "--name", "new", "--retry-lost-runs", value),
        ("set", "kept", "--retry-lost-runs", value),
    ):
        code, out, err = schedule(capsys, *args)
        assert (code, out) == (2, "")
        line = one_line(err)
        assert line.startswith("glyphic: error: argument --retry-lost-runs: ")
        assert "from 0 (never retry) to 10" in line and repr(value) in line
    assert stored(db, "schedules") == {"kept": 1}


def test_schedule_set_without_a_setting_is_exit_2(db, orders, capsys) -> None:
    assert schedule(capsys, "add", "Orders", "--cron", "@daily", "--name", "kept")[0] == 0
    code, _, err = schedule(capsys, "set", "kept")
    assert code == 2 and "give --retry-lost-runs N" in one_line(err)
    code, _, err = schedule(capsys, "set", "nowhere", "--retry-lost-runs", "2")
    assert code == 2
    assert one_line(err).startswith("glyphic: no schedule with id or name 'nowhere'")
    assert stored(db, "schedules") == {"kept": 1}


@pytest.mark.parametrize("value", BAD)
def test_a_bad_webhook_value_is_one_line_exit_2_and_changes_nothing(
    db, orders, capsys, value
) -> None:
    assert webhook(capsys, "add", "Orders", "--path", "kept")[0] == 0
    for args in (
        ("add", "Orders", "--path", "new", "--retry-lost-runs", value),
        ("set", "kept", "--retry-lost-runs", value),
        ("set", "kept", "--auth", "none", "--retry-lost-runs", value),
    ):
        code, out, err = webhook(capsys, *args)
        assert (code, out) == (2, "")
        line = one_line(err)
        assert line.startswith("glyphic: error: argument --retry-lost-runs: ")
        assert "from 0 (never retry) to 10" in line
    assert stored(db, "webhooks") == {"kept": 1}
    assert listed(capsys)["kept"]["auth"] == "glyphic"


def test_the_repositories_refuse_a_bad_value_too(db, user_id, orders) -> None:
    """Callers other than the CLI (the editor) get the same check, before any write."""
    from glyphic_desktop.errors import UsageError
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with db.session() as session:
        repo = ScheduleRepository(session, user_id)
        record = repo.create(orders, "s", "@daily", retry_lost_runs=4)
        assert record.retry_lost_runs == 4
        for bad in (11, -1, True, 2.0, None):
            with pytest.raises(UsageError, match="from 0 \\(never retry\\) to 10"):
                repo.set_retry_lost_runs(record.id, bad)
            with pytest.raises(UsageError, match="from 0 \\(never retry\\) to 10"):
                repo.create(orders, "t", "@daily", retry_lost_runs=bad)
        hooks = WebhookRepository(session, user_id)
        hook, _ = hooks.add(orders, "h", retry_lost_runs=7)
        assert hook.retry_lost_runs == 7
        with pytest.raises(UsageError, match="not 11"):
            hooks.configure("h", auth_mode="none", retry_lost_runs=11)
        with pytest.raises(UsageError, match="not -1"):
            hooks.add(orders, "h2", retry_lost_runs=-1)
    assert stored(db, "schedules") == {"s": 4}
    assert stored(db, "webhooks") == {"h": 7}
    with db.session() as session:
        assert WebhookRepository(session, user_id).get("h").auth_mode == "glyphic"


# -- what recovery does with it -------------------------------------------------------------


def lose(db, execution_id: uuid.UUID, name: str) -> None:
    """Make ``execution_id`` a run held by a dead process: running, its ``process_id`` a
    ``run_processes`` row whose heartbeat is ten minutes old."""
    process_id = register_process(db, "agent", name=name)
    with db.session() as session:
        session.execute(
            text(
                "UPDATE executions SET status = 'running', started_at = now(), "
                "claimed_by = :name, process_id = :p WHERE id = :id"
            ),
            {"name": name, "p": process_id, "id": execution_id},
        )
        session.execute(
            text(
                "UPDATE run_processes SET heartbeat_at = now() - interval '10 minutes' "
                "WHERE id = :p"
            ),
            {"p": process_id},
        )


def lose_every_attempt(db, first: uuid.UUID) -> list[Any]:
    """Lose ``first`` and then every retry recovery queues for it, until none comes; the
    retries, oldest first (at most 12 rounds: the schema allows 10 retries)."""
    retries = []
    current = first
    for round_ in range(12):
        lose(db, current, f"gone:{round_}")
        outcome = recover_lost_runs(db, stale_after=30)
        assert outcome.failed == [current]
        if not outcome.retried:
            break
        (current,) = outcome.retried
        retries.append(current)
    with db.session() as session:
        rows = session.execute(
            text(
                "SELECT id, status, trigger_type, schedule_id, trigger_data FROM executions "
                "ORDER BY (trigger_data->>'attempt')::int NULLS FIRST"
            )
        ).all()
    assert [row.id for row in rows] == [first, *retries]
    assert {row.status for row in rows} == {"failed"}  # every attempt was lost
    return rows[1:]


@pytest.mark.parametrize("count", [0, 2])
def test_recovery_retries_a_lost_schedule_run_as_often_as_set(
    db, user_id, orders, capsys, count
) -> None:
    from glyphic_desktop.agent.scheduler import fire_due_schedules

    code, _, err = schedule(capsys, "add", "Orders", "--cron", "@hourly", "--name", "hourly")
    assert code == 0, err
    code, _, err = schedule(capsys, "set", "hourly", "--retry-lost-runs", str(count))
    assert code == 0, err
    item = schedules(capsys)["hourly"]
    assert item["retry_lost_runs"] == count
    # the agent's scheduler fires it: the execution is a real scheduled run
    (fired,) = fire_due_schedules(db, agent="test", now=datetime.fromisoformat(item["next_run_at"]))
    retries = lose_every_attempt(db, fired)
    assert len(retries) == count
    assert [row.trigger_data["attempt"] for row in retries] == list(range(2, count + 2))
    assert all(str(row.schedule_id) == item["id"] for row in retries)


@pytest.mark.parametrize("count", [0, 2])
def test_recovery_retries_a_lost_webhook_run_as_often_as_set(
    db, user_id, orders, capsys, count
) -> None:
    code, _, err = webhook(
        capsys, "add", "Orders", "--path", "orders/in", "--retry-lost-runs", str(count)
    )
    assert code == 0, err
    hook = listed(capsys)["orders/in"]
    assert hook["retry_lost_runs"] == count
    # what the listener stores for an accepted request (agent/webhooks.py _trigger_json)
    with db.session() as session:
        first = ExecutionRepository(session, user_id).create_pending(
            orders,
            trigger_type="webhook",
            trigger_data={"webhook_id": hook["id"], "path": "orders/in", "method": "POST"},
            input_data={"n": 1},
        )
    retries = lose_every_attempt(db, first)
    assert len(retries) == count
    assert [row.trigger_data["attempt"] for row in retries] == list(range(2, count + 2))
    assert all(row.trigger_type == "webhook" for row in retries)
    assert all(row.trigger_data["webhook_id"] == hook["id"] for row in retries)
