"""Can Qt open a window here? A check of the platform plugin's system libraries, without Qt.

Qt aborts the whole process (``could not load the Qt platform plugin "xcb"``) when a
system library of its X11 plugin is missing, which on a minimal Linux install is the
usual first experience. This module finds the plugin inside the installed PySide6
without importing any Qt module, asks the dynamic linker (``ldd``) which of its
libraries are missing, adds the ones Qt opens at run time (``libxcb-cursor``), and
names the Debian/Ubuntu packages that provide them. ``glyphic doctor`` prints the
result; ``glyphic`` (the editor) prints the one-line hint instead of Qt's abort.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Libraries Qt loads with dlopen at run time, so ldd cannot see them: (name for
# ctypes.util.find_library, soname shown to the user).
_RUNTIME_LIBRARIES = (("xcb-cursor", "libxcb-cursor.so.0"),)

# sonames whose Debian package name does not follow from the rule in _package_for.
_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

# What Qt's xcb platform needs on a minimal Debian or Ubuntu (README lists the same).
XCB_PACKAGES = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-randr0",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-xkb1",
    "libxkbcommon-x11-0",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libdbus-1-3",
)


@dataclass
class PlatformReport:
    """What the check found for one platform plugin."""

    platform: str
    plugin: Path | None
    missing: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when the plugin exists and no library it needs is missing."""
        return self.plugin is not None and not self.missing and not self.note

    @property
    def packages(self) -> list[str]:
        """The Debian/Ubuntu packages that provide the missing libraries, in order."""
        return list(dict.fromkeys(package_for(soname) for soname in self.missing))

    def hint(self) -> str:
        """One line saying what is wrong and the ``apt-get`` line that fixes it."""
        if self.ok:
            return f"Qt platform {self.platform!r}: ok"
        if self.note:
            return f"Qt platform {self.platform!r}: {self.note}"
        return (
            f"Qt cannot open a window: the {self.platform!r} platform needs "
            f"{', '.join(self.missing)}; install them with: "
            f"sudo apt-get install {' '.join(self.packages)}"
        )


def package_for(soname: str) -> str:
    """The Debian package that provides ``soname`` (``libxcb-icccm.so.4`` -> ``libxcb-icccm4``)."""
    if soname in _PACKAGES:
        return _PACKAGES[soname]
    match = re.fullmatch(r"(lib[\w\-+.]*?)\.so\.(\d+)(?:\..*)?", soname)
    if not match:
        return soname
    stem, major = match.groups()
    stem = stem.lower()
    # Debian adds a dash when the name already ends in a digit (libxcb-xfixes0, libfoo2-3).
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def pyside_plugins_dir() -> Path | None:
    """PySide6's ``Qt/plugins`` directory, found without importing Qt; None if absent."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        for candidate in (Path(frozen_root) / "PySide6" / "Qt" / "plugins",):
            if candidate.is_dir():
                return candidate
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "Qt" / "plugins"
        if candidate.is_dir():
            return candidate
    return None


def _missing_by_ldd(library: Path) -> list[str]:
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        result = subprocess.run(
            [ldd, str(library)], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return re.findall(r"^\s*(\S+)\s+=>\s+not found", result.stdout, flags=re.MULTILINE)


def check_platform(
    platform: str | None = None, *, plugins_dir: Path | None = None
) -> PlatformReport:
    """Check the Qt platform plugin that would be used (``QT_QPA_PLATFORM``, default xcb).

    ``plugins_dir`` replaces PySide6's own plugin directory (for tests).
    """
    name = (platform or os.environ.get("QT_QPA_PLATFORM") or "xcb").split(":", 1)[0]
    plugins = plugins_dir or pyside_plugins_dir()
    if plugins is None:
        return PlatformReport(name, None, note="PySide6 is not installed")
    plugin = plugins / "platforms" / f"libq{name}.so"
    if not sys.platform.startswith("linux"):
        return PlatformReport(name, plugin if plugin.exists() else None)
    if not plugin.exists():
        return PlatformReport(name, None, note=f"no such platform plugin ({plugin})")
    missing = _missing_by_ldd(plugin)
    if name == "xcb":
        for library, soname in _RUNTIME_LIBRARIES:
            if ctypes.util.find_library(library) is None and soname not in missing:
                missing.append(soname)
    return PlatformReport(name, plugin, list(dict.fromkeys(missing)))


def display_available(platform: str | None = None) -> bool:
    """Whether a display server is named for the platform that would be used."""
    name = (platform or os.environ.get("QT_QPA_PLATFORM") or "xcb").split(":", 1)[0]
    if name == "xcb":
        return bool(os.environ.get("DISPLAY"))
    if name.startswith("wayland"):
        return bool(os.environ.get("WAYLAND_DISPLAY"))
    return True
