"""`glyphic desktop-install`: the Linux desktop entry, its icon, and the agent's autostart.

Writes ``glyphic.desktop`` under ``$XDG_DATA_HOME/applications`` (default
``~/.local/share``) and the app icon under the hicolor theme; with ``--autostart-agent``
also ``glyphic-agent.desktop`` under ``$XDG_CONFIG_HOME/autostart`` so the tray agent
starts at login. ``--remove`` takes back what it wrote. Entries start the ``glyphic``
that ran this command (the console script, or the packaged app).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from glyphic_desktop import paths
from glyphic_desktop.errors import GlyphicError

APP_ENTRY = "glyphic.desktop"
AGENT_ENTRY = "glyphic-agent.desktop"
ICON_NAME = "glyphic"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `desktop-install` command."""
    parser = subparsers.add_parser(
        "desktop-install",
        help="add Glyphic to the desktop's application menu (Linux), optionally the agent "
        "to autostart",
        description="Write a desktop entry and icon under ~/.local/share (XDG_DATA_HOME), and "
        "with --autostart-agent an autostart entry for the tray agent (XDG_CONFIG_HOME).",
    )
    parser.add_argument(
        "--autostart-agent",
        action="store_true",
        help="also start the tray agent (glyphic agent) when you log in",
    )
    parser.add_argument(
        "--remove", action="store_true", help="remove the entries and icon this command wrote"
    )
    parser.set_defaults(handler=_run)


def _xdg(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value and os.path.isabs(value) else Path.home() / default


def data_home() -> Path:
    """``$XDG_DATA_HOME`` or ``~/.local/share``."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def config_home() -> Path:
    """``$XDG_CONFIG_HOME`` or ``~/.config``."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def glyphic_command() -> list[str]:
    """The command line that starts this Glyphic (the frozen app, or the console script)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).parent / "glyphic"
    if script.exists():
        return [str(script)]
    found = shutil.which("glyphic")
    if found:
        return [found]
    return [sys.executable, "-m", "glyphic_desktop.cli.main"]


def _exec_line(args: list[str]) -> str:
    """An Exec= value: arguments with reserved characters quoted as the spec says."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    quoted = []
    for arg in args:
        if any(ch in reserved for ch in arg):
            escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
            arg = f'"{escaped}"'
        quoted.append(arg.replace("%", "%%"))
    return " ".join(quoted)


def desktop_entry(name: str, comment: str, args: list[str], *, extra: str = "") -> str:
    """The text of a desktop entry that runs ``args``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={name}\n"
        f"Comment={comment}\n"
        f"Exec={_exec_line(args)}\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=false\n"
        "Categories=Development;Utility;\n"
        f"{extra}"
    )


def _targets() -> dict[str, Path]:
    return {
        "app": data_home() / "applications" / APP_ENTRY,
        "icon": data_home() / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
        "agent": config_home() / "autostart" / AGENT_ENTRY,
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)


def _run(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        raise GlyphicError("desktop-install writes Linux desktop entries only", exit_code=2)
    targets = _targets()
    if args.remove:
        removed = [path for path in targets.values() if path.exists()]
        for path in removed:
            path.unlink()
        print(f"removed {len(removed)} file(s)" if removed else "nothing to remove")
        for path in removed:
            print(f"  {path}")
        return 0
    command = glyphic_command()
    _write(
        targets["app"],
        desktop_entry("Glyphic", "Build, run and schedule workflows", [*command, "editor"]),
    )
    icon = paths.resources_dir() / "icons" / "glyphic.svg"
    targets["icon"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(icon, targets["icon"])
    targets["icon"].chmod(0o644)
    written = [targets["app"], targets["icon"]]
    if args.autostart_agent:
        _write(
            targets["agent"],
            desktop_entry(
                "Glyphic agent",
                "Runs schedules, webhooks and queued runs in the tray",
                [*command, "agent"],
                extra="X-GNOME-Autostart-enabled=true\n",
            ),
        )
        written.append(targets["agent"])
    for path in written:
        print(f"wrote {path}")
    return 0
