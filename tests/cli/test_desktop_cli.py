"""`glyphic desktop-install`: the desktop entry, icon and agent autostart, and --remove."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

import pytest

from glyphic_desktop.cli.main import main


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    data, config = tmp_path / "share", tmp_path / "config"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return data, config


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser["Desktop Entry"]


def test_install_writes_an_entry_that_starts_this_glyphic(xdg, capsys) -> None:
    data, config = xdg
    assert main(["desktop-install"]) == 0
    entry = _entry(data / "applications" / "glyphic.desktop")
    assert entry["Type"] == "Application" and entry["Icon"] == "glyphic"
    args = shlex.split(entry["Exec"])
    assert args[-1] == "editor"
    # The command the entry runs is a real glyphic: ask it for its version.
    version = subprocess.run(
        [*args[:-1], "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("glyphic ")
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "glyphic.svg"
    assert icon.read_text().lstrip().startswith("<")
    assert not (config / "autostart" / "glyphic-agent.desktop").exists()
    assert str(data / "applications" / "glyphic.desktop") in capsys.readouterr().out


def test_autostart_agent_on_request_and_remove_takes_everything_back(xdg, capsys) -> None:
    data, config = xdg
    assert main(["desktop-install", "--autostart-agent"]) == 0
    agent = _entry(config / "autostart" / "glyphic-agent.desktop")
    assert shlex.split(agent["Exec"])[-1] == "agent"
    assert main(["desktop-install", "--remove"]) == 0
    assert "removed 3 file(s)" in capsys.readouterr().out
    assert not list(data.rglob("*.desktop")) and not list(config.rglob("*.desktop"))
    assert main(["desktop-install", "--remove"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_exec_quotes_paths_with_spaces() -> None:
    from glyphic_desktop.cli.desktop import desktop_entry

    text = desktop_entry("G", "c", ["/opt/My Apps/glyphic", "editor"])
    line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert shlex.split(line[len("Exec=") :]) == ["/opt/My Apps/glyphic", "editor"]
