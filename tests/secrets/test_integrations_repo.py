"""IntegrationRepository on a real PostgreSQL database: CRUD, scoping, and every bad input
leaving what is already stored intact."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from glyphic_desktop.errors import NotFoundError, UsageError
from glyphic_desktop.secrets.crypto import CorruptCredentialError, KeyMismatchError
from glyphic_desktop.secrets.keys import Keyset, SecretKeyError, generate_key
from glyphic_desktop.secrets.types import CredentialFieldsError, UnknownCredentialType
from glyphic_desktop.store.repositories.integrations import (
    DuplicateCredentialError,
)

SMTP = {
    "host": "mail.example.test",
    "port": 465,
    "security": "tls",
    "user": "mailer",
    "password": "smtp-pass-SECRET-1",
    "from_address": "bot@example.test",
}
SLACK = {"bot_token": "xoxb-SECRET-token-2"}
SECRETS = ("smtp-pass-SECRET-1", "xoxb-SECRET-token-2")


def raw_rows(db) -> list[dict]:
    with db.session() as session:
        return [dict(row._mapping) for row in session.execute(text("SELECT * FROM integrations"))]


def assert_no_plaintext(db, *secrets: str) -> None:
    for row in raw_rows(db):
        for value in row.values():
            blob = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
            for secret in secrets:
                assert secret.encode() not in blob


def snapshot(db) -> list[tuple]:
    rows = raw_rows(db)
    return sorted(
        (str(r["id"]), r["type"], r["name"], bytes(r["credentials_encrypted"]), r["key_id"])
        for r in rows
    )


@pytest.fixture
def stored(repo_factory):
    """Two credentials of the local user: smtp 'Work' and slack 'Team'."""
    with repo_factory() as repo:
        work = repo.create("smtp", "Work", SMTP, {"note": "office"})
        team = repo.create("slack", "Team", SLACK)
    return work, team


def test_create_list_get_decrypted(db, repo_factory, keyset: Keyset, stored) -> None:
    work, team = stored
    assert work.type == "smtp" and work.name == "Work" and work.is_active
    assert work.key_id == keyset.current_id
    assert work.config == {"note": "office"}
    assert work.created_at is not None
    with repo_factory() as repo:
        listed = repo.list()
        assert [(i.type, i.name) for i in listed] == [("slack", "Team"), ("smtp", "Work")]
        assert all(s not in repr(listed) for s in SECRETS)
        assert repo.get_decrypted("Work").fields == SMTP
        slack = repo.get_decrypted(team.id)
        assert slack.fields == {**SLACK, "base_url": "https://slack.com/api"}
        assert "xoxb" not in repr(slack)
        assert repo.get_by_type_and_name("smtp", "Work").id == work.id
        assert repo.get_by_type_and_name("smtp", "Nope") is None
        assert [i.name for i in repo.list("slack")] == ["Team"]
    assert_no_plaintext(db, *SECRETS)
    assert {r["key_id"] for r in raw_rows(db)} == {keyset.current_id}


def test_listing_needs_no_key(repo_factory, stored) -> None:
    with repo_factory(keys=None) as repo:
        assert len(repo.list()) == 2
        with pytest.raises(SecretKeyError, match="no secret key was loaded"):
            repo.get_decrypted("Work")


def test_credentials_are_scoped_to_their_user(repo_factory, stored, other_user_id) -> None:
    work, _ = stored
    with repo_factory(owner=other_user_id) as other:
        assert other.list() == []
        with pytest.raises(NotFoundError, match="no credential named 'Work'"):
            other.get_decrypted("Work")
        with pytest.raises(NotFoundError):
            other.get_decrypted(work.id)
        with pytest.raises(NotFoundError):
            other.delete(work.id)
        other.create("smtp", "Work", {**SMTP, "password": "theirs-1234"})
    with repo_factory() as repo:
        assert repo.get_decrypted("Work").fields["password"] == SMTP["password"]


def test_duplicate_name_is_refused_and_the_original_kept(db, repo_factory, stored) -> None:
    before = snapshot(db)
    with (
        pytest.raises(DuplicateCredentialError, match="a smtp credential named 'Work' already"),
        repo_factory() as repo,
    ):
        repo.create("smtp", "Work", {**SMTP, "password": "overwrite-attempt"})
    assert snapshot(db) == before
    with repo_factory() as repo:
        assert repo.get_decrypted("Work").fields == SMTP


def test_unknown_type_stores_nothing(db, repo_factory, stored) -> None:
    before = snapshot(db)
    with (
        pytest.raises(UnknownCredentialType, match="unknown credential type 'gmail'"),
        repo_factory() as repo,
    ):
        repo.create("gmail", "Mail", {"token": "x"})
    assert snapshot(db) == before


def test_bad_fields_name_each_field_and_store_nothing(db, repo_factory, stored) -> None:
    before = snapshot(db)
    with pytest.raises(CredentialFieldsError) as info, repo_factory() as repo:
        repo.create("smtp", "Other", {"port": "x", "security": "ssl", "pass": "p"})
    message = info.value.message
    assert message.startswith("smtp credential 'Other': host: Field required")
    for name in ("port:", "security:", "pass: not a field of smtp"):
        assert name in message
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 201])
def test_bad_names_are_refused(db, repo_factory, name: str) -> None:
    with pytest.raises(UsageError), repo_factory() as repo:
        repo.create("bearer", name, {"token": "t"})
    assert raw_rows(db) == []


def test_wrong_key_cannot_read_or_write_and_nothing_is_lost(
    db, repo_factory, keyset: Keyset, stored
) -> None:
    before = snapshot(db)
    wrong = Keyset.from_keys(generate_key())
    with repo_factory(keys=wrong) as repo, pytest.raises(KeyMismatchError) as info:
        repo.get_decrypted("Work")
    assert info.value.message == "the secret key does not match the data of credential 'Work'"
    with (
        pytest.raises(SecretKeyError, match="does not match the stored credentials"),
        repo_factory(keys=wrong) as repo,
    ):
        repo.create("bearer", "New", {"token": "tok"})
    with pytest.raises(KeyMismatchError), repo_factory(keys=wrong) as repo:
        repo.update("Work", fields={"password": "changed"})
    with pytest.raises(SecretKeyError), repo_factory(keys=wrong) as repo:
        repo.update("Work", fields={**SMTP, "password": "x"}, replace_fields=True, type="smtp")
    assert snapshot(db) == before
    with repo_factory() as repo:
        assert repo.get_decrypted("Work").fields == SMTP


def test_blob_moved_to_another_row_fails_and_the_source_row_is_intact(
    db, repo_factory, stored
) -> None:
    work, team = stored
    with db.session() as session:
        session.execute(
            text(
                "UPDATE integrations SET credentials_encrypted = "
                "(SELECT credentials_encrypted FROM integrations WHERE id = :src) WHERE id = :dst"
            ),
            {"src": work.id, "dst": team.id},
        )
    with repo_factory() as repo:
        with pytest.raises(CorruptCredentialError) as info:
            repo.get_decrypted("Team")
        assert info.value.message == "credential 'Team' is corrupt or was moved from another row"
        assert repo.get_decrypted("Work").fields == SMTP


def test_blob_moved_to_another_users_row_fails(db, repo_factory, stored, other_user_id) -> None:
    work, _ = stored
    with repo_factory(owner=other_user_id) as other:
        theirs = other.create("smtp", "Work", {**SMTP, "password": "their-own"})
    with db.session() as session:
        session.execute(
            text(
                "UPDATE integrations SET credentials_encrypted = "
                "(SELECT credentials_encrypted FROM integrations WHERE id = :src) WHERE id = :dst"
            ),
            {"src": work.id, "dst": theirs.id},
        )
    with repo_factory(owner=other_user_id) as other, pytest.raises(CorruptCredentialError):
        other.get_decrypted("Work")


def test_one_flipped_byte_in_the_database_is_caught(db, repo_factory, stored) -> None:
    work, _ = stored
    with db.session() as session:
        session.execute(
            text(
                "UPDATE integrations SET credentials_encrypted = set_byte(credentials_encrypted, "
                "length(credentials_encrypted) - 3, "
                "get_byte(credentials_encrypted, length(credentials_encrypted) - 3) # 1) "
                "WHERE id = :id"
            ),
            {"id": work.id},
        )
    with repo_factory() as repo:
        with pytest.raises(CorruptCredentialError, match="'Work' is corrupt"):
            repo.get_decrypted("Work")
        assert repo.get_decrypted("Team").fields["bot_token"] == SLACK["bot_token"]


def test_update_merges_reencrypts_and_renames(db, repo_factory, keyset, stored) -> None:
    work, _ = stored
    old_blob = {r["name"]: bytes(r["credentials_encrypted"]) for r in raw_rows(db)}["Work"]
    with repo_factory() as repo:
        info = repo.update("Work", fields={"password": "new-pass-777"}, name="Office")
        assert info.id == work.id and info.name == "Office"
        assert repo.get_decrypted("Office").fields == {**SMTP, "password": "new-pass-777"}
        repo.update("Office", config={"note": "moved"})
        assert repo.get("Office").config == {"note": "moved"}
    new_blob = {r["name"]: bytes(r["credentials_encrypted"]) for r in raw_rows(db)}["Office"]
    assert new_blob != old_blob
    assert_no_plaintext(db, "new-pass-777")


def test_update_with_bad_fields_changes_nothing(db, repo_factory, stored) -> None:
    before = snapshot(db)
    with (
        pytest.raises(CredentialFieldsError, match="port: Input should be a valid integer"),
        repo_factory() as repo,
    ):
        repo.update("Work", fields={"port": "many"})
    with pytest.raises(DuplicateCredentialError), repo_factory() as repo:
        repo.create("smtp", "Second", SMTP)
        repo.update("Second", name="Work")
    assert snapshot(db) == before


def test_deactivate_activate_delete(db, repo_factory, stored) -> None:
    with repo_factory() as repo:
        assert repo.deactivate("Work").is_active is False
        assert [i.name for i in repo.list(active_only=True)] == ["Team"]
        assert repo.activate("Work").is_active is True
        deleted = repo.delete("Team")
        assert deleted.name == "Team"
        with pytest.raises(NotFoundError, match="no credential named 'Team'"):
            repo.get("Team")
        with pytest.raises(NotFoundError, match="no slack credential named 'Work'"):
            repo.get("Work", "slack")
    assert [r["name"] for r in raw_rows(db)] == ["Work"]


def test_same_name_in_two_types_needs_the_type(repo_factory, stored) -> None:
    with repo_factory() as repo:
        repo.create("bearer", "Work", {"token": "tok-1234"})
        with pytest.raises(UsageError, match=r"used by several types \(bearer, smtp\)"):
            repo.get("Work")
        assert repo.get("Work", "bearer").type == "bearer"


def test_repository_rotate_reencrypts_this_users_rows(
    db, repo_factory, keyset, stored, other_user_id
) -> None:
    with repo_factory(owner=other_user_id) as other:
        other.create("bearer", "Theirs", {"token": "their-token"})
    rotated = keyset.with_new_current()
    with repo_factory(keys=rotated) as repo:
        assert repo.rotate() == 2
        assert repo.get_decrypted("Work").fields == SMTP
    ids = {r["name"]: r["key_id"] for r in raw_rows(db)}
    assert ids == {
        "Work": rotated.current_id,
        "Team": rotated.current_id,
        "Theirs": keyset.current_id,
    }
