"""WebhookRepository: secrets encrypted at rest, rotation, path rules, scoping to the user."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import NotFoundError, UsageError
from glyphic_desktop.secrets.crypto import CorruptCredentialError, KeyMismatchError
from glyphic_desktop.secrets.keys import Keyset, SecretKeyError, generate_key, load_keyset
from glyphic_desktop.store.models import User
from glyphic_desktop.store.repositories.webhooks import (
    STORED_PREFIX,
    DuplicateWebhookPathError,
    WebhookRepository,
    find_webhook_for_path,
)
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = pytest.mark.usefixtures("no_os_keyring")


def make_workflow(db, owner, name: str = "Flow") -> uuid.UUID:
    with db.session() as session:
        return WorkflowRepository(session, owner).create(name, WorkflowDocument()).id


@pytest.fixture
def other_user(db) -> uuid.UUID:
    with db.session() as session:
        user = User(email="other@example.test", name="other")
        session.add(user)
        session.flush()
        return user.id


def add(db, owner, workflow: str = "Flow", **kw):
    with db.session() as session:
        return WebhookRepository(session, owner).add(workflow, **kw)


def raw_secret(db, webhook_id) -> str:
    with db.session() as session:
        return session.execute(
            text("SELECT secret FROM webhooks WHERE id = :id"), {"id": webhook_id}
        ).scalar_one()


def test_add_stores_the_secret_encrypted_and_lookup_decrypts_it(db, user_id) -> None:
    workflow_id = make_workflow(db, user_id)
    record, secret = add(db, user_id, path="/github/push", method="post")
    assert (record.path, record.method, record.url_path) == (
        "github/push",
        "POST",
        "/webhooks/github/push",
    )
    assert (record.workflow_id, record.workflow_name, record.user_id) == (
        workflow_id,
        "Flow",
        user_id,
    )
    assert record.is_active and record.workflow_active and record.trigger_count == 0
    assert len(secret) >= 43  # 32 bytes, url-safe base64
    stored = raw_secret(db, record.id)
    assert stored.startswith(STORED_PREFIX)
    assert secret not in stored
    with db.session() as session:
        found, decrypted = find_webhook_for_path(session, "github/push")
    assert found == record and decrypted == secret
    with db.session() as session:
        assert find_webhook_for_path(session, "github/other") is None


def test_default_path_is_a_random_slug_and_workflow_by_id(db, user_id) -> None:
    workflow_id = make_workflow(db, user_id)
    first, s1 = add(db, user_id, str(workflow_id))
    second, s2 = add(db, user_id, str(workflow_id))
    assert first.path != second.path and s1 != s2
    assert len(first.path) >= 16 and first.path.replace("-", "").replace("_", "").isalnum()


def test_list_never_returns_the_secret(db, user_id) -> None:
    make_workflow(db, user_id)
    _, secret = add(db, user_id, path="b")
    add(db, user_id, path="a", method="PUT")
    with db.session() as session:
        items = WebhookRepository(session, user_id).list()
    assert [(i.path, i.method, i.workflow_name) for i in items] == [
        ("a", "PUT", "Flow"),
        ("b", "POST", "Flow"),
    ]
    assert secret not in repr(items)
    assert not hasattr(items[0], "secret")


def test_rotate_secret_replaces_it(db, user_id) -> None:
    make_workflow(db, user_id)
    record, old = add(db, user_id, path="hook")
    old_stored = raw_secret(db, record.id)
    with db.session() as session:
        new = WebhookRepository(session, user_id).rotate_secret(record.id)
    assert new != old and new not in raw_secret(db, record.id)
    assert raw_secret(db, record.id) != old_stored
    with db.session() as session:
        assert find_webhook_for_path(session, "hook")[1] == new
    with db.session() as session:  # by path works too
        newer = WebhookRepository(session, user_id).rotate_secret("hook")
    assert newer != new


def test_duplicate_path_is_one_clear_error_even_across_users(db, user_id, other_user) -> None:
    make_workflow(db, user_id)
    make_workflow(db, other_user)
    add(db, user_id, path="shared")
    with pytest.raises(
        DuplicateWebhookPathError, match=r"^the webhook path 'shared' is already taken$"
    ):
        add(db, user_id, path="/shared/")
    with pytest.raises(DuplicateWebhookPathError, match="already taken"):
        add(db, other_user, path="shared")
    assert DuplicateWebhookPathError("x").exit_code == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "must not be empty"),
        ("/", "must not be empty"),
        ("a b", "may only use letters, digits"),
        ("a//b", "may only use letters, digits"),
        ("a?b=1", "may only use letters, digits"),
        ("a/../b", "must not contain '.' or '..'"),
        ("x" * 201, "longer than 200"),
    ],
)
def test_bad_paths_are_refused(db, user_id, path: str, message: str) -> None:
    make_workflow(db, user_id)
    with pytest.raises(UsageError, match=message):
        add(db, user_id, path=path)


def test_bad_method_and_unknown_workflow(db, user_id) -> None:
    make_workflow(db, user_id)
    with pytest.raises(UsageError, match="webhook method 'FETCH' is not one of GET, POST"):
        add(db, user_id, method="FETCH")
    with pytest.raises(NotFoundError, match="no workflow named 'Nope'"):
        add(db, user_id, "Nope")


def test_scoped_to_the_user(db, user_id, other_user) -> None:
    make_workflow(db, user_id)
    make_workflow(db, other_user, "Theirs")
    theirs, _ = add(db, other_user, "Theirs", path="theirs")
    with pytest.raises(NotFoundError, match="no workflow named 'Theirs'"):
        add(db, user_id, "Theirs")
    with db.session() as session:
        repo = WebhookRepository(session, user_id)
        assert repo.list() == []
        for action in (repo.get, repo.rotate_secret, repo.remove):
            with pytest.raises(NotFoundError, match="no webhook with id or path"):
                action(theirs.id)
        with pytest.raises(NotFoundError):
            repo.set_active("theirs", False)
    with db.session() as session:  # the listener's lookup sees every user
        assert find_webhook_for_path(session, "theirs")[0].user_id == other_user


def test_set_active_and_remove(db, user_id) -> None:
    workflow_id = make_workflow(db, user_id)
    record, _ = add(db, user_id, path="p")
    with db.session() as session:
        repo = WebhookRepository(session, user_id)
        assert repo.set_active(record.id, False).is_active is False
        assert repo.set_active("p", True).serving
        WorkflowRepository(session, user_id).set_active(workflow_id, False)
        assert repo.get(record.id).serving is False
        removed = repo.remove("p")
        assert removed.id == record.id and repo.list() == []
    with (
        pytest.raises(NotFoundError, match="no webhook with id or path 'nothing'"),
        db.session() as session,
    ):
        WebhookRepository(session, user_id).remove("nothing")


def test_a_secret_moved_to_another_row_or_under_another_key_does_not_decrypt(db, user_id) -> None:
    make_workflow(db, user_id)
    first, _ = add(db, user_id, path="one")
    add(db, user_id, path="two")
    with db.session() as session:
        session.execute(
            text(
                "UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE path = 'one') "
                "WHERE path = 'two'"
            )
        )
    with (
        db.session() as session,
        pytest.raises(CorruptCredentialError, match="webhook 'two' is corrupt or was moved"),
    ):
        find_webhook_for_path(session, "two")
    with (
        db.session() as session,
        pytest.raises(KeyMismatchError, match="does not match the secret of webhook 'one'"),
    ):
        find_webhook_for_path(session, "one", Keyset.from_keys(generate_key()))
    with db.session() as session:
        session.execute(text("UPDATE webhooks SET secret = 'plain' WHERE path = 'one'"))
    with (
        db.session() as session,
        pytest.raises(CorruptCredentialError, match="webhook 'one' is corrupt"),
    ):
        find_webhook_for_path(session, "one")
    assert first.path == "one"


def test_adding_under_a_key_that_does_not_match_the_stored_secrets_is_refused(db, user_id) -> None:
    make_workflow(db, user_id)
    add(db, user_id, path="one")
    wrong = Keyset.from_keys(generate_key())
    with (
        db.session() as session,
        pytest.raises(SecretKeyError, match="does not match the stored webhook secrets"),
    ):
        WebhookRepository(session, user_id, wrong).add("Flow", "two")
    assert load_keyset() is not None
