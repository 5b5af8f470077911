"""`glyphic agent`: not built yet (placeholder registered so --help lists it)."""

from __future__ import annotations

import argparse

from glyphic_desktop.errors import GlyphicError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `agent` command."""
    parser = subparsers.add_parser("agent", help="agent (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace) -> int:
    raise GlyphicError("'glyphic agent' is not built yet")
