"""`glyphic` / `glyphic editor`: open the editor window on the database."""

from __future__ import annotations

import argparse


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


def _run(args: argparse.Namespace) -> int:
    from glyphic_desktop.ui.app import run_editor

    return run_editor(workflow=args.workflow)
