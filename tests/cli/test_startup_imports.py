"""`glyphic --help`, `--version` and every `glyphic <command> --help` import nothing heavy.

Each runs in a fresh interpreter (as the console script does); the process then prints
which of SQLAlchemy, pydantic, PySide6 and httpx ended up in ``sys.modules``. Help must
not pay for the database layer, the models, Qt or the HTTP client (bench/startup.py
times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glyphic_desktop.cli.main import build_parser

HEAVY = ("sqlalchemy", "pydantic", "PySide6", "httpx", "psycopg", "shiboken6")

WRAPPER = """
import contextlib, io, json, sys
from glyphic_desktop.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
heavy = sorted({name.split('.')[0] for name in sys.modules} & set(HEAVY))
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue()}))
""".replace("HEAVY", repr(HEAVY))


def _commands() -> list[list[str]]:
    commands = [["--help"], ["--version"]]
    for action in build_parser()._subparsers._group_actions:  # the registered commands
        for name, sub in action.choices.items():
            commands.append([name, "--help"])
            inner = sub._subparsers._group_actions if sub._subparsers else []
            for verbs in inner:
                for verb in getattr(verbs, "choices", None) or {}:
                    commands.append([name, verb, "--help"])
    return commands


COMMANDS = _commands()


def test_every_command_is_covered() -> None:
    names = {argv[0] for argv in COMMANDS}
    for expected in ("run", "list", "show", "runs", "logs", "doctor", "agent", "credentials"):
        assert expected in names
    assert ["agent", "status", "--help"] in COMMANDS
    assert ["credentials", "test", "--help"] in COMMANDS


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(argv) for argv in COMMANDS])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["out"].strip(), "nothing was printed"
    assert result["heavy"] == [], f"glyphic {' '.join(argv)} imported {result['heavy']}"
