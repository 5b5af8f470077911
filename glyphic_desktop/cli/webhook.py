"""`glyphic webhook`: not built yet (placeholder registered so --help lists it)."""

from __future__ import annotations

import argparse

from glyphic_desktop.errors import GlyphicError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `webhook` command."""
    parser = subparsers.add_parser("webhook", help="webhook (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace) -> int:
    raise GlyphicError("'glyphic webhook' is not built yet")
