"""Render the editor window into ``docs/screenshots/`` (dark and light, mid-run with badges,
each also zoomed out to 20 %).

Usage::

    python scripts/screenshots.py [--out docs/screenshots] [--example branching-if-switch.json]

Uses the database ``glyphic`` uses (``GLYPHIC_DATABASE_URL`` or the embedded server).
The example workflow from ``resources/examples/`` is stored (or updated) under its own
name, run once for real by the engine, and its recorded event stream is replayed into a
fresh window up to the moment a node in the middle of the graph is running, so the
badges (done, skipped, running) and the live log lines are the engine's own.
Window layout settings go to a temporary file, not the user's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from glyphic_desktop import paths
from glyphic_desktop.document.io import read_workflow_file
from glyphic_desktop.store.database import open_database
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from glyphic_desktop.ui.app import apply_theme, ensure_application
from glyphic_desktop.ui.main_window import MainWindow

SIZE = (1440, 900)


def _wait(app: QApplication, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the example run did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def _store_example(db, example: Path):
    result = read_workflow_file(example)
    name = result.suggested_name or example.stem
    user_id = current_user_id(db)
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        existing = repo.get_by_name(name)
        if existing is None:
            return repo.create(name, result.document, tags=result.document.metadata.get("tags", []))
        return repo.save(existing.id, result.document, base_version=existing.version)


def _window(db, settings_path: str) -> MainWindow:
    settings = QSettings(settings_path, QSettings.Format.IniFormat)
    window = MainWindow(db, settings=settings, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    return window


def _record_run(app: QApplication, db, workflow_id, settings_path: str) -> list:
    window = _window(db, settings_path)
    window.open_workflow(workflow_id, ask=False)
    events: list = []
    if not window.run():
        raise SystemExit("the example workflow cannot run (see its preflight problems)")
    window.session.run_thread.eventsReady.connect(events.extend)
    _wait(app, lambda: not window.is_running())
    window.close()
    return events


def _replay(window: MainWindow, events: list) -> None:
    """Show recorded engine events on ``window`` as a live run would."""
    from glyphic_desktop.ui.run_thread import RunProgress

    session = window.session
    session.run_started.emit()  # as a run would: the last run's badges and logs go
    session.progress = RunProgress()
    lines, changed = session.progress.apply(events)
    session.run_events.emit(lines, changed)


def _mid_run(events: list) -> list:
    """The events up to a node that starts after at least half of the others."""
    starts = [i for i, event in enumerate(events) if event.kind == "node_started"]
    if not starts:
        return events
    cut = starts[len(starts) // 2]
    return events[: cut + 1]


def main(argv: list[str] | None = None) -> int:
    """Render the screenshots; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    )
    parser.add_argument("--example", default="branching-if-switch.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    example = paths.resources_dir() / "examples" / args.example

    app = ensure_application()
    db = open_database()
    settings_path = str(Path(tempfile.mkdtemp(prefix="glyphic-shots-")) / "editor.ini")
    try:
        record = _store_example(db, example)
        events = _mid_run(_record_run(app, db, record.id, settings_path))
        for theme in ("dark", "light"):
            window = _window(db, settings_path)
            window.open_workflow(record.id, ask=False)
            window.apply_theme(theme, save=False)
            apply_theme(app, theme)
            for _ in range(5):
                app.processEvents()
            window.actions["minimap"].setChecked(False)  # the 20 % shot turns it on
            window.view.fit_all()
            window.executions_dock.refresh()
            window.run_label.setText("Running…")
            _replay(window, events)
            running = [e.node_id for e in events if e.kind == "node_started"][-1:]
            if running:
                window.scene.select_nodes(running)
            for _ in range(10):
                app.processEvents()
            target = out / f"editor-{theme}.png"
            if not window.grab().save(str(target)):
                raise SystemExit(f"could not write {target}")
            print(target)
            # Zoomed out to 20 %: every node keeps its colour and a readable title; the
            # minimap (View > Minimap) in the corner.
            window.view.set_zoom(0.2)
            window.view.centerOn(window.scene.nodes_bounding_rect().center())
            window.actions["minimap"].setChecked(True)
            for _ in range(5):
                app.processEvents()
            target = out / f"editor-{theme}-20.png"
            if not window.grab().save(str(target)):
                raise SystemExit(f"could not write {target}")
            print(target)
            window.close()
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
