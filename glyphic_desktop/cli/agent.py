"""`glyphic agent [--headless] [--name NAME] [--concurrency N] [--webhook-port PORT] [--once]`.

Runs the agent (:mod:`glyphic_desktop.agent.service`): queued executions, schedules and,
with ``--webhook-port``, webhooks, until SIGINT or SIGTERM: a clean stop claims nothing
more, hands claimed-but-unstarted runs back to the queue, lets running ones finish for
``--stop-grace`` seconds (default 30, ``GLYPHIC_STOP_GRACE``), then cancels them (a
schedule or webhook run is queued again, within its attempts); exit 0. A second signal
exits 130 at once (its runs are failed, and retried, by a live agent within 30 s).
``glyphic db stop --force`` stops the agent the same way as a first signal.
``--once`` fires what is due, runs what is pending now and exits (for cron and tests);
it prints one summary line and exits 0 however the runs ended.

Logs go to stderr and to ``agent.log`` in the log directory. Without ``--headless``,
on a desktop with a system tray, the agent runs on Qt's loop with a tray icon
(:mod:`glyphic_desktop.ui.tray`); where there is no display or no tray it runs headless
and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glyphic_desktop.agent import DEFAULT_CONCURRENCY

if TYPE_CHECKING:
    import asyncio

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE = "agent.log"

log = logging.getLogger(__name__)


def _positive_int(what: str, highest: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number, not {text!r}"
            ) from None
        if value < 1 or (highest is not None and value > highest):
            limit = f"between 1 and {highest}" if highest else "at least 1"
            raise argparse.ArgumentTypeError(f"{what} must be {limit}, not {value}")
        return value

    return parse


def _seconds(what: str) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a number of seconds, not {text!r}"
            ) from None
        if not 0 <= value <= 86400:
            raise argparse.ArgumentTypeError(f"{what} must be between 0 and 86400, not {text}")
        return value

    return parse


def _name(text: str) -> str:
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("the agent name must not be empty")
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `agent` command."""
    parser = subparsers.add_parser(
        "agent",
        help="run the agent: queued runs, schedules, webhooks",
        description="Run the agent: it runs queued executions (the editor's 'run in "
        "background', webhooks, schedules), fires schedules and, with --webhook-port, "
        "serves webhooks, until SIGINT/SIGTERM. Logs go to stderr and agent.log in the "
        "log directory.",
    )
    parser.add_argument(
        "--headless", action="store_true", help="no tray icon, no Qt (servers, services)"
    )
    parser.add_argument(
        "--name",
        type=_name,
        metavar="NAME",
        help="the agent's name in executions.claimed_by (default hostname:pid)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int("--concurrency"),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"at most N executions running their nodes at a time (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--webhook-port",
        type=_positive_int("--webhook-port", 65535),
        metavar="PORT",
        help="serve webhooks on 127.0.0.1:PORT",
    )
    parser.add_argument(
        "--stop-grace",
        type=_seconds("--stop-grace"),
        metavar="SECONDS",
        help="on SIGTERM, how long running executions may finish before they are "
        "cancelled (default 30, or GLYPHIC_STOP_GRACE)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="fire due schedules, run what is pending now, then exit",
    )
    parser.add_argument(
        "--run-log-level",
        choices=("debug", "info", "warn", "error"),
        default="info",
        help="which node log lines of background runs go to the agent log (default info; "
        "debug adds node starts and skips)",
    )
    parser.set_defaults(handler=agent_command)
    verbs = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")
    status = verbs.add_parser(
        "status",
        help="list the live agents (and other processes running executions)",
        description="List the processes registered as running executions (agents, editor "
        "windows, glyphic run) whose heartbeat is fresh: host, pid, since when, runs in "
        "flight. Exit 0 (also when none is alive).",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--all", action="store_true", help="also processes whose heartbeat stopped (dead)"
    )
    status.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    """`glyphic agent status`: registered processes with host, pid, since, runs in flight."""
    import json

    from sqlalchemy import text

    from glyphic_desktop.agent.processes import list_processes, stale_after
    from glyphic_desktop.store.database import open_database

    db = open_database()
    try:
        processes = list_processes(db)
        with db.session() as session:
            flights = dict(
                session.execute(
                    text(
                        "SELECT process_id, count(*) FROM executions "
                        "WHERE process_id IS NOT NULL AND status IN ('pending', 'running') "
                        "GROUP BY process_id"
                    )
                ).all()
            )
    finally:
        db.dispose()
    limit = stale_after()
    rows = [p for p in processes if args.all or p.age < limit]
    rows.sort(key=lambda p: (p.kind != "agent", p.started_at))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "kind": p.kind,
                        "name": p.name,
                        "host": p.host,
                        "pid": p.pid,
                        "since": p.started_at.isoformat(),
                        "heartbeat_age_s": round(p.age, 1),
                        "alive": p.age < limit,
                        "runs_in_flight": int(flights.get(p.id, 0)),
                    }
                    for p in rows
                ],
                indent=2,
            )
        )
        return 0
    agents = sum(1 for p in rows if p.kind == "agent" and p.age < limit)
    if not rows:
        print("no agent is running ('glyphic agent' starts one)")
        return 0
    from glyphic_desktop.cli.common import print_table, when

    print_table(
        ("KIND", "NAME", "HOST", "PID", "SINCE", "HEARTBEAT", "RUNS"),
        (
            (
                p.kind if p.age < limit else f"{p.kind} (dead)",
                p.name,
                p.host,
                p.pid,
                when(p.started_at),
                f"{p.age:.0f} s ago",
                int(flights.get(p.id, 0)),
            )
            for p in rows
        ),
    )
    if not agents:
        print("no agent is running ('glyphic agent' starts one)")
    return 0


def _tray_available() -> bool:
    """Whether a tray icon can show: a display Qt can open, with a system tray.

    Checked without touching Qt when there is plainly no display (a server, a service),
    where creating a QApplication would abort the process.
    """
    import os

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal") or (
        sys.platform.startswith("linux")
        and not platform
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        return False
    try:
        from glyphic_desktop.ui.app import ensure_application
        from glyphic_desktop.ui.tray import tray_available

        ensure_application()
        return tray_available()
    except Exception:  # no usable Qt here: run headless
        return False


class _AgentLogging:
    """Agent log lines on stderr and in the log directory's agent.log (undone on exit)."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("glyphic_desktop")
        self.handlers: list[logging.Handler] = []
        self.saved: tuple[int, bool] = (self.logger.level, self.logger.propagate)
        self.path: Path | None = None

    def __enter__(self) -> _AgentLogging:
        from glyphic_desktop.paths import ensure_dir, log_dir, private_log_handler

        formatter = logging.Formatter(LOG_FORMAT)
        stderr = logging.StreamHandler(sys.stderr)
        self.handlers.append(stderr)
        try:
            self.path = ensure_dir(log_dir()) / LOG_FILE
            self.handlers.append(
                private_log_handler(self.path, max_bytes=5_000_000, backups=3)  # 0600 files
            )
        except OSError as exc:
            print(f"glyphic: cannot write the agent log file: {exc}", file=sys.stderr)
            self.path = None
        for handler in self.handlers:
            handler.setFormatter(formatter)
            self.logger.addHandler(handler)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False  # the root handler of main() would print twice
        return self

    def __exit__(self, *exc: Any) -> None:
        for handler in self.handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    """SIGINT/SIGTERM set ``stop``; a second one interrupts at once. Returns what was installed."""
    if threading.current_thread() is not threading.main_thread():
        return []
    installed = []

    def handle(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting at once", signal.Signals(signum).name)
            for handler in logging.getLogger("glyphic_desktop").handlers:
                with contextlib.suppress(Exception):
                    handler.flush()
            print("glyphic: interrupted", file=sys.stderr, flush=True)
            os._exit(130)
        log.info(
            "%s: stopping (claiming nothing more; running executions may finish)",
            signal.Signals(signum).name,
        )
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, handle, signum)
        except (NotImplementedError, RuntimeError):  # not on this platform / loop
            continue
        installed.append(signum)
    return installed


async def _main(agent: Any, once: bool) -> int | None:
    import asyncio

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = _install_signals(loop, stop)
    try:
        if once:
            return await agent.run_once(stop)
        await agent.run(stop)
        return None
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def agent_command(args: argparse.Namespace) -> int:
    """Handler of `glyphic agent`."""
    import asyncio

    from glyphic_desktop.agent.run_log import set_run_log_level
    from glyphic_desktop.agent.service import Agent
    from glyphic_desktop.store.database import open_database

    with _AgentLogging() as logs:
        set_run_log_level(args.run_log_level)
        tray = not args.headless and not args.once and _tray_available()
        if not args.headless and not args.once and not tray:
            print(
                "glyphic agent: no system tray on this display; running headless"
                + (f" (log: {logs.path})" if logs.path else ""),
                file=sys.stderr,
            )
        db = open_database()
        try:
            agent = Agent(
                db,
                name=args.name,
                webhook_port=args.webhook_port,
                concurrency=args.concurrency,
                stop_grace=args.stop_grace,
                settle_heap=True,  # this process is the agent's: its heap is ours to freeze
            )
            if tray:
                from glyphic_desktop.store.repositories.users import current_user_id
                from glyphic_desktop.ui.tray import run_tray_agent

                run_tray_agent(agent, db, current_user_id(db))
                return 0
            try:
                started = asyncio.run(_main(agent, args.once))
            except asyncio.CancelledError:  # a second signal
                print("glyphic: interrupted", file=sys.stderr)
                return 130
            if agent.stop_requested:
                print(f"agent {agent.name}: stopped by glyphic db stop --force", file=sys.stderr)
            if args.once:
                outcomes = agent.runner.outcomes
                detail = ", ".join(
                    f"{count} {status}" for status, count in sorted(outcomes.items())
                )
                print(
                    f"agent {agent.name}: ran {started} execution(s)"
                    + (f" ({detail})" if detail else "")
                )
            return 0
        finally:
            db.dispose()
