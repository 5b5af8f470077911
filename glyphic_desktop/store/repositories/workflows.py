"""Workflows: create, load, save with optimistic versioning, list and search, rename, delete.

Every query is scoped to the repository's user; other users' public workflows are
visible read-only where a method takes ``include_public=True``.

Documents travel as JSON text both ways (``workflow_data::text`` out; in, the UTF-8
bytes pydantic-core writes, sent as a binary ``jsonb`` parameter) and are validated /
dumped by pydantic-core directly, with the cyclic garbage collector paused, so no
intermediate Python dicts are built and nothing is converted twice: no ``str`` is made
of the outgoing text, nor encoded again by the driver, nor copied by a ``text`` to
``jsonb`` cast on the server (bench/store.py measures 10,000-node save + load). Each
version snapshot is copied server-side (``INSERT ... SELECT`` from the workflow row), so a
document is sent to the server once per save. A save checks the port links while the
server parses the document it just sent (pipeline mode), not before sending it.
"""

from __future__ import annotations

import difflib
import gc
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError
from sqlalchemy import Row, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from glyphic_desktop.document.fast_json import document_json_bytes
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import ConflictError, GlyphicError, NotFoundError, UsageError
from glyphic_desktop.perf import gc_paused
from glyphic_desktop.store.repositories.schedules import (
    schedule_trigger_nodes,
    sync_schedule_triggers,
)

T = TypeVar("T")


class DuplicateNameError(GlyphicError):
    """A workflow with this name already exists for this user."""

    exit_code = 2  # the user's input clashes with what is stored


class ReadOnlyError(GlyphicError):
    """The workflow is another user's public workflow: it can be read and copied, not changed."""


@dataclass(frozen=True)
class WorkflowRecord:
    """A stored workflow with its document. ``owned`` is False for another user's public one."""

    id: uuid.UUID
    name: str
    description: str | None
    tags: tuple[str, ...]
    version: int
    is_active: bool
    is_public: bool
    document: WorkflowDocument
    created_at: datetime
    updated_at: datetime
    last_executed_at: datetime | None
    execution_count: int
    user_id: uuid.UUID | None = None
    owned: bool = True
    untrusted_nodes: tuple[str, ...] = ()
    untrusted_source: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether no node that came in from outside is waiting to be trusted."""
        return not self.untrusted_nodes


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of a workflow list: no document, plus the last run's time and status."""

    id: uuid.UUID
    name: str
    description: str | None
    tags: tuple[str, ...]
    version: int
    is_active: bool
    is_public: bool
    created_at: datetime
    updated_at: datetime
    last_executed_at: datetime | None
    execution_count: int
    last_run_at: datetime | None
    last_status: str | None
    owned: bool = True


# -- document <-> JSON text ----------------------------------------------------------


def dump_document_bytes(document: WorkflowDocument) -> bytes:
    """The document as compact UTF-8 JSON, port links derived from the edges.

    Exactly ``document.model_dump_json().encode()`` after the links are synced, without
    the ``str`` in between (decoding 4 MB and encoding it again for the driver: a few ms
    at 10,000 nodes), written in slices so that a save on a worker thread lets the GUI
    thread have the interpreter between them (:mod:`glyphic_desktop.document.fast_json`).
    """
    with gc_paused():
        if not document.port_links_in_sync():
            document.sync_port_links()
        return document_json_bytes(document)


def _already_json(data: bytes) -> bytes:
    return data


def _as_jsonb(data: bytes) -> Jsonb:
    """JSON bytes as a query parameter psycopg sends as a binary ``jsonb`` as they are."""
    return Jsonb(data, dumps=_already_json)


def document_param(document: WorkflowDocument) -> Jsonb:
    """The document as a query parameter for a ``jsonb`` value: its JSON bytes, which
    psycopg sends as a binary ``jsonb`` (so ``CAST(:data AS jsonb)`` is a no-op)."""
    return _as_jsonb(dump_document_bytes(document))


@contextmanager
def _building_long_lived_objects() -> Iterator[None]:
    """Pause the collector while a document is built, then hand the new objects to the
    oldest generation without a traversal.

    Re-enabling the collector after building a 10,000-node document would otherwise
    make the next allocation scan all ~500,000 new objects in generation 0 (measured:
    60-80 ms). ``gc.freeze()`` + ``gc.unfreeze()`` only splices lists: every tracked
    object moves to the oldest generation, where a later full collection still finds
    any garbage. Skipped when the application froze objects itself.
    """
    with gc_paused():
        yield
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()


def load_document(data: str, *, where: str) -> WorkflowDocument:
    """Validate stored JSON text into a document; ``where`` names it in the error."""
    try:
        with _building_long_lived_objects():
            return WorkflowDocument.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise GlyphicError(
            f"{where} is not a valid workflow document ({exc.error_count()} errors; "
            f"first at {path or '(root)'}: {first['msg']})"
        ) from exc


# -- SQL shared with versions.py -----------------------------------------------------

_RECORD_COLUMNS = (
    "w.id, w.user_id, w.name, w.description, w.tags, w.version, w.is_active, w.is_public, "
    "w.created_at, w.updated_at, w.last_executed_at, w.execution_count, "
    "w.untrusted_nodes, w.untrusted_source"
)

_SNAPSHOT = text(
    "INSERT INTO workflow_versions (workflow_id, version, workflow_data, change_summary, "
    "created_by) SELECT id, version, workflow_data, :summary, :uid FROM workflows WHERE id = :id"
)


def write_snapshot(
    session: Session, workflow_id: uuid.UUID, user_id: uuid.UUID, summary: str | None
) -> None:
    """Copy the workflow row's current document into ``workflow_versions`` (server-side)."""
    session.execute(_SNAPSHOT, {"id": workflow_id, "uid": user_id, "summary": summary})


def lock_for_save(
    session: Session, user_id: uuid.UUID, workflow_id: uuid.UUID, base_version: int
) -> tuple[str, int]:
    """Lock the user's workflow row (``FOR UPDATE``) and check ``base_version``.

    Returns (name, stored version). Raises :class:`ConflictError` carrying both
    versions when ``base_version`` is not the stored one, :class:`NotFoundError` or
    :class:`ReadOnlyError` when the user cannot write it.
    """
    row = session.execute(
        text("SELECT name, version FROM workflows WHERE id = :id AND user_id = :uid FOR UPDATE"),
        {"id": workflow_id, "uid": user_id},
    ).one_or_none()
    if row is None:
        raise_missing(session, user_id, workflow_id)
    stored = int(row.version or 1)
    if base_version != stored:
        raise ConflictError(
            f"workflow {row.name!r} changed since you opened it: you edited version "
            f"{base_version}, the stored one is version {stored}; reload it or save a copy",
            base_version=base_version,
            stored_version=stored,
        )
    return row.name, stored


def raise_missing(session: Session, user_id: uuid.UUID, workflow_id: uuid.UUID) -> None:
    """Raise :class:`ReadOnlyError` for another user's public workflow, else NotFoundError."""
    public = session.execute(
        text("SELECT name FROM workflows WHERE id = :id AND is_public AND user_id <> :uid"),
        {"id": workflow_id, "uid": user_id},
    ).one_or_none()
    if public is not None:
        raise ReadOnlyError(
            f"workflow {public.name!r} belongs to another user and is read-only; "
            "duplicate it to make your own copy"
        )
    raise NotFoundError(f"no workflow with id {workflow_id}")


@contextmanager
def _unique_name(name: str) -> Iterator[None]:
    """Turn a race on the per-user unique name index into :class:`DuplicateNameError`."""
    try:
        yield
    except IntegrityError as exc:
        if "idx_workflows_user_name" in str(exc.orig):
            raise DuplicateNameError(f"a workflow named {name!r} already exists") from exc
        raise


def _unstorable(name: str, exc: psycopg.Error) -> GlyphicError:
    """A value PostgreSQL's JSONB cannot hold (a NUL character in a string) as one clear
    error naming the workflow."""
    diag = exc.diag
    reason = (
        " ".join(part for part in (diag.message_primary, diag.message_detail) if part)
        or str(exc).splitlines()[0]
    )
    return GlyphicError(f"workflow {name!r} cannot be stored: {reason}")


def _write_document(
    session: Session, statement: str, params: dict[str, Any], *, name: str
) -> Row[Any]:
    """Run the INSERT/UPDATE that sends a document (see :func:`_unstorable`)."""
    try:
        return session.execute(text(statement), params).one()
    except DataError as exc:
        raise _unstorable(name, exc.orig) from exc


# updated_at = now() is what the updated_at trigger would write; set here, the trigger
# leaves the row alone instead of rebuilding it around a multi-megabyte document
# (measured: ~4 ms of a 10,000-node save).
_SAVE = (
    "UPDATE workflows AS w SET workflow_data = %(data)s, version = %(version)s, "
    f"updated_at = now() WHERE w.id = %(id)s RETURNING {_RECORD_COLUMNS}"
)


def _save_overlapped(
    session: Session, params: dict[str, Any], *, name: str, while_parsing: Callable[[], T]
) -> tuple[Any, T]:
    """Send the save's UPDATE, and call ``while_parsing`` while PostgreSQL parses the
    document; returns (the updated row, what ``while_parsing`` returned).

    ``while_parsing`` is the save's pure-Python work on the document (the port-link check:
    ~25 ms at 10,000 nodes; finding its Schedule nodes), and the parse happens in the
    server process (~90 ms), so in pipeline mode the two run side by side instead of one
    after the other. With a libpq older than 14 (no pipeline mode) they simply run one
    after the other.
    """
    connection = session.connection().connection.driver_connection
    cursor = connection.cursor(row_factory=namedtuple_row)
    try:
        with connection.pipeline() if psycopg.Pipeline.is_supported() else nullcontext():
            cursor.execute(_SAVE, params)
            result = while_parsing()
    except psycopg.DataError as exc:
        raise _unstorable(name, exc) from exc
    except psycopg.Error as exc:
        # Raised by the driver directly, not through SQLAlchemy: wrap it as SQLAlchemy
        # would (callers tell "database unreachable" by DBAPIError), and drop a
        # connection that died so the pool does not hand it out again.
        if connection.broken:
            session.connection().invalidate(exc)
        raise DBAPIError.instance(_SAVE, params, exc, psycopg.Error) from exc
    return cursor.fetchone(), result


def is_workflow_file(reference: str) -> bool:
    """Whether a workflow reference names an existing file (the first rule of resolving
    one; a name such as "If / Switch branching" is a name when no such file exists)."""
    try:
        return Path(reference).is_file()
    except (OSError, ValueError):
        return False


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``"; did you mean 'A' or 'B'?"`` for the closest of ``names`` (case-insensitive),
    else a pointer to ``glyphic list``."""
    by_folded: dict[str, str] = {}
    for candidate in names:
        by_folded.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.6)
    if not close:
        return "; 'glyphic list' lists them"
    quoted = [repr(by_folded[match]) for match in close]
    joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {joined}?"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise UsageError("a workflow name must not be empty")
    return cleaned


def _clean_tags(tags: Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        raise UsageError("tags must be a list of strings, not one string")
    seen: list[str] = []
    for tag in tags:
        cleaned = str(tag).strip()
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen


class WorkflowRepository:
    """Workflows of one user within one session (the caller's transaction)."""

    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.session = session
        self.user_id = user_id

    # -- helpers -------------------------------------------------------------------

    def _scope(self, include_public: bool) -> str:
        return "(w.user_id = :uid OR w.is_public)" if include_public else "w.user_id = :uid"

    def _record(self, row: Row[Any], document: WorkflowDocument) -> WorkflowRecord:
        return WorkflowRecord(
            id=row.id,
            name=row.name,
            description=row.description,
            tags=tuple(row.tags or ()),
            version=int(row.version or 1),
            is_active=bool(row.is_active),
            is_public=bool(row.is_public),
            document=document,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_executed_at=row.last_executed_at,
            execution_count=int(row.execution_count or 0),
            user_id=row.user_id,
            owned=row.user_id == self.user_id,
            untrusted_nodes=tuple(row.untrusted_nodes or ()),
            untrusted_source=row.untrusted_source,
        )

    def _load_row(self, row: Row[Any]) -> WorkflowRecord:
        document = load_document(row.data, where=f"stored workflow {row.name!r} ({row.id})")
        return self._record(row, document)

    def _ensure_name_free(self, name: str, *, except_id: uuid.UUID | None = None) -> None:
        taken = self.session.execute(
            text(
                "SELECT id FROM workflows WHERE user_id = :uid AND name = :name "
                "AND id IS DISTINCT FROM :except"
            ),
            {"uid": self.user_id, "name": name, "except": except_id},
        ).first()
        if taken is not None:
            raise DuplicateNameError(f"a workflow named {name!r} already exists")

    # -- create / read -------------------------------------------------------------

    def _reusable_id(self, document_id: str | None) -> uuid.UUID | None:
        """The document's id as a UUID when it is one and no workflow (of anyone) uses it."""
        try:
            candidate = uuid.UUID(str(document_id))
        except ValueError:
            return None
        taken = self.session.execute(
            text("SELECT 1 FROM workflows WHERE id = :id"), {"id": candidate}
        ).first()
        return None if taken else candidate

    def create(
        self,
        name: str,
        document: WorkflowDocument,
        *,
        description: str | None = None,
        tags: Iterable[str] = (),
        is_active: bool = True,
        is_public: bool = False,
        change_summary: str | None = None,
        keep_document_id: bool = False,
        arm_schedules: bool = True,
    ) -> WorkflowRecord:
        """Store a new workflow (version 1, with its version-1 snapshot).

        ``arm_schedules=False`` creates the schedules of its Schedule trigger nodes paused
        (for a workflow that came from a file).

        Sets ``document.id`` to the new workflow id and ``document.revision`` to 1. With
        ``keep_document_id`` the document's own id (a UUID no stored workflow uses) becomes
        the workflow id, so a shared file keeps its identity; otherwise a fresh id is made.
        Raises :class:`DuplicateNameError` when the user has a workflow of that name.
        """
        name = _clean_name(name)
        tag_list = _clean_tags(tags)
        self._ensure_name_free(name)
        workflow_id = self._reusable_id(document.id) if keep_document_id else None
        workflow_id = workflow_id or uuid.uuid4()
        old_id, old_revision = document.id, document.revision
        document.id, document.revision = str(workflow_id), 1
        try:
            data = document_param(document)
            with _unique_name(name):
                row = _write_document(
                    self.session,
                    "INSERT INTO workflows AS w (id, user_id, name, description, workflow_data, "
                    "version, is_active, is_public, tags) VALUES (:id, :uid, :name, :description, "
                    "CAST(:data AS jsonb), 1, :is_active, :is_public, CAST(:tags AS text[])) "
                    f"RETURNING {_RECORD_COLUMNS}",
                    {
                        "id": workflow_id,
                        "uid": self.user_id,
                        "name": name,
                        "description": description,
                        "data": data,
                        "is_active": is_active,
                        "is_public": is_public,
                        "tags": tag_list,
                    },
                    name=name,
                )
            write_snapshot(self.session, workflow_id, self.user_id, change_summary or "created")
            sync_schedule_triggers(
                self.session,
                self.user_id,
                workflow_id,
                schedule_trigger_nodes(document),
                arm_new=arm_schedules,
            )
        except BaseException:
            document.id, document.revision = old_id, old_revision
            raise
        return self._record(row, document)

    def get(self, workflow_id: uuid.UUID, *, include_public: bool = False) -> WorkflowRecord:
        """The workflow with this id; :class:`NotFoundError` when the user cannot see it."""
        row = self.session.execute(
            text(
                f"SELECT {_RECORD_COLUMNS}, w.workflow_data::text AS data FROM workflows w "
                f"WHERE w.id = :id AND {self._scope(include_public)}"
            ),
            {"id": workflow_id, "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no workflow with id {workflow_id}")
        return self._load_row(row)

    def get_by_name(self, name: str, *, include_public: bool = False) -> WorkflowRecord | None:
        """The workflow with this name (the user's own first), or None.

        Raises :class:`UsageError` when only other users' public workflows carry the
        name and there are several of them.
        """
        rows = self.session.execute(
            text(
                f"SELECT {_RECORD_COLUMNS}, w.workflow_data::text AS data FROM workflows w "
                f"WHERE w.name = :name AND {self._scope(include_public)} "
                "ORDER BY (w.user_id = :uid) DESC, w.updated_at DESC LIMIT 2"
            ),
            {"name": name, "uid": self.user_id},
        ).all()
        if not rows:
            return None
        if len(rows) > 1 and rows[0].user_id != self.user_id:
            raise UsageError(
                f"several shared workflows are named {name!r}; use the workflow id instead"
            )
        return self._load_row(rows[0])

    def resolve(
        self, name_or_id: str | uuid.UUID, *, include_public: bool = False
    ) -> WorkflowRecord:
        """The workflow a reference names: an id, else an exact name, else a unique
        case-insensitive name; else :class:`NotFoundError` in one line with the closest
        names ("did you mean …"). Files come first where files are accepted
        (:func:`is_workflow_file`); this is the rule every command and the editor share.
        """
        workflow_id = _as_uuid(name_or_id)
        if workflow_id is not None:
            try:
                return self.get(workflow_id, include_public=include_public)
            except NotFoundError:
                pass
        name = str(name_or_id).strip()
        record = self.get_by_name(name, include_public=include_public) if name else None
        if record is not None:
            return record
        rows = self.session.execute(
            text(
                f"SELECT w.id, w.name FROM workflows w WHERE {self._scope(include_public)} "
                "ORDER BY (w.user_id = :uid) DESC, w.name"
            ),
            {"uid": self.user_id},
        ).all()
        folded = [row for row in rows if row.name.casefold() == name.casefold()]
        if len(folded) == 1:
            return self.get(folded[0].id, include_public=include_public)
        if len(folded) > 1:
            names = ", ".join(repr(row.name) for row in folded[:5])
            raise NotFoundError(
                f"no workflow named exactly {name!r}; several differ only in case: {names}"
            )
        raise NotFoundError(
            f"no workflow named {name!r}"
            + (" (nor with that id)" if workflow_id is not None else "")
            + did_you_mean(name, [row.name for row in rows])
        )

    # -- save ----------------------------------------------------------------------

    def save(
        self,
        workflow_id: uuid.UUID,
        document: WorkflowDocument,
        *,
        base_version: int,
        change_summary: str | None = None,
    ) -> WorkflowRecord:
        """Store a new version of the document: the row and its snapshot, one transaction.

        ``base_version`` is the version the edit started from; when the stored version
        is different, :class:`ConflictError` (``.base_version``, ``.stored_version``)
        is raised and nothing is written. On success ``document.revision`` (and the
        returned record's ``version``) is the new version and ``document.id`` the id.
        """
        name, stored = lock_for_save(self.session, self.user_id, workflow_id, base_version)
        new_version = stored + 1
        old_id, old_revision = document.id, document.revision
        document.id, document.revision = str(workflow_id), new_version
        try:
            params = {"id": workflow_id, "version": new_version}
            with gc_paused():
                params["data"] = _as_jsonb(document_json_bytes(document))
            row, (in_sync, triggers) = _save_overlapped(
                self.session,
                params,
                name=name,
                while_parsing=lambda: (
                    document.port_links_in_sync(),
                    schedule_trigger_nodes(document),
                ),
            )
            if not in_sync:
                # The editor keeps links in sync as it edits, so this is rare: sync them
                # and send the document again in the same transaction.
                params["data"] = document_param(document)
                row, _ = _save_overlapped(
                    self.session, params, name=name, while_parsing=lambda: None
                )
            write_snapshot(self.session, workflow_id, self.user_id, change_summary)
            sync_schedule_triggers(self.session, self.user_id, workflow_id, triggers)
        except BaseException:
            document.id, document.revision = old_id, old_revision
            raise
        return self._record(row, document)

    # -- list / search -------------------------------------------------------------

    def list(
        self,
        *,
        search: str | None = None,
        tag: str | None = None,
        node_type: str | None = None,
        include_public: bool = False,
    ) -> list[WorkflowSummary]:
        """The user's workflows, newest change first, with the last run's time and status.

        ``search`` matches name or description (case-insensitive substring), ``tag`` one
        tag exactly, ``node_type`` workflows containing a node of that type: the
        containment query of data-model.md (``workflow_data->'nodes' @> '[{"type":
        ...}]'``) asked of the list of node types, ``jsonb_path_query_array(
        workflow_data, '$.nodes[*].type') @> '["gmail"]'``, which means the same and is
        what ``idx_workflows_node_types`` indexes. One query, no per-row lookups.
        """
        where = [self._scope(include_public)]
        params: dict[str, Any] = {"uid": self.user_id}
        if search:
            where.append("(w.name ILIKE :pattern OR w.description ILIKE :pattern)")
            params["pattern"] = f"%{_escape_like(search)}%"
        if tag:
            where.append("w.tags @> ARRAY[CAST(:tag AS text)]")
            params["tag"] = tag
        if node_type:
            where.append(
                "jsonb_path_query_array(w.workflow_data, '$.nodes[*].type') "
                "@> CAST(:types AS jsonb)"
            )
            params["types"] = json.dumps([node_type])
        rows = self.session.execute(
            text(
                f"SELECT {_RECORD_COLUMNS}, last.at AS last_run_at, last.status AS last_status "
                "FROM workflows w LEFT JOIN LATERAL ("
                "  SELECT COALESCE(e.started_at, e.created_at) AS at, e.status FROM executions e"
                "  WHERE e.workflow_id = w.id AND e.user_id = :uid"
                "  ORDER BY e.created_at DESC LIMIT 1"
                ") last ON true "
                f"WHERE {' AND '.join(where)} ORDER BY w.updated_at DESC, w.name"
            ),
            params,
        )
        return [
            WorkflowSummary(
                id=row.id,
                name=row.name,
                description=row.description,
                tags=tuple(row.tags or ()),
                version=int(row.version or 1),
                is_active=bool(row.is_active),
                is_public=bool(row.is_public),
                created_at=row.created_at,
                updated_at=row.updated_at,
                last_executed_at=row.last_executed_at,
                execution_count=int(row.execution_count or 0),
                last_run_at=row.last_run_at,
                last_status=row.last_status,
                owned=row.user_id == self.user_id,
            )
            for row in rows
        ]

    # -- small changes (no new version: the document is unchanged) -----------------

    def _update(self, workflow_id: uuid.UUID, assignments: str, params: dict[str, Any]) -> None:
        result = self.session.execute(
            text(f"UPDATE workflows SET {assignments} WHERE id = :id AND user_id = :uid"),
            {"id": workflow_id, "uid": self.user_id, **params},
        )
        if result.rowcount == 0:
            raise_missing(self.session, self.user_id, workflow_id)

    def rename(self, workflow_id: uuid.UUID, new_name: str) -> None:
        """Rename a workflow; :class:`DuplicateNameError` when the name is taken."""
        name = _clean_name(new_name)
        self._ensure_name_free(name, except_id=workflow_id)
        with _unique_name(name):
            self._update(workflow_id, "name = :name", {"name": name})

    def set_active(self, workflow_id: uuid.UUID, active: bool) -> None:
        """Enable or disable a workflow (``is_active`` gates its schedules and webhooks)."""
        self._update(workflow_id, "is_active = :active", {"active": bool(active)})

    def set_public(self, workflow_id: uuid.UUID, public: bool) -> None:
        """Share (read-only) or unshare a workflow with the other users of the server."""
        self._update(workflow_id, "is_public = :public", {"public": bool(public)})

    def set_tags(self, workflow_id: uuid.UUID, tags: Iterable[str]) -> None:
        """Replace a workflow's tags."""
        self._update(workflow_id, "tags = CAST(:tags AS text[])", {"tags": _clean_tags(tags)})

    def set_description(self, workflow_id: uuid.UUID, description: str | None) -> None:
        """Replace a workflow's description."""
        self._update(workflow_id, "description = :description", {"description": description})

    # -- trust (0005_workflow_trust.sql; the policy is engine/trust.py) -------------

    def mark_untrusted(self, workflow_id: uuid.UUID, node_ids: Iterable[str], source: str) -> None:
        """Add ``node_ids`` to the nodes that came in from outside (``source`` says from
        where) and wait to be trusted. No ids: nothing changes."""
        ids = sorted({str(node_id) for node_id in node_ids})
        if not ids:
            return
        self._update(
            workflow_id,
            "untrusted_nodes = ARRAY(SELECT DISTINCT unnest(untrusted_nodes || "
            "CAST(:ids AS text[])) ORDER BY 1), untrusted_source = :source",
            {"ids": ids, "source": source},
        )

    def mark_trusted(
        self, workflow_id: uuid.UUID, node_ids: Iterable[str] | None = None
    ) -> tuple[list[str], str | None]:
        """Trust ``node_ids`` (None: every node) of the workflow; returns the ids that
        were untrusted before and where they came from."""
        row = self.session.execute(
            text(
                "SELECT untrusted_nodes, untrusted_source FROM workflows "
                "WHERE id = :id AND user_id = :uid FOR UPDATE"
            ),
            {"id": workflow_id, "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise_missing(self.session, self.user_id, workflow_id)
        before = list(row.untrusted_nodes or ())
        if not before:
            return [], None
        drop = set(before) if node_ids is None else {str(node_id) for node_id in node_ids}
        left = [node_id for node_id in before if node_id not in drop]
        self._update(
            workflow_id,
            "untrusted_nodes = CAST(:left AS text[]), untrusted_source = :source",
            {"left": left, "source": row.untrusted_source if left else None},
        )
        return [node_id for node_id in before if node_id in drop], row.untrusted_source

    def trust_state(self, workflow_id: uuid.UUID) -> tuple[tuple[str, ...], str | None]:
        """(untrusted node ids, where they came from) of a workflow the user can see."""
        row = self.session.execute(
            text(
                "SELECT w.untrusted_nodes, w.untrusted_source FROM workflows w "
                f"WHERE w.id = :id AND {self._scope(True)}"
            ),
            {"id": workflow_id, "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no workflow with id {workflow_id}")
        return tuple(row.untrusted_nodes or ()), row.untrusted_source

    def delete(self, workflow_id: uuid.UUID) -> None:
        """Delete a workflow with its versions, runs, schedules and webhooks (cascade)."""
        result = self.session.execute(
            text("DELETE FROM workflows WHERE id = :id AND user_id = :uid"),
            {"id": workflow_id, "uid": self.user_id},
        )
        if result.rowcount == 0:
            raise_missing(self.session, self.user_id, workflow_id)

    def duplicate(self, workflow_id: uuid.UUID, new_name: str) -> WorkflowRecord:
        """Copy a workflow (the user's own or a public one) under a new name, as version 1.

        The copy is the user's, private, with fresh run counters; its document gets
        the new id. The document is copied server-side. A copy of the user's own workflow
        keeps its untrusted nodes; in a copy of another user's workflow every node came
        from outside (engine/trust.py refuses those that run code until trusted).
        """
        name = _clean_name(new_name)
        self._ensure_name_free(name)
        new_id = uuid.uuid4()
        with _unique_name(name):
            row = self.session.execute(
                text(
                    "INSERT INTO workflows (id, user_id, name, description, workflow_data, "
                    "version, is_active, is_public, tags, untrusted_nodes, untrusted_source) "
                    "SELECT :new_id, :uid, :name, w.description, jsonb_set(jsonb_set("
                    "w.workflow_data, '{id}', to_jsonb(CAST(:new_id AS text))), "
                    "'{revision}', '1'), 1, w.is_active, false, w.tags, "
                    "CASE WHEN w.user_id = :uid THEN w.untrusted_nodes ELSE ARRAY("
                    "SELECT jsonb_array_elements_text(jsonb_path_query_array("
                    "w.workflow_data, '$.nodes[*].id'))) END, "
                    "CASE WHEN w.user_id = :uid THEN w.untrusted_source "
                    "ELSE 'copied from another user''s workflow ' || quote_literal(w.name) END "
                    "FROM workflows w "
                    f"WHERE w.id = :id AND {self._scope(True)} "
                    "RETURNING (SELECT name FROM workflows WHERE id = :id) AS source_name"
                ),
                {"new_id": new_id, "uid": self.user_id, "name": name, "id": workflow_id},
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no workflow with id {workflow_id}")
        write_snapshot(self.session, new_id, self.user_id, f"duplicated from {row.source_name!r}")
        return self.get(new_id)
