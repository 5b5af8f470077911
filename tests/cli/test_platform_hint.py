"""The Qt platform check: missing system libraries named with their packages, and the
editor's one-line hint instead of Qt's abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glyphic_desktop.platform_check import check_platform, package_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd is Linux's")


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libegl1"),
        ("libfoo2.so.3", "libfoo2-3"),
    ],
)
def test_sonames_map_to_debian_packages(soname: str, package: str) -> None:
    assert package_for(soname) == package


def _compile(source: Path, output: Path, *extra: str) -> None:
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(output), str(source), *extra], check=True)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a plugin")
def test_a_plugin_whose_library_is_gone_is_reported_with_the_apt_line(tmp_path: Path) -> None:
    # A real ELF "platform plugin" linked against a library that is then removed, as on a
    # minimal install where an xcb library is not there (a name no system has, so the
    # dynamic linker cannot find it elsewhere).
    (tmp_path / "dep.c").write_text("int glyphic_dep(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text(
        "int glyphic_dep(void);\nint glyphic_plugin(void) { return glyphic_dep(); }\n"
    )
    libdir = tmp_path / "lib"
    libdir.mkdir()
    _compile(
        tmp_path / "dep.c",
        libdir / "libxcb-glyphictest.so.7",
        "-Wl,-soname,libxcb-glyphictest.so.7",
    )
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    _compile(
        tmp_path / "plugin.c", platforms / "libqxcb.so", f"-L{libdir}", "-l:libxcb-glyphictest.so.7"
    )
    (libdir / "libxcb-glyphictest.so.7").unlink()

    report = check_platform("xcb", plugins_dir=tmp_path / "plugins")

    assert not report.ok
    assert "libxcb-glyphictest.so.7" in report.missing
    assert "libxcb-glyphictest7" in report.packages
    assert "sudo apt-get install" in report.hint()
    assert "libxcb-glyphictest7" in report.hint()


def test_the_installed_xcb_plugin_is_complete_here() -> None:
    # .ci/run installs the xcb libraries README lists; this machine must then pass the check.
    report = check_platform("xcb")
    assert report.plugin is not None and report.plugin.name == "libqxcb.so"
    assert report.ok, report.hint()


def test_editor_without_a_display_says_so_in_one_line_instead_of_aborting(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "editor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no display" in lines[0] and "DISPLAY" in lines[0]
    assert "Aborted" not in result.stderr and "qt.qpa" not in result.stderr
