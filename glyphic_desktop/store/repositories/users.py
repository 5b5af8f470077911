"""Users: the local desktop user (created from the OS login) and lookups by id and email."""

from __future__ import annotations

import getpass
import os
import socket
import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import User

USER_EMAIL_ENV = "GLYPHIC_USER_EMAIL"


def os_login() -> str:
    """The OS login name of the person at the keyboard (``user`` when it cannot be read)."""
    try:
        login = getpass.getuser()
    except Exception:  # no passwd entry and no LOGNAME/USER in the environment
        login = ""
    return login.strip() or "user"


def local_email() -> str:
    """``GLYPHIC_USER_EMAIL``, or ``login@hostname``."""
    configured = os.environ.get(USER_EMAIL_ENV, "").strip()
    if configured:
        return configured
    host = socket.gethostname().strip() or "localhost"
    return f"{os_login()}@{host}"


class UserRepository:
    """Queries on ``users`` within one session (the caller's transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure_local_user(self) -> User:
        """The desktop's user: created on first start, found by email later.

        Name is the OS login, email is ``GLYPHIC_USER_EMAIL`` or ``login@hostname``;
        each call records ``last_login_at``. Safe when several processes start at once.
        """
        statement = (
            insert(User)
            .values(email=local_email(), name=os_login(), last_login_at=func.now())
            .on_conflict_do_update(index_elements=[User.email], set_={"last_login_at": func.now()})
            .returning(User)
        )
        return self.session.scalars(statement, execution_options={"populate_existing": True}).one()

    def get(self, user_id: uuid.UUID) -> User:
        """The user with this id; :class:`NotFoundError` when there is none."""
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        return user

    def by_email(self, email: str) -> User | None:
        """The user with this email, or None."""
        return self.session.scalars(select(User).where(User.email == email)).one_or_none()


_user_ids: dict[tuple[str, str], uuid.UUID] = {}


def current_user_id(db: Database) -> uuid.UUID:
    """The id of the local user of ``db`` (created on first use; looked up once per process)."""
    key = (db.url, local_email())
    user_id = _user_ids.get(key)
    if user_id is None:
        with db.session() as session:
            user_id = UserRepository(session).ensure_local_user().id
        _user_ids[key] = user_id
    return user_id
