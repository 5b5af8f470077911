"""The ``glyphic`` command: parses arguments and dispatches to one module per command group.

Each command module exposes ``register(subparsers)``, which adds its sub-parser(s) and
sets ``handler`` (a function taking the parsed namespace and returning an exit code).
Errors meant for the user (:class:`GlyphicError`) print one line on stderr; anything
unexpected prints one line plus where the full traceback was written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from glyphic_desktop import __version__
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.frozen import FROZEN_PYTHON_FLAG, is_frozen, run_python_file

# The command groups, in the order `glyphic --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "editor",
    "agent",
    "run",
    "transfer",
    "db",
    "credentials",
    "schedule",
    "webhook",
    "trust",
    "desktop",
    "inspect",
    "logs",
    "doctor",
    "waits",
)

# Exit codes, the same in every command (README has the table).
EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3


def mask_known_secrets(text: str) -> str:
    """The secret masker, imported only when a message needs it (help stays light)."""
    from glyphic_desktop.secrets.masking import mask_known_secrets as mask

    return mask(text)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2, naming the
    help of the (sub-)command that was given: ``see 'glyphic credentials add --help'``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"glyphic: error: {message} (see '{self.prog} --help')\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, "_command_prog"):  # the innermost sub-command sets it first
            namespace._command_prog = self.prog
        return namespace, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = getattr(namespace, "_command_prog", self.prog)
            self.exit(
                2,
                f"glyphic: error: unrecognized arguments: {' '.join(extras)} "
                f"(see '{prog} --help')\n",
            )
        return namespace


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = _Parser(
        prog="glyphic",
        description="Glyphic Desktop: build, run and schedule workflows. "
        "With no command, opens the editor.",
    )
    parser.add_argument("--version", action="version", version=f"glyphic {__version__}")
    parser.set_defaults(handler=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"glyphic_desktop.cli.{name}")
        module.register(subparsers)
    return parser


def _write_crash_log(exc: BaseException) -> str:
    import traceback
    from datetime import datetime

    from glyphic_desktop.paths import create_private_file, ensure_dir, log_dir

    try:
        directory = ensure_dir(log_dir())  # 0700
        path = directory / f"crash-{datetime.now():%Y%m%d-%H%M%S}.log"
        text = mask_known_secrets("".join(traceback.format_exception(exc)))
        with os.fdopen(create_private_file(path), "w", encoding="utf-8") as log:  # 0600
            log.write(text)
        return str(path)
    except (OSError, GlyphicError):
        return "(could not write a log file)"


def _database_lost(exc: BaseException) -> str | None:
    """One line when ``exc`` is the database going away mid-command (exit 3), else None.

    Looks the driver's classes up only when they are already imported, so that a command
    that never touched the database does not pay for importing them.
    """
    kinds: list[type] = []
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None:
        kinds.append(sqlalchemy_exc.OperationalError)
        kinds.append(sqlalchemy_exc.InterfaceError)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        kinds.append(psycopg.OperationalError)
        kinds.append(psycopg.InterfaceError)
    if not kinds or not isinstance(exc, tuple(kinds)):
        return None
    origin = getattr(exc, "orig", None) or exc
    sqlstate = getattr(origin, "sqlstate", None)
    if sqlstate and not sqlstate.startswith(("08", "57P")):  # a statement failed, not the link
        return None
    text = str(origin).strip().splitlines()
    return mask_known_secrets(text[0] if text else exc.__class__.__name__)


def _configure_logging() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glyphic`` console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == [FROZEN_PYTHON_FLAG] and is_frozen():
        _configure_logging()
        return run_python_file(args_list[1:])
    if not args_list:
        args_list = ["editor"]
    parser = build_parser()
    args = parser.parse_args(args_list)  # --help and --version exit here, before logging
    _configure_logging()
    if args.handler is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except GlyphicError as exc:
        print(f"glyphic: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("glyphic: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place that turns a crash into one line
        lost = _database_lost(exc)
        if lost:
            print(f"glyphic: the database is unreachable: {lost}", file=sys.stderr)
            return EXIT_DATABASE
        where = _write_crash_log(exc)
        line = mask_known_secrets(f"{exc.__class__.__name__}: {exc}")
        print(f"glyphic: unexpected error: {line}", file=sys.stderr)
        print(f"glyphic: the full log is in {where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
