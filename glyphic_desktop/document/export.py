"""The single call points between stored workflows and workflow files.

``glyphic export`` turns every stored document into file data through
:func:`export_document_data`, and ``glyphic import`` passes every document it is
about to store through :func:`prepare_imported_document`. Both are where credential
bindings are stripped to bare references (export) and re-bound by type and name
(import); see ``secrets/references.py``. Nothing else in the transfer code touches
credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from glyphic_desktop.document.model import WorkflowDocument


def export_document_data(
    document: WorkflowDocument, session: Session, user_id: uuid.UUID
) -> dict[str, Any]:
    """The JSON-ready data written to an export file for ``document`` (never a secret).

    ``document`` is not changed. Credentials: strip them here.
    """
    from glyphic_desktop.secrets.references import strip_credentials
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    return strip_credentials(document, IntegrationRepository(session, user_id, None)).to_data()


def prepare_imported_document(
    document: WorkflowDocument, session: Session, user_id: uuid.UUID
) -> tuple[WorkflowDocument, list[str]]:
    """The document to store for an imported file, and notes for the user.

    Runs in the import's transaction, before anything is written. Credentials:
    re-bind the file's references to the user's credentials here and report the
    unresolved ones in the notes.
    """
    from glyphic_desktop.secrets.references import bind_credentials
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    result = bind_credentials(document, IntegrationRepository(session, user_id, None))
    message = result.message()
    return result.document, [message] if message else []
