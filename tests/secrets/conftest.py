"""Fixtures for the credential tests: no OS keyring, a keyset, users, a repository, servers."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glyphic_desktop.secrets.keys import Keyset, generate_key
from glyphic_desktop.store.models import User
from glyphic_desktop.store.repositories.integrations import IntegrationRepository
from glyphic_desktop.store.repositories.users import UserRepository


@pytest.fixture(autouse=True)
def _no_os_keyring(no_os_keyring: None) -> None:
    """Every credential test runs with the 'no backend' keyring (``no_os_keyring``)."""


@pytest.fixture
def keyset() -> Keyset:
    """An in-memory keyset with one random key."""
    return Keyset.from_keys(generate_key())


@pytest.fixture
def user_id(db):
    """The local user of the test database."""
    with db.session() as session:
        return UserRepository(session).ensure_local_user().id


@pytest.fixture
def other_user_id(db):
    """A second user of the same database."""
    with db.session() as session:
        user = User(email="other@example.test", name="other")
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture
def repo_factory(db, user_id, keyset):
    """``with repo_factory() as repo:`` — a repository in one committed transaction."""

    @contextmanager
    def make(keys: Keyset | None = keyset, owner=user_id):
        with db.session() as session:
            yield IntegrationRepository(session, owner, keys)

    return make
