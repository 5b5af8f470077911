"""ScheduleRepository against a real migrated database: create, list, pause, resume, remove."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from glyphic_desktop.agent.cron import InvalidCronError, UnknownTimezoneError
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import NotFoundError, UsageError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import User
from glyphic_desktop.store.repositories.schedules import ScheduleRecord, ScheduleRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

NOW = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)


def _doc() -> WorkflowDocument:
    return WorkflowDocument.model_validate(
        {"nodes": [{"id": "1", "type": "manual_trigger", "data": {"label": "Start"}}]}
    )


def _user(db: Database, email: str) -> uuid.UUID:
    with db.session() as session:
        user = User(email=email, name=email.split("@")[0])
        session.add(user)
        session.flush()
        return user.id


def _workflow(db: Database, user_id: uuid.UUID, name: str, active: bool = True) -> uuid.UUID:
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, _doc(), is_active=active).id


@pytest.fixture
def alice(db: Database) -> uuid.UUID:
    return _user(db, "alice@example.org")


@pytest.fixture
def bob(db: Database) -> uuid.UUID:
    return _user(db, "bob@example.org")


@pytest.fixture
def report(db: Database, alice: uuid.UUID) -> uuid.UUID:
    return _workflow(db, alice, "Daily report")


def _create(db: Database, user_id: uuid.UUID, workflow_id: uuid.UUID, **kwargs) -> ScheduleRecord:
    kwargs.setdefault("now", NOW)
    name = kwargs.pop("name", "every quarter")
    cron = kwargs.pop("cron", "*/15 * * * *")
    with db.session() as session:
        return ScheduleRepository(session, user_id).create(workflow_id, name, cron, **kwargs)


def test_create_stores_everything_and_the_next_run(db, alice, report) -> None:
    record = _create(
        db,
        alice,
        report,
        cron="30 2 * * *",
        name="  nightly  ",
        timezone="Europe/Berlin",
        input_data={"limit": 3, "who": "Zoë"},
        misfire_policy="all",
        max_catchup=4,
        overlap_policy="queue",
    )
    assert record.name == "nightly"
    assert record.workflow_id == report and record.workflow_name == "Daily report"
    assert record.cron_expression == "30 2 * * *"
    assert record.timezone == "Europe/Berlin"
    assert record.input_data == {"limit": 3, "who": "Zoë"}
    assert (record.misfire_policy, record.max_catchup, record.overlap_policy) == ("all", 4, "queue")
    assert record.is_active and record.workflow_active
    # 02:30 CEST on 2026-05-02 is 00:30 UTC
    assert record.next_run_at == datetime(2026, 5, 2, 0, 30, tzinfo=UTC)
    assert record.last_run_at is None and record.run_count == 0
    with db.session() as session:
        assert ScheduleRepository(session, alice).get(record.id) == record


def test_defaults(db, alice, report) -> None:
    with db.session() as session:
        record = ScheduleRepository(session, alice).create(report, None, "0 * * * *", now=NOW)
    assert record.name == "Daily report"  # the workflow's name
    assert record.timezone == "UTC"
    assert (record.misfire_policy, record.max_catchup, record.overlap_policy) == (
        "once",
        None,
        "skip",
    )
    assert record.input_data is None
    assert record.next_run_at == datetime(2026, 5, 1, 11, tzinfo=UTC)


def test_list_has_workflow_names_and_is_ordered_by_next_run(db, alice, report) -> None:
    other = _workflow(db, alice, "Backup", active=False)
    hourly = _create(db, alice, report, name="hourly", cron="0 * * * *")
    quarter = _create(db, alice, other, name="quarter", cron="*/15 * * * *")
    paused = _create(db, alice, report, name="paused one", cron="*/5 * * * *")
    with db.session() as session:
        repo = ScheduleRepository(session, alice)
        repo.pause(paused.id)
        items = repo.list()
        only_backup = repo.list(workflow_id=other)
    assert [item.name for item in items] == ["quarter", "hourly", "paused one"]
    assert [item.workflow_name for item in items] == ["Backup", "Daily report", "Daily report"]
    assert [item.is_active for item in items] == [True, True, False]
    assert [item.workflow_active for item in items] == [False, True, True]
    assert items[0].next_run_at == datetime(2026, 5, 1, 10, 15, tzinfo=UTC)
    assert items[1].id == hourly.id and items[1].run_count == 0 and items[1].last_run_at is None
    assert [item.id for item in only_backup] == [quarter.id]


def test_pause_and_resume(db, alice, report) -> None:
    record = _create(db, alice, report, cron="0 * * * *")
    with db.session() as session:
        repo = ScheduleRepository(session, alice)
        paused = repo.pause(record.id)
        assert not paused.is_active and paused.next_run_at is None
        assert repo.pause(record.id) == paused  # twice is fine
        later = datetime(2026, 5, 3, 17, 20, tzinfo=UTC)
        resumed = repo.resume(record.id, now=later)
        # recomputed from now: the two days it was paused never fire
        assert resumed.is_active and resumed.next_run_at == datetime(2026, 5, 3, 18, tzinfo=UTC)
        # resuming an active schedule leaves it alone
        assert repo.resume(record.id, now=datetime(2026, 6, 1, tzinfo=UTC)) == resumed


def test_remove_keeps_past_executions(db, alice, report) -> None:
    record = _create(db, alice, report)
    with db.session() as session:
        session.execute(
            text(
                "INSERT INTO executions (workflow_id, user_id, status, schedule_id, scheduled_for)"
                " VALUES (:w, :u, 'completed', :s, :t)"
            ),
            {"w": report, "u": alice, "s": record.id, "t": NOW},
        )
    with db.session() as session:
        removed = ScheduleRepository(session, alice).remove(record.id)
    assert removed.id == record.id
    with db.session() as session:
        with pytest.raises(NotFoundError, match=f"no schedule with id {record.id}"):
            ScheduleRepository(session, alice).get(record.id)
        kept = session.execute(text("SELECT schedule_id FROM executions")).all()
    assert [row.schedule_id for row in kept] == [None]


def test_next_runs(db, alice, report) -> None:
    record = _create(db, alice, report, cron="30 2 * * *", timezone="Europe/Berlin")
    spring = datetime(2026, 3, 28, 12, tzinfo=UTC)
    with db.session() as session:
        repo = ScheduleRepository(session, alice)
        assert repo.next_runs(record, 3, now=spring) == [
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 03:00 CEST, right after the gap
            datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
            datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
        ]
        assert repo.next_runs(record.id, 1, now=spring) == [datetime(2026, 3, 29, 1, tzinfo=UTC)]
        repo.pause(record.id)
        assert len(repo.next_runs(str(record.id), 2, now=spring)) == 2  # paused: still answers
        for bad in (0, -1, 1001, True):
            with pytest.raises(UsageError, match="between 1 and 1000"):
                repo.next_runs(record, bad)


def test_resolve_by_id_or_unique_name(db, alice, report) -> None:
    first = _create(db, alice, report, name="twice")
    _create(db, alice, report, name="twice")
    once = _create(db, alice, report, name="once")
    with db.session() as session:
        repo = ScheduleRepository(session, alice)
        assert repo.resolve(str(first.id)).id == first.id
        assert repo.resolve(first.id).id == first.id
        assert repo.resolve("once").id == once.id
        with pytest.raises(UsageError, match="several schedules are named 'twice'"):
            repo.resolve("twice")
        with pytest.raises(NotFoundError, match="no schedule with id or name 'nothing'"):
            repo.resolve("nothing")
        with pytest.raises(NotFoundError, match="no schedule with id 'not-a-uuid'"):
            repo.get("not-a-uuid")


def test_scoped_to_the_user(db, alice, bob, report) -> None:
    record = _create(db, alice, report)
    with db.session() as session:
        repo = ScheduleRepository(session, bob)
        assert repo.list() == []
        for action in (repo.get, repo.pause, repo.resume, repo.remove):
            with pytest.raises(NotFoundError, match=f"no schedule with id {record.id}"):
                action(record.id)
        with pytest.raises(NotFoundError):
            repo.resolve(record.name)
        # bob cannot schedule alice's workflow
        with pytest.raises(NotFoundError, match=f"no workflow with id {report}"):
            repo.create(report, "mine", "0 * * * *")
    with db.session() as session:
        assert ScheduleRepository(session, alice).get(record.id).is_active


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cron": "* * *"}, InvalidCronError, r"^invalid cron expression '\* \* \*': expected 5"),
        ({"cron": "0 0 31 2 *"}, InvalidCronError, "never matches a date"),
        ({"timezone": "Mars/Base"}, UnknownTimezoneError, r"^unknown timezone 'Mars/Base'$"),
        ({"name": "   "}, UsageError, "^a schedule name must not be empty$"),
        ({"misfire_policy": "later"}, UsageError, "misfire policy must be one of once, skip, all"),
        ({"overlap_policy": "never"}, UsageError, "overlap policy must be one of allow, skip"),
        ({"misfire_policy": "all", "max_catchup": -1}, UsageError, "between 0 and 1000, not -1"),
        ({"misfire_policy": "all", "max_catchup": 5000}, UsageError, "between 0 and 1000"),
        ({"max_catchup": 3}, UsageError, "only applies with misfire policy 'all'"),
        ({"input_data": [1, 2]}, UsageError, "input data must be a JSON object, not list"),
        ({"input_data": {"x": float("nan")}}, UsageError, "cannot be stored as JSON"),
    ],
)
def test_bad_settings_are_refused_with_one_clear_line(
    db, alice, report, kwargs, error, message
) -> None:
    with pytest.raises(error, match=message) as info:
        _create(db, alice, report, **kwargs)
    assert "\n" not in info.value.message
    with db.session() as session:
        assert ScheduleRepository(session, alice).list() == []


def test_unknown_workflow(db, alice) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=f"no workflow with id {missing}"):
        _create(db, alice, missing)
    with pytest.raises(NotFoundError, match="no workflow with id 'nope'"):
        _create(db, alice, "nope")


def test_resume_of_a_schedule_whose_stored_cron_went_bad(db, alice, report) -> None:
    record = _create(db, alice, report)
    with db.session() as session:
        session.execute(
            text("UPDATE schedules SET cron_expression = 'bogus', is_active = false WHERE id = :i"),
            {"i": record.id},
        )
    with db.session() as session, pytest.raises(InvalidCronError, match="'bogus'"):
        ScheduleRepository(session, alice).resume(record.id)
