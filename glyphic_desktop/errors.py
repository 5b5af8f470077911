"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations


class GlyphicError(Exception):
    """An error whose message is meant for the user, as is.

    `exit_code` is what the CLI exits with when this error ends a command.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(GlyphicError):
    """Bad arguments or input given by the user (exit code 2)."""

    exit_code = 2


class DatabaseUnavailable(GlyphicError):
    """The database cannot be reached or started (exit code 3)."""

    exit_code = 3


class ConflictError(GlyphicError):
    """A save whose base version is older than the stored one."""

    def __init__(self, message: str, *, base_version: int, stored_version: int) -> None:
        super().__init__(message)
        self.base_version = base_version
        self.stored_version = stored_version


class NotFoundError(GlyphicError):
    """A named or identified object does not exist for the current user (exit code 2)."""

    exit_code = 2
