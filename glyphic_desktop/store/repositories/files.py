"""Files runs produced (the ``files`` table): record, list, get, prune orphans.

Every file a run produces (Write file, an HTTP download, a Code node returning bytes)
gets one row with its execution, ``storage_provider`` ``local`` and ``storage_path`` the
file's absolute path (under ``paths.files_dir()`` for downloads and Code results, where
the node's path says for Write file). Deleting an execution keeps the row
(``execution_id`` becomes NULL) and the file on disk; :func:`prune_orphan_files` deletes
those orphan rows and their files, but only files under ``files_dir()`` (a file written
elsewhere belongs to the user) and never one a remaining row still points at.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.models import Execution, File
from glyphic_desktop.store.repositories.ids import parse_id

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

LOCAL_PROVIDER = "local"


@dataclass(frozen=True)
class FileRecord:
    """One ``files`` row."""

    id: uuid.UUID
    user_id: uuid.UUID
    execution_id: uuid.UUID | None
    filename: str
    mime_type: str | None
    size_bytes: int | None
    storage_path: str
    storage_provider: str | None
    metadata: dict[str, Any]
    created_at: datetime | None

    @property
    def path(self) -> Path:
        """The file on disk (``storage_path``)."""
        return Path(self.storage_path)

    @property
    def exists(self) -> bool:
        """Whether the file is still on disk."""
        return self.storage_provider in (None, LOCAL_PROVIDER) and self.path.is_file()


@dataclass
class FilePruneResult:
    """What :func:`prune_orphan_files` removed."""

    rows: int = 0
    files_deleted: int = 0
    kept_outside: list[str] = field(default_factory=list)  # not under files_dir()
    kept_shared: list[str] = field(default_factory=list)  # another row points at it
    missing: int = 0  # already gone from disk
    errors: list[str] = field(default_factory=list)  # "path: reason"


def _record(row: File) -> FileRecord:
    return FileRecord(
        id=row.id,
        user_id=row.user_id,
        execution_id=row.execution_id,
        filename=row.filename,
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        storage_path=row.storage_path,
        storage_provider=row.storage_provider,
        metadata=dict(row.metadata_ or {}),
        created_at=row.created_at,
    )


def is_under(path: str | Path, root: str | Path) -> bool:
    """Whether ``path`` lies inside ``root`` (both resolved; ``root`` itself is not inside)."""
    try:
        resolved = Path(path).resolve()
        base = Path(root).resolve()
    except (OSError, RuntimeError):
        return False
    return resolved != base and resolved.is_relative_to(base)


class FileRepository:
    """The user's produced files, in the caller's session (transaction)."""

    def __init__(self, session: Session, user_id: uuid.UUID | str) -> None:
        self.session = session
        self.user_id = parse_id(user_id, "user")

    def _check_execution(self, execution_id: uuid.UUID) -> None:
        owned = self.session.scalar(
            select(Execution.id).where(
                Execution.id == execution_id, Execution.user_id == self.user_id
            )
        )
        if owned is None:
            raise NotFoundError(f"no execution with id {execution_id}")

    def record(
        self,
        execution_id: uuid.UUID | str | None,
        path: str | Path,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        size_bytes: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> FileRecord:
        """Insert one row for the file at ``path`` (absolute), produced by ``execution_id``.

        ``size_bytes`` defaults to the file's size on disk (None when it is gone);
        ``filename`` to the path's last part. :class:`NotFoundError` when the execution
        is not the user's.
        """
        return self.record_many(
            execution_id,
            [
                {
                    "path": path,
                    "filename": filename,
                    "mime_type": mime_type,
                    "size_bytes": size_bytes,
                    "metadata": metadata,
                }
            ],
        )[0]

    def record_many(
        self, execution_id: uuid.UUID | str | None, files: Iterable[Mapping[str, Any]]
    ) -> list[FileRecord]:
        """Insert one row per spec (``path``; optional ``filename``, ``mime_type``,
        ``size_bytes``, ``metadata``, ``created_at``: when the file was produced, else
        now), as :meth:`record` does."""
        run_id = parse_id(execution_id, "execution") if execution_id is not None else None
        if run_id is not None:
            self._check_execution(run_id)
        rows = []
        for spec in files:
            raw = spec.get("path")
            if not raw:
                raise ValueError("a produced file needs a path")
            path = Path(raw).expanduser()
            if not path.is_absolute():
                raise ValueError(f"the path of a produced file must be absolute: {str(raw)!r}")
            size = spec.get("size_bytes")
            if size is None:
                with contextlib.suppress(OSError):
                    size = path.stat().st_size
            row = File(
                user_id=self.user_id,
                execution_id=run_id,
                filename=spec.get("filename") or path.name,
                mime_type=spec.get("mime_type"),
                size_bytes=size,
                storage_path=str(path),
                storage_provider=LOCAL_PROVIDER,
                metadata_=dict(spec.get("metadata") or {}),
            )
            if spec.get("created_at") is not None:
                row.created_at = spec["created_at"]
            self.session.add(row)
            rows.append(row)
        if not rows:
            return []
        self.session.flush()
        for row in rows:
            self.session.refresh(row, ["created_at"])
        return [_record(row) for row in rows]

    def list_for_execution(self, execution_id: uuid.UUID | str) -> list[FileRecord]:
        """The files the user's execution produced, in the order they were produced."""
        run_id = parse_id(execution_id, "execution")
        rows = self.session.scalars(
            select(File)
            .where(File.execution_id == run_id, File.user_id == self.user_id)
            .order_by(File.created_at, File.filename, File.id)
        )
        return [_record(row) for row in rows]

    def list_orphans(self) -> list[FileRecord]:
        """The user's files whose execution was deleted (``execution_id`` NULL), oldest first."""
        rows = self.session.scalars(
            select(File)
            .where(File.execution_id.is_(None), File.user_id == self.user_id)
            .order_by(File.created_at, File.id)
        )
        return [_record(row) for row in rows]

    def count_orphans(self) -> int:
        """How many of the user's files lost their execution."""
        return self.session.scalar(
            select(func.count())
            .select_from(File)
            .where(File.execution_id.is_(None), File.user_id == self.user_id)
        )

    def get(self, file_id: uuid.UUID | str) -> FileRecord:
        """The user's file row with this id; :class:`NotFoundError` when there is none."""
        row = self.session.scalars(
            select(File).where(File.id == parse_id(file_id, "file"), File.user_id == self.user_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no file with id {file_id}")
        return _record(row)

    def delete_orphans(self) -> list[FileRecord]:
        """Delete the user's orphan rows (not the files on disk); returns what was deleted."""
        rows = self.session.scalars(
            delete(File)
            .where(File.execution_id.is_(None), File.user_id == self.user_id)
            .returning(File),
            execution_options={"synchronize_session": False},
        )
        return [_record(row) for row in rows]

    def paths_in_use(self, paths: Iterable[str]) -> set[str]:
        """Those of ``paths`` some remaining ``files`` row (of any user) still points at."""
        wanted = list(set(paths))
        if not wanted:
            return set()
        return set(
            self.session.scalars(select(File.storage_path).where(File.storage_path.in_(wanted)))
        )


def _remove_local(records: list[FileRecord], in_use: set[str], result: FilePruneResult) -> None:
    from glyphic_desktop.paths import files_dir

    root = files_dir()
    for record in records:
        path = record.storage_path
        if record.storage_provider not in (None, LOCAL_PROVIDER):
            continue
        if path in in_use:
            result.kept_shared.append(path)
            continue
        if not is_under(path, root):
            result.kept_outside.append(path)
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            result.missing += 1
            continue
        except OSError as exc:
            result.errors.append(f"{path}: {exc.strerror or exc}")
            continue
        result.files_deleted += 1
        parent = Path(path).parent
        if is_under(parent, root):  # the run's folder, once empty
            with contextlib.suppress(OSError):
                parent.rmdir()


def count_orphan_files(db: Database, user_id: uuid.UUID | None = None) -> int:
    """How many files lost their execution (of one user, or of everyone with None)."""
    query = select(func.count()).select_from(File).where(File.execution_id.is_(None))
    if user_id is not None:
        query = query.where(File.user_id == user_id)
    with db.session() as session:
        return session.scalar(query) or 0


def prune_orphan_files(db: Database, user_id: uuid.UUID | None = None) -> FilePruneResult:
    """Delete the files whose execution was deleted: rows first, then the files on disk.

    ``user_id`` None prunes every user's orphans (shared server). A file on disk is
    deleted only when it is under ``files_dir()`` and no remaining row points at it.
    """
    result = FilePruneResult()
    with db.session() as session:
        if user_id is None:
            deleted = [
                _record(row)
                for row in session.scalars(
                    delete(File).where(File.execution_id.is_(None)).returning(File),
                    execution_options={"synchronize_session": False},
                )
            ]
            repo = FileRepository(session, uuid.UUID(int=0))
        else:
            repo = FileRepository(session, user_id)
            deleted = repo.delete_orphans()
        in_use = repo.paths_in_use(record.storage_path for record in deleted)
    result.rows = len(deleted)
    _remove_local(deleted, in_use, result)
    return result
