"""The real `glyphic` window on a real X server (Xvfb) with Qt's xcb platform, not offscreen.

Starts Xvfb on a free display, runs the `glyphic` command as a user would, waits until
X lists its top-level window, grabs the screen through the xcb platform and checks the
window was drawn (many colours, not a blank screen). `.ci/run` installs Xvfb and the
xcb libraries README lists; in CI a missing Xvfb is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: .ci/run installs it")
        pytest.skip(f"{tool} is not installed (apt-get install xvfb x11-utils)")
    return path


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A fresh Xvfb server on a free display number; yields ``:N``."""
    xvfb = _need("Xvfb")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as reader:
            number = reader.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _window_titles(display: str) -> str:
    result = subprocess.run(
        [_need("xwininfo"), "-root", "-tree"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout


def test_glyphic_opens_a_drawn_window_on_xcb(
    xvfb_display: str, database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    app = subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "Glyphic" not in _window_titles(xvfb_display):
            if app.poll() is not None:
                pytest.fail(f"glyphic exited {app.returncode}: {app.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no Glyphic window appeared on the X display within 120 s")
            time.sleep(0.5)
        time.sleep(2)  # let the first paint land
        shot = tmp_path / "xcb-window.png"
        grab = subprocess.run(
            [sys.executable, "-m", "tests.support.screen", str(shot)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        facts = json.loads(grab.stdout.strip().splitlines()[-1])
        assert (facts["width"], facts["height"]) == (1280, 800)
        # A blank X screen is one colour; the editor's window, docks and text are many.
        assert facts["colours"] > 20, facts
        assert app.poll() is None, "the window must still be open after drawing"
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
