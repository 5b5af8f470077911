"""`glyphic schedule`: not built yet (placeholder registered so --help lists it)."""

from __future__ import annotations

import argparse

from glyphic_desktop.errors import GlyphicError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `schedule` command."""
    parser = subparsers.add_parser("schedule", help="schedule (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace) -> int:
    raise GlyphicError("'glyphic schedule' is not built yet")
