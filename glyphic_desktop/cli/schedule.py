"""`glyphic schedule`: list, add, change, pause, resume, remove schedules and show their
next runs.

    glyphic schedule list [--json]
    glyphic schedule add WORKFLOW --cron EXPR [--timezone TZ] [--name NAME]
                         [--misfire once|skip|all] [--max-catchup N]
                         [--overlap allow|skip|queue] [--input JSON]
                         [--retry-lost-runs N]
    glyphic schedule set ID --retry-lost-runs N
    glyphic schedule pause ID
    glyphic schedule resume ID
    glyphic schedule remove ID
    glyphic schedule next ID [--count N] [--json]

WORKFLOW is a workflow name or id; ID is a schedule id (or its name when only one
schedule has it). Times are shown in the schedule's timezone. The tray agent
(``glyphic agent``) is what fires them. ``--retry-lost-runs N`` (0 to 10, default 1) is
how many times a run lost to a process that died or stopped is queued again.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from glyphic_desktop.cli.common import add_retry_lost_runs_option, print_usage, user_session
from glyphic_desktop.errors import UsageError
from glyphic_desktop.store.policies import (
    DEFAULT_RETRY_LOST_RUNS,
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    describe_retry_lost_runs,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `schedule` command and its sub-commands."""
    parser = subparsers.add_parser(
        "schedule",
        help="list, add, pause, resume and remove schedules; show their next runs",
        description="Cron schedules that the tray agent fires (cron in an IANA timezone).",
    )
    parser.set_defaults(handler=lambda args: print_usage(parser))
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")

    listing = sub.add_parser("list", help="list schedules with their next and last runs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    add = sub.add_parser("add", help="schedule a workflow")
    add.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name or id")
    add.add_argument(
        "--cron",
        required=True,
        metavar="EXPR",
        help="cron expression: 5 fields (minute hour day-of-month month day-of-week) or @daily…",
    )
    add.add_argument(
        "--timezone", default="UTC", metavar="TZ", help="IANA timezone, e.g. Europe/Berlin (UTC)"
    )
    add.add_argument("--name", metavar="NAME", help="a name for it (default: the workflow's)")
    add.add_argument(
        "--misfire",
        choices=MISFIRE_POLICIES,
        default="once",
        help="after downtime: run once for what was missed (default), skip it, or run all",
    )
    add.add_argument(
        "--max-catchup",
        type=int,
        metavar="N",
        help="with --misfire all: run at most N missed times (default: up to 1000)",
    )
    add.add_argument(
        "--overlap",
        choices=OVERLAP_POLICIES,
        default="skip",
        help="while a run is still going: skip this one (default), allow a second, or queue it",
    )
    add.add_argument("--input", metavar="JSON", help="input data of each run, a JSON object")
    add_retry_lost_runs_option(add, "schedule", default=DEFAULT_RETRY_LOST_RUNS)
    add.set_defaults(handler=cmd_add)

    change = sub.add_parser("set", help="change a schedule's retries of lost runs")
    change.add_argument("id", metavar="ID", help="the schedule's id (or unique name)")
    add_retry_lost_runs_option(change, "schedule")
    change.set_defaults(handler=cmd_set)

    for verb, text in (
        ("pause", "stop a schedule firing"),
        ("resume", "fire a paused schedule again (from now on)"),
        ("remove", "delete a schedule (its past runs stay)"),
    ):
        command = sub.add_parser(verb, help=text)
        command.add_argument("id", metavar="ID", help="the schedule's id (or unique name)")
        command.set_defaults(handler=_COMMANDS[verb])

    upcoming = sub.add_parser("next", help="show the next fire times of a schedule")
    upcoming.add_argument("id", metavar="ID", help="the schedule's id (or unique name)")
    upcoming.add_argument("--count", type=int, default=5, metavar="N", help="how many (5)")
    upcoming.add_argument("--json", action="store_true", help="print JSON (UTC ISO times)")
    upcoming.set_defaults(handler=cmd_next)


# -- helpers -------------------------------------------------------------------------------


def _parse_input(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"--input is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--input must be a JSON object, not {type(data).__name__}")
    return data


def _local(when: datetime | None, timezone: str) -> str:
    """A time in the schedule's timezone, ``2026-03-29 03:00 CEST``; ``-`` for none."""
    if when is None:
        return "-"
    from glyphic_desktop.agent.cron import load_timezone

    try:
        local = when.astimezone(load_timezone(timezone))
    except UsageError:
        local = when
    return local.strftime("%Y-%m-%d %H:%M %Z")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _state(item: Any) -> str:
    if not item.is_active:
        return "paused"
    if not item.workflow_active:
        return "wf-off"
    return "active"


# -- commands ------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """List schedules: id, name, workflow, cron, timezone, next / last run, runs, state and
    retries of lost runs."""
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    with user_session() as (session, user_id):
        items = ScheduleRepository(session, user_id).list()
    if args.json:
        rows = [
            {
                "id": str(item.id),
                "name": item.name,
                "workflow_id": str(item.workflow_id),
                "workflow": item.workflow_name,
                "cron": item.cron_expression,
                "timezone": item.timezone,
                "active": item.is_active,
                "workflow_active": item.workflow_active,
                "next_run_at": _iso(item.next_run_at),
                "last_run_at": _iso(item.last_run_at),
                "run_count": item.run_count,
                "misfire": item.misfire_policy,
                "max_catchup": item.max_catchup,
                "overlap": item.overlap_policy,
                "retry_lost_runs": item.retry_lost_runs,
            }
            for item in items
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not items:
        print("no schedules (add one with 'glyphic schedule add WORKFLOW --cron EXPR')")
        return 0
    header = (
        "ID",
        "NAME",
        "WORKFLOW",
        "CRON",
        "TIMEZONE",
        "NEXT RUN",
        "LAST RUN",
        "RUNS",
        "STATE",
        "RETRIES",
    )
    table = [header] + [
        (
            str(item.id),
            item.name,
            item.workflow_name,
            item.cron_expression,
            item.timezone,
            _local(item.next_run_at, item.timezone),
            _local(item.last_run_at, item.timezone),
            str(item.run_count),
            _state(item),
            str(item.retry_lost_runs),
        )
        for item in items
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Schedule a workflow (by name or id)."""
    from glyphic_desktop.agent.cron import load_timezone, validate_cron
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository, validate_policies
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    # every argument is checked before the database is opened
    input_data = _parse_input(args.input)
    validate_cron(args.cron)
    load_timezone(args.timezone)
    validate_policies(args.misfire, args.max_catchup, args.overlap)
    with user_session() as (session, user_id):
        workflow = WorkflowRepository(session, user_id).resolve(args.workflow)
        record = ScheduleRepository(session, user_id).create(
            workflow.id,
            args.name,
            args.cron,
            timezone=args.timezone,
            input_data=input_data,
            misfire_policy=args.misfire,
            max_catchup=args.max_catchup,
            overlap_policy=args.overlap,
            retry_lost_runs=args.retry_lost_runs,
        )
    note = "" if record.workflow_active else " (the workflow is inactive: it fires once enabled)"
    print(
        f"added {record.describe()} (id {record.id}): '{record.cron_expression}' "
        f"in {record.timezone}, next run {_local(record.next_run_at, record.timezone)}{note}"
    )
    print(f"  {describe_retry_lost_runs(record.retry_lost_runs)}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    """Change a schedule's retries of lost runs."""
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    if args.retry_lost_runs is None:
        raise UsageError(
            "schedule set: give --retry-lost-runs N (see 'glyphic schedule set --help')"
        )
    with user_session() as (session, user_id):
        repo = ScheduleRepository(session, user_id)
        record = repo.set_retry_lost_runs(repo.resolve(args.id).id, args.retry_lost_runs)
    print(
        f"{record.describe()} (id {record.id}): {describe_retry_lost_runs(record.retry_lost_runs)}"
    )
    return 0


def _change(args: argparse.Namespace, change: str) -> Any:
    """Apply ``ScheduleRepository.<change>`` to the schedule ``args.id`` names; its record."""
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    with user_session() as (session, user_id):
        repo = ScheduleRepository(session, user_id)
        return getattr(repo, change)(repo.resolve(args.id).id)


def cmd_pause(args: argparse.Namespace) -> int:
    """Stop a schedule firing."""
    record = _change(args, "pause")
    print(f"paused {record.describe()} (id {record.id})")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Fire a paused schedule again from now on."""
    record = _change(args, "resume")
    print(
        f"resumed {record.describe()} (id {record.id}): "
        f"next run {_local(record.next_run_at, record.timezone)}"
    )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a schedule."""
    record = _change(args, "remove")
    print(f"removed {record.describe()} (id {record.id})")
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    """Print the next fire times of a schedule, in its timezone (and UTC)."""
    from glyphic_desktop.store.repositories.schedules import MAX_NEXT_RUNS, ScheduleRepository

    if not 1 <= args.count <= MAX_NEXT_RUNS:
        raise UsageError(f"--count must be between 1 and {MAX_NEXT_RUNS}, not {args.count}")
    with user_session() as (session, user_id):
        repo = ScheduleRepository(session, user_id)
        record = repo.resolve(args.id)
        times = repo.next_runs(record, args.count)
    if args.json:
        print(json.dumps([t.isoformat() for t in times]))
        return 0
    if not record.is_active:
        print(f"{record.describe()} is paused; if resumed now it would fire at:")
    for when in times:
        print(f"{_local(when, record.timezone)}  ({when.strftime('%Y-%m-%d %H:%M')} UTC)")
    return 0


_COMMANDS = {"pause": cmd_pause, "resume": cmd_resume, "remove": cmd_remove}
