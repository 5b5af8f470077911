"""Workflow versions: the snapshots written on every save; list, load and restore them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.repositories.schedules import (
    schedule_trigger_nodes,
    sync_schedule_triggers,
)
from glyphic_desktop.store.repositories.workflows import (
    WorkflowRecord,
    WorkflowRepository,
    load_document,
    lock_for_save,
    raise_missing,
    write_snapshot,
)


@dataclass(frozen=True)
class VersionSummary:
    """One snapshot, without its document."""

    workflow_id: uuid.UUID
    version: int
    change_summary: str | None
    created_by: uuid.UUID | None
    created_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    """One snapshot with its document."""

    workflow_id: uuid.UUID
    version: int
    change_summary: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    document: WorkflowDocument


class VersionRepository:
    """The version history of one user's workflows, within one session."""

    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.session = session
        self.user_id = user_id

    def _check_owned(self, workflow_id: uuid.UUID) -> None:
        owned = self.session.execute(
            text("SELECT 1 FROM workflows WHERE id = :id AND user_id = :uid"),
            {"id": workflow_id, "uid": self.user_id},
        ).first()
        if owned is None:
            raise_missing(self.session, self.user_id, workflow_id)

    def list(self, workflow_id: uuid.UUID) -> list[VersionSummary]:
        """Every snapshot of the workflow, newest first."""
        self._check_owned(workflow_id)
        rows = self.session.execute(
            text(
                "SELECT workflow_id, version, change_summary, created_by, created_at "
                "FROM workflow_versions WHERE workflow_id = :id ORDER BY version DESC"
            ),
            {"id": workflow_id},
        )
        return [
            VersionSummary(r.workflow_id, r.version, r.change_summary, r.created_by, r.created_at)
            for r in rows
        ]

    def get(self, workflow_id: uuid.UUID, version: int) -> VersionRecord:
        """One snapshot with its document; :class:`NotFoundError` naming the version."""
        self._check_owned(workflow_id)
        row = self.session.execute(
            text(
                "SELECT workflow_id, version, change_summary, created_by, created_at, "
                "workflow_data::text AS data FROM workflow_versions "
                "WHERE workflow_id = :id AND version = :version"
            ),
            {"id": workflow_id, "version": version},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"workflow {workflow_id} has no version {version}")
        document = load_document(row.data, where=f"version {version} of workflow {workflow_id}")
        return VersionRecord(
            row.workflow_id,
            row.version,
            row.change_summary,
            row.created_by,
            row.created_at,
            document,
        )

    def restore(
        self,
        workflow_id: uuid.UUID,
        version: int,
        *,
        base_version: int,
        change_summary: str | None = None,
    ) -> WorkflowRecord:
        """Write a new version whose document is the snapshot of ``version``.

        Same conflict rule as a save: ``base_version`` must be the stored version,
        else :class:`ConflictError` and nothing is written. The copy is made
        server-side; the document's ``id`` and ``revision`` are set to the workflow's.
        """
        _name, stored = lock_for_save(self.session, self.user_id, workflow_id, base_version)
        new_version = stored + 1
        result = self.session.execute(
            text(
                "UPDATE workflows w SET version = :new, workflow_data = jsonb_set(jsonb_set("
                "v.workflow_data, '{revision}', to_jsonb(CAST(:new AS integer))), '{id}', "
                "to_jsonb(CAST(w.id AS text))) FROM workflow_versions v "
                "WHERE w.id = :id AND v.workflow_id = w.id AND v.version = :old"
            ),
            {"id": workflow_id, "new": new_version, "old": version},
        )
        if result.rowcount == 0:
            raise NotFoundError(f"workflow {workflow_id} has no version {version}")
        write_snapshot(
            self.session, workflow_id, self.user_id, change_summary or f"restored version {version}"
        )
        record = WorkflowRepository(self.session, self.user_id).get(workflow_id)
        sync_schedule_triggers(
            self.session, self.user_id, workflow_id, schedule_trigger_nodes(record.document)
        )
        return record
