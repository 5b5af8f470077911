"""The local user: created from the OS login on first start, found again by email."""

from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import func, select

from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import User
from glyphic_desktop.store.repositories.users import (
    UserRepository,
    current_user_id,
    local_email,
    os_login,
)


def test_first_start_creates_the_user_from_the_os_login(db: Database, monkeypatch) -> None:
    monkeypatch.delenv("GLYPHIC_USER_EMAIL", raising=False)
    monkeypatch.setenv("USER", "ada")
    monkeypatch.setenv("LOGNAME", "ada")
    with db.session() as session:
        user = UserRepository(session).ensure_local_user()
    assert user.name == "ada" == os_login()
    assert user.email == f"ada@{socket.gethostname()}"
    assert user.last_login_at is not None
    assert user.preferences == {}


def test_glyphic_user_email_names_the_user(db: Database, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_USER_EMAIL", "ada@example.org")
    with db.session() as session:
        user = UserRepository(session).ensure_local_user()
    assert user.email == "ada@example.org" == local_email()


def test_later_starts_find_the_same_user_and_update_last_login(db: Database, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_USER_EMAIL", "ada@example.org")
    with db.session() as session:
        first = UserRepository(session).ensure_local_user()
    with db.session() as session:
        second = UserRepository(session).ensure_local_user()
        count = session.scalar(select(func.count()).select_from(User))
    assert second.id == first.id
    assert second.last_login_at > first.last_login_at
    assert second.updated_at == first.updated_at  # a login is not an edit
    assert count == 1


def test_get_and_by_email(db: Database, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_USER_EMAIL", "ada@example.org")
    with db.session() as session:
        repo = UserRepository(session)
        user = repo.ensure_local_user()
        assert repo.get(user.id).email == "ada@example.org"
        assert repo.by_email("ada@example.org").id == user.id
        assert repo.by_email("nobody@example.org") is None
        with pytest.raises(NotFoundError, match="no user with id"):
            repo.get(uuid.uuid4())


def test_current_user_id_is_the_local_user(db: Database, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_USER_EMAIL", "grace@example.org")
    user_id = current_user_id(db)
    assert current_user_id(db) == user_id
    with db.session() as session:
        assert UserRepository(session).by_email("grace@example.org").id == user_id


def test_concurrent_first_starts_make_one_user(db: Database, monkeypatch) -> None:
    import threading

    monkeypatch.setenv("GLYPHIC_USER_EMAIL", "race@example.org")
    ids: list[uuid.UUID] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with db.session() as session:
                ids.append(UserRepository(session).ensure_local_user().id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(ids)) == 1
