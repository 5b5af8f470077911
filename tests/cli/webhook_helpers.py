"""What the `glyphic webhook` CLI tests share: run a sub-command, read `list --json`."""

from __future__ import annotations

import json
from typing import Any

from glyphic_desktop.cli.main import main


def run(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run ``glyphic webhook ARGS``: (exit code, stdout, stderr); argparse's own errors
    (SystemExit from parse_args) become the exit code."""
    try:
        code = main(["webhook", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: Any) -> dict[str, dict[str, Any]]:
    """``glyphic webhook list --json`` by webhook path (it must exit 0)."""
    code, out, err = run(capsys, "list", "--json")
    assert code == 0, err
    return {item["path"]: item for item in json.loads(out)}
