"""`glyphic doctor [--json]`: what a bug report needs, and whether anything is wrong.

Checks, in order: versions (Glyphic, Python, PySide6 / Qt read from the package
metadata without importing Qt, the PostgreSQL server's), data paths, the database
(embedded and running or stopped, or the external URL with its password hidden;
reachable or not), the migration state, where the secret key comes from, the Qt
platform plugin's system libraries (``platform_check.py``, with the ``apt-get`` line)
and the live agents. Each check is ``ok``, ``note`` (worth knowing, not wrong) or
``problem``. Doctor never starts the embedded server and never fails on an unreachable
database: it reports it.

Exit codes: 0 when no check found a problem, 1 when one did (2 for bad usage).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, NOTE, PROBLEM = "ok", "note", "problem"


@dataclass
class Check:
    """One line of the report: what was checked, how it went, and the details."""

    name: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `doctor` command."""
    parser = subparsers.add_parser(
        "doctor",
        help="check the installation: versions, paths, database, migrations, key, Qt, agents",
        description="Check this installation and print what a bug report needs. Exit 0 when "
        "every check is fine, 1 when one found a problem. Never starts the embedded server.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=doctor_command)


def _distribution_version(*names: str) -> str | None:
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_versions() -> Check:
    """Glyphic, Python and PySide6 / Qt (from package metadata: Qt is not imported)."""
    import platform

    from glyphic_desktop import __version__

    pyside = _distribution_version("PySide6", "PySide6_Essentials", "PySide6-Essentials")
    details = {
        "glyphic": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pyside6": pyside,
        "qt": pyside,  # PySide6 releases carry the Qt version they are built on
    }
    summary = f"Glyphic {__version__}, Python {details['python']}, "
    if pyside is None:
        return Check("versions", PROBLEM, summary + "PySide6 is not installed", details)
    return Check("versions", OK, summary + f"PySide6 {pyside} (Qt {pyside})", details)


def check_paths() -> Check:
    """Where Glyphic keeps its data, configuration, logs, files and migrations."""
    from glyphic_desktop import paths

    details: dict[str, str] = {}
    for name in ("data_dir", "config_dir", "log_dir", "files_dir", "schema_dir", "resources_dir"):
        try:
            details[name.removesuffix("_dir")] = str(getattr(paths, name)())
        except Exception as exc:  # a path that cannot be worked out is itself the finding
            return Check("paths", PROBLEM, f"{name}: {exc}", details)
    return Check("paths", OK, f"data {details['data']}, config {details['config']}", details)


def _database() -> tuple[Check, Any]:
    """The database check, and an open Database when it is reachable (else None)."""
    from glyphic_desktop.errors import GlyphicError
    from glyphic_desktop.store.database import Database, describe_url, external_database_url

    external = external_database_url()
    details: dict[str, Any] = {}
    if external:
        details.update(kind="external", url=describe_url(external))
        url = external
        where = f"external {details['url']}"
    else:
        from glyphic_desktop.store.embedded import default_server

        try:
            server = default_server()
            running = server.is_running()
        except GlyphicError as exc:
            details.update(kind="embedded")
            return Check("database", PROBLEM, f"embedded: {exc.message}", details), None
        details.update(
            kind="embedded",
            root=str(server.server_dir),
            state="running" if running else "stopped",
            url=describe_url(server.url()),
        )
        if not running:
            summary = f"embedded under {server.server_dir}: stopped (it starts on first use)"
            return Check("database", NOTE, summary, details), None
        url = server.url()
        where = f"embedded under {server.server_dir}, running"
    db = Database(url, embedded=False)
    try:
        db.check()
        from sqlalchemy import text

        with db.engine.connect() as conn:
            details["server_version"] = conn.execute(text("SHOW server_version")).scalar()
    except GlyphicError as exc:
        db.dispose()
        details["reachable"] = False
        return Check("database", PROBLEM, f"{where}: unreachable ({exc.message})", details), None
    except Exception as exc:
        db.dispose()
        details["reachable"] = False
        summary = f"{where}: unreachable ({_one_line(exc)})"
        return Check("database", PROBLEM, summary, details), None
    details["reachable"] = True
    summary = f"{where}; PostgreSQL {details['server_version']}"
    return Check("database", OK, summary, details), db


def check_migrations(db: Any) -> Check:
    """Applied / pending / changed / unknown migration files."""
    if db is None:
        return Check("migrations", NOTE, "not checked (no database to ask)")
    from glyphic_desktop.store.migrations import status

    try:
        rows = status(db.engine)
    except Exception as exc:
        return Check("migrations", PROBLEM, f"cannot read them: {_one_line(exc)}")
    counts: dict[str, list[str]] = {}
    for row in rows:
        counts.setdefault(row.state, []).append(row.filename)
    details = {state: files for state, files in counts.items()}
    summary = ", ".join(f"{len(files)} {state}" for state, files in counts.items()) or "none"
    if "changed" in counts:
        return Check(
            "migrations",
            PROBLEM,
            summary + f"; changed after being applied: {', '.join(counts['changed'])}",
            details,
        )
    if "pending" in counts:
        return Check(
            "migrations",
            NOTE,
            summary + " (applied by the next command that opens the database, or "
            "'glyphic db upgrade')",
            details,
        )
    if "unknown" in counts:
        return Check("migrations", NOTE, summary + " (applied by a newer Glyphic)", details)
    return Check("migrations", OK, summary, details)


def check_key() -> Check:
    """Where the credential key comes from (never creates one)."""
    from glyphic_desktop.errors import GlyphicError
    from glyphic_desktop.secrets.keys import load_keyset

    try:
        keyset = load_keyset(create=False)
    except GlyphicError as exc:
        return Check("key", PROBLEM, exc.message)
    except Exception as exc:
        return Check("key", PROBLEM, f"cannot read the key: {exc}")
    if keyset is None:
        return Check("key", NOTE, "no key yet (made with the first credential or webhook)")
    details = {"source": keyset.source, "keys": len(keyset.ids), "notes": list(keyset.notes)}
    summary = f"from {keyset.describe_source()} ({len(keyset.ids)} key(s))"
    if keyset.notes:
        summary += "; " + "; ".join(keyset.notes)
    return Check("key", OK, summary, details)


def check_qt_platform(plugins_dir: Path | None = None) -> Check:
    """Can Qt's platform plugin load here (its system libraries), with the apt-get line.

    ``plugins_dir`` replaces PySide6's plugin directory (tests)."""
    import os

    from glyphic_desktop.platform_check import check_platform, display_available

    name = os.environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0] or "xcb"
    report = check_platform(name, plugins_dir=plugins_dir)
    details = {
        "platform": report.platform,
        "plugin": str(report.plugin) if report.plugin else None,
        "missing": list(report.missing),
        "packages": report.packages,
        "display": display_available(name),
    }
    if not report.ok:
        return Check("qt_platform", PROBLEM, report.hint(), details)
    summary = report.hint()
    if not details["display"]:
        summary += " (no display here: the editor needs one; the agent runs headless)"
        return Check("qt_platform", NOTE, summary, details)
    return Check("qt_platform", OK, summary, details)


def _one_line(exc: BaseException) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_agents(db: Any) -> Check:
    """The live processes of the registry (agents first); a note when no agent runs."""
    if db is None:
        return Check("agents", NOTE, "not checked (no database to ask)")
    from glyphic_desktop.agent.processes import live_processes

    try:
        live = live_processes(db)
    except Exception as exc:
        if "run_processes" in str(exc) and "does not exist" in str(exc):
            return Check("agents", NOTE, "not checked (the schema is not up to date)")
        return Check("agents", PROBLEM, f"cannot list them: {_one_line(exc)}")
    rows = [
        {"kind": p.kind, "name": p.name, "host": p.host, "pid": p.pid, "since": p.started_at}
        for p in live
    ]
    details = {"processes": [{**row, "since": row["since"].isoformat()} for row in rows]}
    agents = [p for p in live if p.kind == "agent"]
    if not agents:
        others = f" ({len(live)} other process(es) run executions)" if live else ""
        return Check(
            "agents",
            NOTE,
            "no agent is running: schedules and webhooks wait for one ('glyphic agent')" + others,
            details,
        )
    names = ", ".join(f"{p.name} (pid {p.pid} on {p.host})" for p in agents)
    return Check("agents", OK, f"{len(agents)} alive: {names}", details)


def run_checks() -> list[Check]:
    """Every check, in report order (the database is opened once and closed after)."""
    checks = [check_versions(), check_paths()]
    database, db = _database()
    checks.append(database)
    try:
        migrations = check_migrations(db)
        checks.append(migrations)
        checks.append(check_key())
        checks.append(check_qt_platform())
        checks.append(check_agents(db))
    finally:
        if db is not None:
            db.dispose()
    return checks


_MARKS = {OK: "ok     ", NOTE: "note   ", PROBLEM: "PROBLEM"}


def doctor_command(args: argparse.Namespace) -> int:
    """Handler of `glyphic doctor`: 0 when nothing is wrong, 1 when a check found a problem."""
    checks = run_checks()
    problems = [check for check in checks if check.status == PROBLEM]
    if args.json:
        report = {
            "ok": not problems,
            "checks": [asdict(check) for check in checks],
        }
        print(json.dumps(report, indent=2, default=str))
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            print(f"{_MARKS[check.status]} {check.name:<{width}}  {check.summary}")
        if problems:
            print(f"{len(problems)} problem(s) found", file=sys.stderr)
    return 1 if problems else 0
