"""Grab the window to a PNG (for looking at it) and check it painted."""

from __future__ import annotations

import os

from .helpers import make_window


def test_grab_window(qtbot, db, tmp_path):
    window = make_window(qtbot, db)
    window.resize(1280, 800)
    for key in ("manual", "http_request", "log"):
        window.add_node(key)
    window.view.fit_all()
    qtbot.wait(50)
    target = os.environ.get("GLYPHIC_GRAB_TO") or str(tmp_path / "window.png")
    assert window.grab().save(target)
    assert os.path.getsize(target) > 10_000
