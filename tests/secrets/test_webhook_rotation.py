"""Master-key rotation re-encrypts webhook secrets too: every webhook stays verifiable."""

from __future__ import annotations

from sqlalchemy import text

from glyphic_desktop.agent.webhooks import sign, verify_signature
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.secrets.crypto import blob_key_id
from glyphic_desktop.secrets.keys import FileKeyStore, load_keyset
from glyphic_desktop.secrets.rotation import rotate_master_key
from glyphic_desktop.store.repositories.integrations import IntegrationRepository
from glyphic_desktop.store.repositories.webhooks import (
    STORED_PREFIX,
    WebhookRepository,
    find_webhook_for_path,
    stored_key_id,
)
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


def test_rotation_keeps_webhooks_verifiable(db, user_id, other_user_id) -> None:
    keyset = load_keyset()
    secrets: dict[str, str] = {}
    with db.session() as session:
        for owner, name in ((user_id, "Mine"), (other_user_id, "Theirs")):
            WorkflowRepository(session, owner).create(name, WorkflowDocument())
            _, secrets[name] = WebhookRepository(session, owner, keyset).add(name, name.lower())
        IntegrationRepository(session, user_id, keyset).create("bearer", "T", {"token": "tok"})
    with db.session() as session:
        before = dict(session.execute(text("SELECT path, secret FROM webhooks")).all())
    assert {stored_key_id(value) for value in before.values()} == {keyset.current_id}

    result = rotate_master_key(db)

    assert (result.rows, result.webhooks) == (1, 2)
    assert result.retired == [keyset.current_id]  # no webhook still needs the old key
    stored = FileKeyStore().load()
    assert stored.ids == [result.new_key_id]
    with db.session() as session:
        after = dict(session.execute(text("SELECT path, secret FROM webhooks")).all())
    for path, value in after.items():
        assert value != before[path] and value.startswith(STORED_PREFIX)
        assert stored_key_id(value) == result.new_key_id
    body = b'{"ok": true}'
    for name, secret in secrets.items():
        with db.session() as session:
            _, decrypted = find_webhook_for_path(session, name.lower(), stored)
        assert decrypted == secret
        header = sign(secret, body, 1_000)
        assert verify_signature(header, decrypted, body, 1_000, 300) is None
    with db.session() as session:
        blob = session.execute(text("SELECT credentials_encrypted FROM integrations")).scalar_one()
    assert blob_key_id(blob) == result.new_key_id
