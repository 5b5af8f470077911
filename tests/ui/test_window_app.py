"""Application setup: themes from resources/, icons, settings location."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from glyphic_desktop import paths
from glyphic_desktop.ui import app as ui_app


def test_both_themes_load_and_apply(qtbot):
    app = QApplication.instance()
    for name in ("dark", "light"):
        sheet = ui_app.theme_stylesheet(name)
        assert "QDockWidget" in sheet
        assert ui_app.apply_theme(app, name) == name
        assert app.styleSheet() == sheet
    assert ui_app.apply_theme(app, "purple") == "dark"  # unknown: the default


def test_unknown_theme_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown theme 'neon'"):
        ui_app.theme_stylesheet("neon")


def test_every_toolbar_icon_exists(qtbot):
    for name in (
        "new",
        "open",
        "save",
        "save-as",
        "import",
        "export",
        "undo",
        "redo",
        "cut",
        "copy",
        "paste",
        "duplicate",
        "delete",
        "select-all",
        "fit",
        "zoom-in",
        "zoom-out",
        "run",
        "stop",
        "background",
        "glyphic",
    ):
        path = paths.resources_dir() / "icons" / f"{name}.svg"
        assert path.is_file(), name
        assert not ui_app.icon(name).pixmap(24, 24).isNull(), name


def test_settings_live_in_the_config_dir():
    assert ui_app.settings().fileName().startswith(str(paths.config_dir()))
    assert ui_app.current_theme() == "dark"
