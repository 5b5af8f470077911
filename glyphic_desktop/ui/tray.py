"""The tray agent: the headless :class:`~glyphic_desktop.agent.service.Agent` on Qt's event
loop (through qasync) with a tray icon.

The menu (DESIGN.md §7): open the editor, pause schedules, the next runs, recent failures,
quit. A run that fails shows a notification. Everything the agent does runs on the one
asyncio loop, which qasync drives from Qt's, so the agent's callbacks arrive on the GUI
thread and may touch widgets directly.

:func:`tray_available` says whether the desktop has a tray; ``glyphic agent`` runs
headless when it has none.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from glyphic_desktop.agent.queue import ClaimedExecution
from glyphic_desktop.agent.service import Agent
from glyphic_desktop.store.database import Database

NEXT_RUNS_SHOWN = 5
FAILURES_SHOWN = 5


def tray_available() -> bool:
    """Whether this desktop shows tray icons (needs a QApplication)."""
    return QSystemTrayIcon.isSystemTrayAvailable()


def open_editor() -> None:
    """Start the editor as a process of its own (it shares the database with the agent)."""
    subprocess.Popen([sys.executable, "-m", "glyphic_desktop.cli.main", "editor"])


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%a %d %b %H:%M")


def _short(text: str | None, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text and text.strip() else "no message"
    return line if len(line) <= limit else line[: limit - 1] + "…"


class TrayAgent(QObject):
    """The tray icon and menu over a running agent; the user's own schedules and runs."""

    notified = Signal(str, str)  # title, message of each notification shown
    outage = Signal(bool, str)  # database down?, the line shown (from any thread)

    def __init__(
        self,
        agent: Agent,
        db: Database,
        user_id: uuid.UUID,
        *,
        stop: asyncio.Event,
        open_editor: Callable[[], None] = open_editor,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        from glyphic_desktop.ui.app import icon

        self.agent = agent
        self.db = db
        self.user_id = user_id
        self.stop = stop
        agent.runner.on_finished = self._run_finished
        self.icon = QSystemTrayIcon(icon("glyphic"), self)
        self.icon.setToolTip(f"Glyphic agent ({agent.name})")
        self.menu = QMenu()
        self.actions: dict[str, QAction] = {}
        self._add("open", "Open editor", open_editor)
        self.actions["pause"] = action = self.menu.addAction("Pause schedules")
        action.setCheckable(True)
        action.toggled.connect(self.set_paused)
        self.next_runs = self.menu.addMenu("Next runs")
        self.next_runs.aboutToShow.connect(self.refresh_next_runs)
        self.failures = self.menu.addMenu("Recent failures")
        self.failures.aboutToShow.connect(self.refresh_failures)
        # The database's state: "Database: connected" / "unreachable since 14:02" /
        # "back after an outage of 75 s" (the agent's outage monitor, any thread).
        self.actions["database"] = status = self.menu.addAction("Database: connected")
        status.setEnabled(False)
        self.outage.connect(self._show_outage)
        agent.monitor.listeners.append(self._outage_changed)
        self.menu.addSeparator()
        self._add("quit", "Quit", self.quit)
        self.icon.setContextMenu(self.menu)

    def _outage_changed(self, down: bool, since: datetime | None, seconds: float) -> None:
        if down:
            at = since.astimezone().strftime("%H:%M:%S") if since else "now"
            self.outage.emit(True, f"Database: unreachable since {at}")
        else:
            self.outage.emit(False, f"Database: back after an outage of {seconds:.0f} s")

    def _show_outage(self, down: bool, line: str) -> None:
        self.actions["database"].setText(line)
        base = f"Glyphic agent ({self.agent.name})"
        self.icon.setToolTip(f"{base}: {line}" if down else base)

    def _add(self, key: str, text: str, slot: Callable[[], None]) -> None:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions[key] = action

    def show(self) -> None:
        """Show the icon in the tray."""
        self.icon.show()

    # -- menu ------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        """Pause or resume every schedule this agent fires (runs already queued go on)."""
        self.agent.schedules_paused = paused
        self.actions["pause"].setChecked(paused)
        self.icon.setToolTip(
            f"Glyphic agent ({self.agent.name})" + (": schedules paused" if paused else "")
        )

    def refresh_next_runs(self) -> None:
        """Fill "Next runs" with the user's soonest active schedules."""
        from glyphic_desktop.store.repositories.schedules import ScheduleRepository

        self.next_runs.clear()
        with self.db.session() as session:
            schedules = [
                s
                for s in ScheduleRepository(session, self.user_id).list()
                if s.is_active and s.workflow_active and s.next_run_at is not None
            ][:NEXT_RUNS_SHOWN]
        if not schedules:
            self.next_runs.addAction("No schedules").setEnabled(False)
        for schedule in schedules:
            paused = " (paused)" if self.agent.schedules_paused else ""
            entry = self.next_runs.addAction(
                f"{_when(schedule.next_run_at)}  {schedule.workflow_name} — {schedule.name}{paused}"
            )
            entry.setEnabled(False)

    def refresh_failures(self) -> None:
        """Fill "Recent failures" with the user's latest failed runs."""
        from glyphic_desktop.store.repositories.executions import ExecutionRepository

        self.failures.clear()
        with self.db.session() as session:
            failed = ExecutionRepository(session, self.user_id).recent_failures(FAILURES_SHOWN)
        if not failed:
            self.failures.addAction("No failed runs").setEnabled(False)
        for run in failed:
            entry = self.failures.addAction(
                f"{_when(run.at)}  {run.workflow_name}: {_short(run.error_message, 60)}"
            )
            entry.setToolTip(run.error_message or "")
            entry.setEnabled(False)

    def quit(self) -> None:
        """Stop the agent (running executions end cancelled); the loop then ends."""
        self.icon.hide()
        self.stop.set()

    # -- notifications -----------------------------------------------------------------

    def _run_finished(self, claimed: ClaimedExecution, status: str, error: str | None) -> None:
        if status not in ("failed", "error") or claimed.user_id != self.user_id:
            return
        title = f"“{claimed.workflow_name or claimed.workflow_id}” failed"
        message = _short(error, 200)
        if self.icon.isVisible():
            self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10000)
        self.notified.emit(title, message)


def run_tray_agent(
    agent: Agent,
    db: Database,
    user_id: uuid.UUID,
    *,
    ready: Callable[[TrayAgent], None] | None = None,
) -> None:
    """Run ``agent`` on Qt's loop with a tray icon until Quit (or a signal) stops it.

    ``ready`` is called with the tray once it shows (tests drive the menu through it).
    """
    import signal

    import qasync

    from glyphic_desktop.ui.app import ensure_application

    app = ensure_application()
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()

    def on_signal() -> None:  # the first stops cleanly (the grace), a second at once
        if stop.is_set():
            print("glyphic: interrupted", file=sys.stderr, flush=True)
            os._exit(130)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal)
        except (NotImplementedError, RuntimeError):
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(on_signal))
    tray = TrayAgent(agent, db, user_id, stop=stop)
    tray.show()
    if ready is not None:
        ready(tray)
    try:
        with loop:
            loop.run_until_complete(agent.run(stop))
    finally:
        tray.icon.hide()
        QApplication.processEvents()
