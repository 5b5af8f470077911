"""QApplication setup, themes and icons, and :func:`run_editor` (what ``glyphic`` runs).

``run_editor(argv)`` creates (or reuses) the QApplication, brings up the database with
``open_database()`` *before* any window shows (a database that cannot be reached is one
clear line on stderr and exit code 1, from the CLI), applies the theme saved in
QSettings (``ui/theme``: ``dark`` or ``light``), opens the main window and runs the
event loop.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from glyphic_desktop import __version__, paths
from glyphic_desktop.ui import gc_guard

ORGANIZATION = "Glyphic"
APPLICATION = "Glyphic Desktop"
THEMES = ("dark", "light")
DEFAULT_THEME = "dark"
THEME_KEY = "ui/theme"


def settings() -> QSettings:
    """The per-user Qt settings (window layout, theme), stored under ``config_dir()``."""
    path = paths.config_dir() / "editor.ini"
    return QSettings(str(path), QSettings.Format.IniFormat)


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running QApplication, created (named, with the app icon) when there is none."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORGANIZATION)
        QCoreApplication.setApplicationName(APPLICATION)
        QCoreApplication.setApplicationVersion(__version__)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setWindowIcon(icon("glyphic"))
    gc_guard.install(app)
    return app


@cache
def _icon_path(name: str) -> str:
    return str(paths.resources_dir() / "icons" / f"{name}.svg")


def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon when it is missing)."""
    return QIcon(_icon_path(name))


def theme_stylesheet(name: str) -> str:
    """The stylesheet of theme ``name`` (``dark`` or ``light``); ValueError for others."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r} (expected one of: {', '.join(THEMES)})")
    return (paths.resources_dir() / "themes" / f"{name}.qss").read_text(encoding="utf-8")


def apply_theme(app: QApplication, name: str) -> str:
    """Apply theme ``name`` to ``app`` (unknown names fall back to the default); returns it."""
    if name not in THEMES:
        name = DEFAULT_THEME
    app.setStyle("Fusion")
    app.setStyleSheet(theme_stylesheet(name))
    app.setProperty("glyphicTheme", name)
    return name


def current_theme() -> str:
    """The theme saved in the settings (the default when none is)."""
    value = settings().value(THEME_KEY, DEFAULT_THEME)
    return value if value in THEMES else DEFAULT_THEME


def run_editor(argv: Sequence[str] | None = None, *, workflow: str | None = None) -> int:
    """Open the editor window on the database and run the event loop; returns the exit code.

    ``workflow`` (a stored workflow's name or id, or a ``.json`` file) is opened at start.
    Raises :class:`~glyphic_desktop.errors.DatabaseUnavailable` (before any window shows)
    when the database cannot be reached.
    """
    from glyphic_desktop.store.database import open_database
    from glyphic_desktop.ui.main_window import MainWindow

    app = ensure_application(argv)
    database = open_database()
    try:
        apply_theme(app, current_theme())
        window = MainWindow(database)
        window.show()
        window.offer_drafts()
        if workflow:
            window.open_reference(workflow)
        return app.exec()
    finally:
        database.dispose()
