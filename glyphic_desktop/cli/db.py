"""`glyphic db`: schema migrations, where the database is, stopping the server, pruning runs."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from glyphic_desktop.cli.common import print_usage
from glyphic_desktop.errors import GlyphicError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(value: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` as a timedelta (argparse type)."""
    match = _DURATION.match(value or "")
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 30d, 12h, 2w, 90m or 45s, got {value!r}"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise argparse.ArgumentTypeError(f"the duration must be more than zero, got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `db` command and its subcommands."""
    parser = subparsers.add_parser(
        "db",
        help="the database: migrations, location, stop the embedded server, prune old runs",
        description="Manage Glyphic's PostgreSQL database (embedded, or GLYPHIC_DATABASE_URL).",
    )
    parser.set_defaults(handler=lambda args: print_usage(parser))
    commands = parser.add_subparsers(title="db commands", metavar="COMMAND")

    upgrade = commands.add_parser("upgrade", help="apply pending schema migrations")
    upgrade.set_defaults(handler=_upgrade)

    status = commands.add_parser("status", help="list applied and pending schema migrations")
    status.set_defaults(handler=_status)

    url = commands.add_parser("url", help="print where the database is (password masked)")
    url.set_defaults(handler=_url)

    stop = commands.add_parser(
        "stop",
        help="stop the embedded PostgreSQL server",
        description="Stop the embedded PostgreSQL server. While agents, editors or glyphic "
        "run hold it (running executions), it says which and stops nothing (exit 2) unless "
        "--force asks them to stop first.",
    )
    stop.add_argument(
        "--force",
        action="store_true",
        help="ask the processes holding the server to stop (agents exit, runs are "
        "cancelled), wait for them, then stop it",
    )
    stop.add_argument(
        "--wait",
        type=_positive_int,
        default=45,
        metavar="SECONDS",
        help="with --force, how long to wait for them to stop (default 45)",
    )
    stop.set_defaults(handler=_stop)

    prune = commands.add_parser(
        "prune",
        help="delete finished runs (and their logs) older than a given age",
        description="Delete finished executions older than --older-than, in small batches.",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        type=parse_duration,
        metavar="AGE",
        help="age like 30d, 12h, 2w, 90m or 45s",
    )
    prune.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="rows deleted per transaction (default 1000)",
    )
    prune.add_argument(
        "--all-users",
        action="store_true",
        help="prune every user's runs (shared server), not only yours",
    )
    prune.add_argument(
        "--files",
        action="store_true",
        help="also delete the files of deleted runs (kept until then; only files under "
        "the Glyphic files folder are removed from disk)",
    )
    prune.set_defaults(handler=_prune)


def _open(*, upgrade: bool = False):
    from glyphic_desktop.store.database import open_database

    return open_database(upgrade=upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from glyphic_desktop.store.migrations import discover, upgrade

    db = _open()
    try:
        applied = upgrade(db.engine)
    finally:
        db.dispose()
    for migration in applied:
        print(f"applied {migration.filename}")
    if not applied:
        print(f"schema is up to date ({len(discover())} migrations applied)")
    return 0


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _status(args: argparse.Namespace) -> int:
    from glyphic_desktop.store.database import describe_url
    from glyphic_desktop.store.migrations import status

    db = _open()
    try:
        rows = status(db.engine)
        where = describe_url(db.url)
    finally:
        db.dispose()
    print(f"database: {where}")
    width = max((len(r.filename) for r in rows), default=10)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
        line = f"{row.state:<8} {row.filename:<{width}}  {_when(row.applied_at)}".rstrip()
        if row.state == "changed":
            line += (
                f"  (file checksum {(row.checksum or '')[:12]}, "
                f"applied {(row.applied_checksum or '')[:12]})"
            )
        elif row.state == "unknown":
            line += "  (applied by a newer Glyphic; no such file here)"
        print(line)
    summary = ", ".join(
        f"{counts[state]} {state}"
        for state in ("applied", "pending", "changed", "unknown")
        if state in counts
    )
    print(summary or "no migrations")
    if "changed" in counts:
        raise GlyphicError(
            "an applied migration file was changed; restore it or add a new migration"
        )
    return 0


def _url(args: argparse.Namespace) -> int:
    import sys

    from glyphic_desktop.store.database import describe_url, external_database_url

    external = external_database_url()
    if external:
        print(describe_url(external))
        return 0
    from glyphic_desktop.store.embedded import default_server

    server = default_server()
    print(describe_url(server.url()))
    state = "running" if server.is_running() else "not running; it starts on first use"
    print(f"embedded PostgreSQL under {server.root} ({state})", file=sys.stderr)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from glyphic_desktop.store.database import DATABASE_URL_ENV, external_database_url

    if external_database_url():
        print(f"{DATABASE_URL_ENV} is set: the database is an external server, nothing to stop")
        return 0
    from glyphic_desktop.store.embedded import default_server

    server = default_server()
    if not server.is_running():
        print("embedded PostgreSQL was not running")
        return 0
    holders = _holders(server)
    if holders and not args.force:
        print(f"embedded PostgreSQL is in use by {_count(len(holders), 'process', 'es')}:")
        for each in holders:
            print(f"  {each.describe()}")
        print("stop them first, or run 'glyphic db stop --force' (asks them to stop)")
        return 2
    if holders:
        _ask_to_stop(server, holders, args.wait)
    if server.stop():
        print("embedded PostgreSQL stopped")
    else:
        print("embedded PostgreSQL was not running")
    return 0


def _count(number: int, noun: str, plural: str = "s") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}{plural}"


def _holders(server):
    """The live registered processes (agents, editors, glyphic run) on the server."""
    from glyphic_desktop.agent.processes import live_processes
    from glyphic_desktop.store.database import Database

    db = Database(server.url())  # not embedded=True: never start it again from here
    try:
        return live_processes(db)
    except Exception:  # no run_processes table yet (an older schema): nobody registered
        return []
    finally:
        db.dispose()


def _ask_to_stop(server, holders, wait: int) -> None:
    """Flag and NOTIFY ``holders``; wait up to ``wait`` seconds for their rows to go."""
    import time

    from glyphic_desktop.agent.processes import live_processes, request_stop
    from glyphic_desktop.store.database import Database

    db = Database(server.url())
    try:
        request_stop(db, [each.id for each in holders])
        print(f"asked {_count(len(holders), 'process', 'es')} to stop:")
        for each in holders:
            print(f"  {each.describe()}")
        asked = {each.id for each in holders}
        deadline = time.monotonic() + wait
        left = holders
        while time.monotonic() < deadline:
            left = [each for each in live_processes(db) if each.id in asked]
            if not left:
                print("they stopped")
                return
            time.sleep(0.2)
        print(
            f"still running after {wait} s: "
            + ", ".join(each.describe() for each in left)
            + "; stopping the server anyway"
        )
    finally:
        db.dispose()


def _prune(args: argparse.Namespace) -> int:
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.retention import prune_executions

    db = _open(upgrade=True)
    try:
        user_id = None if args.all_users else current_user_id(db)
        before = datetime.now(UTC) - args.older_than
        deleted = prune_executions(db, before, user_id=user_id, batch_size=args.batch_size)
        files = _prune_files(db, user_id, args.files)
    finally:
        db.dispose()
    noun = "execution" if deleted == 1 else "executions"
    print(f"pruned {deleted} finished {noun} created before {_when(before)}")
    for line in files:
        print(line)
    return 0


def _prune_files(db, user_id, delete: bool) -> list[str]:
    """What to say about the files of deleted runs (deleting them with ``--files``)."""
    from glyphic_desktop.store.repositories.files import count_orphan_files, prune_orphan_files

    if not delete:
        kept = count_orphan_files(db, user_id)
        if not kept:
            return []
        noun = "file" if kept == 1 else "files"
        return [f"kept {kept} {noun} of deleted runs (add --files to delete them)"]
    result = prune_orphan_files(db, user_id)
    lines = [f"deleted {result.rows} file records of deleted runs ({result.files_deleted} on disk)"]
    if result.kept_outside:
        lines.append(
            f"kept {len(result.kept_outside)} files outside {_files_root()} "
            f"(written there by a workflow), e.g. {result.kept_outside[0]}"
        )
    lines.extend(f"could not delete {error}" for error in result.errors)
    return lines


def _files_root() -> str:
    from glyphic_desktop.paths import files_dir

    return str(files_dir())
