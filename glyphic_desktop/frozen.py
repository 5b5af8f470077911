"""Running Python children from the packaged app as well as from a Python install.

In the PyInstaller build, ``sys.executable`` is the ``glyphic`` app itself, not a Python
interpreter, so a child that runs a Python script file (the Code node's child, the
sandbox launcher) is started as ``glyphic --glyphic-python FILE ARGS``; ``cli/main.py``
sees that flag first and runs the file with the bundled interpreter.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

#: The first argument that makes the packaged ``glyphic`` run a Python file.
FROZEN_PYTHON_FLAG = "--glyphic-python"


def is_frozen() -> bool:
    """True inside the packaged app."""
    return bool(getattr(sys, "frozen", False))


def python_argv(*flags: str) -> list[str]:
    """The start of a command line that runs a Python script file in a child process.

    ``[sys.executable, *flags]`` from a Python install; in the packaged app, the app itself
    with :data:`FROZEN_PYTHON_FLAG` (interpreter flags do not apply to it).
    """
    if is_frozen():
        return [sys.executable, FROZEN_PYTHON_FLAG]
    return [sys.executable, *flags]


def run_python_file(argv: Sequence[str]) -> int:
    """Run ``argv[0]`` as ``__main__`` with ``sys.argv = argv`` (the packaged app's child mode)."""
    if not argv:
        print(f"glyphic: {FROZEN_PYTHON_FLAG} needs a file", file=sys.stderr)
        return 2
    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0
