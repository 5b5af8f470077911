"""The single call points between stored workflows and workflow files.

``glyphic export`` turns every stored document into file data through
:func:`export_document_data`, and ``glyphic import`` passes every document it is
about to store through :func:`prepare_imported_document`. Both are where credential
bindings are stripped to bare references (export) and re-bound by type and name
(import); see ``secrets/references.py``. Nothing else in the transfer code touches
credentials.

Pinned data (``data.pinnedData``) is exported with the node unless ``strip_pins``; the
value of every secret of the user's stored credentials found in it is masked (``••••``,
``secrets/masking.py``), which needs the master key when the user has credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from glyphic_desktop.document.model import WorkflowDocument


def export_document_data(
    document: WorkflowDocument,
    session: Session,
    user_id: uuid.UUID,
    *,
    strip_pins: bool = False,
) -> dict[str, Any]:
    """The JSON-ready data written to an export file for ``document`` (never a secret).

    ``document`` is not changed. Credentials: strip them here. Pinned data: left out
    with ``strip_pins``, else masked against the user's credentials.
    """
    from glyphic_desktop.secrets.references import strip_credentials
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    copy = strip_credentials(document, IntegrationRepository(session, user_id, None))
    pinned = [node for node in copy.nodes if node.data.pinnedData is not None]
    if pinned and strip_pins:
        for node in pinned:
            node.data.pinnedData = None
    elif pinned:
        masker = credential_masker(session, user_id)
        if masker:
            for node in pinned:
                node.data.pinnedData = masker.mask(node.data.pinnedData)
    return copy.to_data()


def credential_masker(session: Session, user_id: uuid.UUID) -> Any:
    """A SecretMasker of every secret of the user's stored credentials (None without any).

    Needs the master key when there are credentials; without it, one line saying so.
    """
    from glyphic_desktop.errors import GlyphicError
    from glyphic_desktop.secrets.keys import SecretKeyError, load_keyset
    from glyphic_desktop.secrets.masking import SecretMasker
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    infos = IntegrationRepository(session, user_id, None).list()
    if not infos:
        return None
    try:
        keyset = load_keyset(create=False)
    except SecretKeyError as exc:
        keyset, reason = None, exc.message
    else:
        reason = "no master key is available"
    if keyset is None:
        raise GlyphicError(
            f"the workflow has pinned data, which is checked for your credentials' secrets "
            f"before export, but {reason}; export it with --strip-pins instead",
            exit_code=2,
        )
    repo = IntegrationRepository(session, user_id, keyset)
    masker = SecretMasker()
    for info in infos:
        repo.get_decrypted(info.id).register_secrets(masker)
    return masker


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
