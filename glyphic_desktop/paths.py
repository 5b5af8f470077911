"""Where Glyphic keeps its files: data, config, logs, drafts, and the shipped resources.

`GLYPHIC_HOME` moves the whole root (tests and portable installs); otherwise the
platform's user directories from platformdirs are used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "glyphic"


def _home_override() -> Path | None:
    home = os.environ.get("GLYPHIC_HOME")
    return Path(home).expanduser().resolve() if home else None


def data_dir() -> Path:
    """The user data dir: the embedded database, produced files, drafts."""
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """The user config dir: settings and the fallback master-key file."""
    home = _home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))


def log_dir() -> Path:
    """Where full logs (tracebacks behind one-line errors) are written."""
    home = _home_override()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME))


def files_dir() -> Path:
    """Where files produced by runs are stored (the `files` table's `local` provider)."""
    return data_dir() / "files"


def drafts_dir() -> Path:
    """Where the editor's autosave drafts live."""
    return data_dir() / "drafts"


def _source_root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def schema_dir() -> Path:
    """The numbered SQL migrations (`schema/` in a checkout or the frozen bundle)."""
    override = os.environ.get("GLYPHIC_SCHEMA_DIR")
    return Path(override) if override else _source_root() / "schema"


def resources_dir() -> Path:
    """Icons, themes and example workflows."""
    return _source_root() / "resources"


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and parents) if missing; raise a clear error when it cannot be written.

    Every directory this creates gets ``mode`` (default 0700: private to the user); the
    mode of a directory that already exists is left alone.
    """
    from glyphic_desktop.errors import GlyphicError

    try:
        missing = [p for p in [path, *path.parents] if not p.exists()]
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=mode)
                folder.chmod(mode)  # whatever the umask
    except OSError as exc:
        raise GlyphicError(f"cannot create directory {path}: {exc.strerror or exc}") from exc
    if not path.is_dir():
        raise GlyphicError(f"cannot create directory {path}: a file of that name exists")
    if not os.access(path, os.W_OK | os.X_OK):
        raise GlyphicError(f"directory {path} is not writable")
    return path


def create_private_file(path: Path) -> int:
    """Open ``path`` for appending, created with mode 0600 if missing; return the descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def private_log_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """A rotating log file handler whose files (the current one and each new one) are 0600."""
    from logging.handlers import RotatingFileHandler

    class _PrivateRotatingFileHandler(RotatingFileHandler):
        def _open(self):  # type: ignore[no-untyped-def]
            fd = create_private_file(Path(self.baseFilename))
            return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    with contextlib.suppress(OSError):
        os.close(create_private_file(path))
        os.chmod(path, 0o600)
    return _PrivateRotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
