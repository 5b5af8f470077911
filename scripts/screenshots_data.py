"""Render the Data dock screenshots into ``docs/screenshots/`` from the real window.

Usage::

    python scripts/screenshots_data.py [--out docs/screenshots]

Uses the database ``glyphic`` uses (``GLYPHIC_DATABASE_URL`` or the embedded server).
A small workflow ("Customers report") is stored, run once for real, and the window
shows: the Data dock after the run (table view), a pinned node, and the expression
editor with its live preview. Window layout settings go to a temporary file.
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

from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from glyphic_desktop.store.database import open_database
from glyphic_desktop.ui.app import apply_theme, ensure_application
from glyphic_desktop.ui.commands import ConnectCommand, SetFieldCommand
from glyphic_desktop.ui.main_window import MainWindow

SIZE = (1440, 900)
NAME = "Customers report"
CUSTOMERS = [
    {"name": "Ada Lovelace", "city": "London", "orders": 12, "vip": True, "tags": ["math"]},
    {"name": "Grace Hopper", "city": "New York", "orders": 7, "vip": False, "tags": ["navy"]},
    {"name": "Alan Turing", "city": "Manchester", "orders": 3, "vip": False, "tags": []},
    {"name": "Katherine Johnson", "city": "Hampton", "orders": 9, "vip": True, "tags": ["nasa"]},
    {"name": "Edsger Dijkstra", "city": "Austin", "orders": 5, "vip": False, "tags": ["go-to"]},
]


def _pump(app: QApplication, times: int = 10) -> None:
    for _ in range(times):
        app.processEvents()
        time.sleep(0.01)


def _wait(app: QApplication, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def _save(window: MainWindow, out: Path, name: str) -> None:
    target = out / name
    if not window.grab().save(str(target)):
        raise SystemExit(f"could not write {target}")
    print(target)


def main(argv: list[str] | None = None) -> int:
    """Render the screenshots; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = ensure_application()
    apply_theme(app, "dark")
    db = open_database()
    settings = QSettings(
        str(Path(tempfile.mkdtemp(prefix="glyphic-shots-")) / "editor.ini"),
        QSettings.Format.IniFormat,
    )
    try:
        window = MainWindow(db, settings=settings, restore_layout=False)
        window.resize(*SIZE)
        window.show()
        window.prompts.ask_text = lambda *a, **k: f"{NAME} {int(time.time())}"
        model, stack = window.model, window.undo_stack
        ids = []
        for index, key in enumerate(("manual", "log", "delay")):
            node_id = window.add_node(key, QPointF(index * 280.0, 0.0))
            if ids:
                stack.push(ConnectCommand(model, ids[-1], "output", node_id, "input"))
            ids.append(node_id)
        manual, log, delay = ids
        stack.push(SetFieldCommand(model, manual, "data", CUSTOMERS))
        stack.push(SetFieldCommand(model, log, "message", "{{ input | length }} customers"))
        stack.push(SetFieldCommand(model, delay, "seconds", 0))
        if not window.save():
            raise SystemExit("could not save the workflow")
        if not window.run():
            raise SystemExit("the workflow cannot run")
        _wait(app, lambda: not window.is_running())
        _pump(app)
        window.resizeDocks([window.logs_dock], [340], Qt.Orientation.Vertical)
        window.resizeDocks(
            [window.logs_dock, window.data_dock], [420, 1000], Qt.Orientation.Horizontal
        )
        _pump(app)
        window.view.fit_all()
        window.scene.select_nodes([log])
        _pump(app)
        _save(window, out, "data-panel.png")

        window.run_data.pin(manual, window.run_data.outputs_of(manual))
        window.scene.select_nodes([manual])
        _pump(app)
        _save(window, out, "pinned-node.png")

        window.resizeDocks([window.logs_dock], [180], Qt.Orientation.Vertical)
        window.resizeDocks([window.inspector_dock], [520], Qt.Orientation.Horizontal)
        window.scene.select_nodes([log])
        _pump(app)
        form = window.inspector_dock.panel.form
        message = form.editors["message"]
        box = message.input
        box.setFocus()
        box.selectAll()
        QTest.keyClicks(box, "{{ input[0].name }} from {{ input[0].")
        _pump(app)
        message.expression.completer.popup().hide()
        QTest.keyClicks(box, "city }}")
        QTest.keyClick(box, Qt.Key.Key_End)
        _pump(app)
        _save(window, out, "expression-preview.png")
        window.session.dirty_without_undo = False
        stack.setClean()
        window.close()
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
