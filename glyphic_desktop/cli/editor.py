"""`glyphic` / `glyphic editor`: open the editor window on the database."""

from __future__ import annotations

import argparse

from glyphic_desktop.errors import GlyphicError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `editor` command."""
    parser = subparsers.add_parser(
        "editor",
        help="open the editor window (the default command)",
        description="Open the editor window. The database (embedded, or GLYPHIC_DATABASE_URL) "
        "is brought up before the window shows.",
    )
    parser.add_argument(
        "workflow",
        nargs="?",
        help="a stored workflow's name or id, or a workflow .json file, to open at start",
    )
    parser.set_defaults(handler=_run)


def platform_problem() -> str | None:
    """Why Qt could not open a window here (one line), or None when it can.

    Checked before Qt loads, since Qt aborts the whole process when its platform plugin
    cannot start (no display, or a missing system library of the xcb plugin).
    """
    import os
    import sys

    from glyphic_desktop.platform_check import check_platform, display_available

    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform:
        wayland_only = os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY")
        platform = "wayland" if wayland_only else "xcb"
    name = platform.split(":", 1)[0]
    if name not in ("xcb", "wayland", "wayland-egl"):
        return None
    if not display_available(name):
        variable = "DISPLAY" if name == "xcb" else "WAYLAND_DISPLAY"
        return (
            f"no display to open the editor on ({variable} is not set); run it in a desktop "
            "session, or use the headless commands (glyphic run, glyphic agent --headless)"
        )
    report = check_platform(name)
    return None if report.ok else report.hint()


def _run(args: argparse.Namespace) -> int:
    problem = platform_problem()
    if problem:
        raise GlyphicError(f"{problem} (glyphic doctor checks the rest)", exit_code=2)
    from glyphic_desktop.ui.app import run_editor

    return run_editor(workflow=args.workflow)
