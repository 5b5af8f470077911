"""Webhooks: an HTTP path that starts one of a user's workflows, with its signing secret.

The secret (32 random bytes as URL-safe text) is shown once, when it is made (``add``,
``rotate_secret``), and stored encrypted in ``webhooks.secret`` (TEXT) with the
credential crypto of ``secrets/crypto.py``: an AES-256-GCM blob bound to the webhook
row (id, owner, type ``webhook``), written as ``gcm1:`` + unpadded URL-safe base64.
Listing never decrypts. :func:`find_webhook_for_path` is the listener's lookup: it
serves every user of the database, so it is not scoped to one.

Master-key rotation re-encrypts these secrets too (:func:`reencrypt_webhook_secrets`,
called by ``secrets/rotation.py``).

``signature_scheme`` (0006) says what a request's signature covers: ``full`` (the
default) ``"<t>.<METHOD>.<path?query>.<body>"``; ``legacy`` also accepts the older
``"<t>.<body>"``. The listener's hot path is plain SQL on an async psycopg connection
(:func:`fetch_serving`, :func:`store_request`, :func:`add_trigger_counts`,
:func:`prune_replays`): one statement per accepted request, no ORM objects.

``retry_lost_runs`` (0007): how many times a run of the webhook lost to a process that
died or stopped is queued again (0 to 10, default 1; ``agent/queue.py`` applies it).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from glyphic_desktop.errors import NotFoundError, UsageError
from glyphic_desktop.secrets.crypto import (
    CorruptCredentialError,
    KeyMismatchError,
    RowIdentity,
    decrypt_bytes,
    encrypt_bytes,
    parse_blob,
)
from glyphic_desktop.secrets.keys import Keyset, SecretKeyError, require_keyset
from glyphic_desktop.store.policies import DEFAULT_RETRY_LOST_RUNS, check_retry_lost_runs
from glyphic_desktop.store.repositories.ids import parse_id
from glyphic_desktop.store.repositories.integrations import ensure_keyset_matches

SECRET_TYPE = "webhook"
STORED_PREFIX = "gcm1:"
SECRET_BYTES = 32
MAX_PATH_LENGTH = 200
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SCHEMES = ("full", "legacy")
AUTH_MODES = ("glyphic", "github", "stripe", "header", "basic", "none")
RESPONSE_MODES = ("immediately", "when_finished")
MAX_RESPONSE_TIMEOUT = 3600
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_PATH = re.compile(r"^[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*$")


class DuplicateWebhookPathError(UsageError):
    """Another webhook (of any user: paths are global) already uses this path."""


@dataclass(frozen=True)
class WebhookRecord:
    """One webhook without its secret (what ``list`` and ``add`` return)."""

    id: uuid.UUID
    user_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    path: str
    method: str
    is_active: bool
    workflow_active: bool
    last_triggered_at: datetime | None
    trigger_count: int
    created_at: datetime | None
    signature_scheme: str = "full"
    auth_mode: str = "glyphic"
    auth_header: str | None = None
    basic_user: str | None = None
    response_mode: str = "immediately"
    response_timeout: int = 30
    retry_lost_runs: int = DEFAULT_RETRY_LOST_RUNS  # retries of a run lost to a dead process

    @property
    def url_path(self) -> str:
        """The path the listener serves it on: ``/webhooks/<path>``."""
        return f"/webhooks/{self.path}"

    @property
    def serving(self) -> bool:
        """Whether a request can trigger it (the webhook and its workflow are active)."""
        return self.is_active and self.workflow_active


# -- validation ----------------------------------------------------------------------


def clean_path(path: str) -> str:
    """A webhook path as stored: no leading/trailing slash, no ``webhooks/`` prefix,
    letters, digits and ``. _ ~ -`` between single slashes; UsageError otherwise."""
    if not isinstance(path, str):
        raise UsageError("a webhook path must be text")
    value = path.strip().strip("/")
    if value.startswith("webhooks/"):
        value = value.removeprefix("webhooks/")
    if not value:
        raise UsageError("a webhook path must not be empty")
    if len(value) > MAX_PATH_LENGTH:
        raise UsageError(f"webhook path is longer than {MAX_PATH_LENGTH} characters")
    if not _PATH.match(value):
        raise UsageError(
            f"webhook path {value!r} may only use letters, digits and . _ ~ - between slashes"
        )
    if any(part in (".", "..") for part in value.split("/")):
        raise UsageError(f"webhook path {value!r} must not contain '.' or '..' segments")
    return value


def clean_method(method: str) -> str:
    """An HTTP method in upper case; UsageError naming the allowed ones otherwise."""
    value = (method or "").strip().upper() if isinstance(method, str) else ""
    if value not in METHODS:
        raise UsageError(f"webhook method {method!r} is not one of {', '.join(METHODS)}")
    return value


def clean_scheme(scheme: str) -> str:
    """A signature scheme (``full`` or ``legacy``); UsageError otherwise."""
    value = scheme.strip().lower() if isinstance(scheme, str) else ""
    if value not in SCHEMES:
        raise UsageError(f"signature scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    return value


def clean_auth(
    mode: str, header: str | None = None, user: str | None = None
) -> tuple[str, str | None, str | None]:
    """(auth mode, header name, basic user) checked together; UsageError otherwise.

    ``header`` mode needs a header name (an HTTP token), ``basic`` a user name without
    ``:``; the other modes take neither.
    """
    value = mode.strip().lower().replace("_", "-") if isinstance(mode, str) else ""
    if value not in AUTH_MODES:
        raise UsageError(f"auth mode {mode!r} is not one of {', '.join(AUTH_MODES)}")
    if value == "header":
        name = (header or "").strip()
        if not _HEADER_NAME.match(name):
            raise UsageError(
                f"--header {header!r} is not a valid HTTP header name "
                "(auth mode 'header' needs one)"
            )
        if name.lower() in ("authorization", "x-glyphic-signature", "host", "content-length"):
            raise UsageError(f"--header {name!r} cannot carry the shared secret")
        return value, name, None
    if header is not None:
        raise UsageError(f"--header is only for auth mode 'header', not {value!r}")
    if value == "basic":
        name = (user or "").strip()
        if not name or ":" in name or len(name) > 200:
            raise UsageError(
                f"--user {user!r} is not a valid user name (auth mode 'basic' needs one, no ':')"
            )
        return value, None, name
    if user is not None:
        raise UsageError(f"--user is only for auth mode 'basic', not {value!r}")
    return value, None, None


def clean_response(mode: str, timeout: int | None = None) -> tuple[str, int]:
    """(response mode, timeout seconds); ``when-finished`` is accepted for
    ``when_finished``; UsageError otherwise."""
    value = mode.strip().lower().replace("-", "_") if isinstance(mode, str) else ""
    if value not in RESPONSE_MODES:
        raise UsageError(f"response mode {mode!r} is not one of immediately, when-finished")
    seconds = 30 if timeout is None else timeout
    if not isinstance(seconds, int) or not 1 <= seconds <= MAX_RESPONSE_TIMEOUT:
        raise UsageError(
            f"response timeout {timeout!r} is not a whole number of seconds from 1 to "
            f"{MAX_RESPONSE_TIMEOUT}"
        )
    return value, seconds


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes as URL-safe base64 text."""
    return secrets.token_urlsafe(SECRET_BYTES)


def check_secret(secret: str) -> str:
    """A secret given by the user (e.g. Stripe's ``whsec_...``): 16 to 500 printable
    characters; UsageError otherwise."""
    value = secret.strip() if isinstance(secret, str) else ""
    if not 16 <= len(value) <= 500 or not value.isprintable():
        raise UsageError("a webhook secret must be 16 to 500 printable characters")
    return value


def new_path() -> str:
    """A random URL-safe slug for a webhook made without a path."""
    return secrets.token_urlsafe(16)


# -- the secret at rest ----------------------------------------------------------------


def webhook_identity(
    webhook_id: uuid.UUID | str, user_id: uuid.UUID | str, path: str = ""
) -> RowIdentity:
    """What a webhook's secret blob is bound to (``path`` only names it in messages)."""
    return RowIdentity(str(webhook_id), str(user_id), SECRET_TYPE, path)


def _blob(stored: str, identity: RowIdentity) -> bytes:
    if not isinstance(stored, str) or not stored.startswith(STORED_PREFIX):
        raise CorruptCredentialError(f"the secret of webhook {identity.label()} is corrupt")
    data = stored[len(STORED_PREFIX) :]
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise CorruptCredentialError(
            f"the secret of webhook {identity.label()} is corrupt"
        ) from None


def encrypt_secret(secret: str, keyset: Keyset, identity: RowIdentity) -> str:
    """The text stored in ``webhooks.secret`` for ``secret`` (under the current key)."""
    blob = encrypt_bytes(secret.encode("utf-8"), keyset.current_key, keyset.current_id, identity)
    return STORED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def decrypt_secret(stored: str, keyset: Keyset, identity: RowIdentity) -> str:
    """The secret in a stored ``webhooks.secret`` value (one clear error when it cannot be)."""
    blob = _blob(stored, identity)
    try:
        return decrypt_bytes(blob, keyset, identity).decode("utf-8")
    except KeyMismatchError:
        raise KeyMismatchError(
            f"the secret key does not match the secret of webhook {identity.label()}"
        ) from None
    except (CorruptCredentialError, UnicodeDecodeError):
        raise CorruptCredentialError(
            f"the secret of webhook {identity.label()} is corrupt or was moved from another row"
        ) from None


def stored_key_id(stored: str) -> str | None:
    """The key id a stored secret was written under, or None when it is malformed."""
    identity = webhook_identity("?", "?")
    try:
        return parse_blob(_blob(stored, identity)).key_id
    except CorruptCredentialError:
        return None


def webhook_key_ids(session: Session) -> set[str]:
    """Every key id some webhook secret (any user) is encrypted under."""
    ids = {stored_key_id(value) for value in session.scalars(text("SELECT secret FROM webhooks"))}
    ids.discard(None)
    return ids  # type: ignore[return-value]


def ensure_webhook_keys_match(session: Session, keyset: Keyset) -> None:
    """Refuse to write when webhook secrets use keys this keyset does not hold."""
    missing = sorted(webhook_key_ids(session) - set(keyset.keys))
    if missing:
        raise SecretKeyError(
            f"the secret key from {keyset.describe_source()} (id {keyset.current_id}) does not "
            f"match the stored webhook secrets (written under key id {', '.join(missing)}); "
            "nothing was written"
        )


def reencrypt_webhook_secrets(session: Session, keyset: Keyset) -> int:
    """Re-encrypt every webhook secret (all users) under ``keyset.current_id``, in the
    caller's transaction (rows locked ``FOR UPDATE``); returns how many changed.

    A secret that cannot be decrypted raises (naming the webhook) and nothing changes.
    """
    rows = session.execute(
        text("SELECT id, user_id, path, secret FROM webhooks ORDER BY id FOR UPDATE")
    ).all()
    changed: list[dict[str, Any]] = []
    for row in rows:
        identity = webhook_identity(row.id, row.user_id, row.path)
        if stored_key_id(row.secret) == keyset.current_id:
            continue
        secret = decrypt_secret(row.secret, keyset, identity)
        changed.append({"id": row.id, "secret": encrypt_secret(secret, keyset, identity)})
    if changed:
        session.execute(text("UPDATE webhooks SET secret = :secret WHERE id = :id"), changed)
    return len(changed)


# -- queries ----------------------------------------------------------------------------

_SELECT = (
    "SELECT h.id, h.user_id, h.workflow_id, w.name AS workflow_name, h.path, h.method, "
    "h.is_active, w.is_active AS workflow_active, h.last_triggered_at, h.trigger_count, "
    "h.created_at, h.secret, h.signature_scheme, h.auth_mode, h.auth_header, h.basic_user, "
    "h.response_mode, h.response_timeout, h.retry_lost_runs "
    "FROM webhooks h JOIN workflows w ON w.id = h.workflow_id"
)


def _record(row: Row[Any]) -> WebhookRecord:
    return WebhookRecord(
        id=row.id,
        user_id=row.user_id,
        workflow_id=row.workflow_id,
        workflow_name=row.workflow_name,
        path=row.path,
        method=(row.method or "POST").upper(),
        is_active=row.is_active is not False,
        workflow_active=row.workflow_active is not False,
        last_triggered_at=row.last_triggered_at,
        trigger_count=int(row.trigger_count or 0),
        created_at=row.created_at,
        signature_scheme=row.signature_scheme,
        auth_mode=row.auth_mode,
        auth_header=row.auth_header,
        basic_user=row.basic_user,
        response_mode=row.response_mode,
        response_timeout=int(row.response_timeout),
        retry_lost_runs=int(row.retry_lost_runs),
    )


def find_webhook_for_path(
    session: Session, path: str, keyset: Keyset | None = None
) -> tuple[WebhookRecord, str] | None:
    """The webhook on ``path`` (any user, active or not) and its decrypted secret, or None.

    ``keyset`` defaults to the installation's (loaded only when a webhook is found).
    A secret that cannot be decrypted raises KeyMismatchError / CorruptCredentialError.
    """
    row = session.execute(text(f"{_SELECT} WHERE h.path = :path"), {"path": path}).one_or_none()
    if row is None:
        return None
    keyset = keyset or require_keyset()
    identity = webhook_identity(row.id, row.user_id, row.path)
    return _record(row), decrypt_secret(row.secret, keyset, identity)


def record_webhook_trigger(session: Session, webhook_id: uuid.UUID) -> bool:
    """Bump ``last_triggered_at`` / ``trigger_count`` of a webhook that still serves
    (it and its workflow active), locking the row; False when it no longer does."""
    row = session.execute(
        text(
            "UPDATE webhooks h SET last_triggered_at = now(), "
            "trigger_count = COALESCE(h.trigger_count, 0) + 1 FROM workflows w "
            "WHERE h.id = :id AND w.id = h.workflow_id AND h.is_active IS NOT FALSE "
            "AND w.is_active IS NOT FALSE RETURNING h.id"
        ),
        {"id": webhook_id},
    ).one_or_none()
    return row is not None


class WebhookRepository:
    """Add, list, rotate, remove and (de)activate one user's webhooks, in the caller's
    session (transaction). ``keyset`` defaults to the installation's, loaded when a
    secret is written."""

    def __init__(
        self, session: Session, user_id: uuid.UUID | str, keyset: Keyset | None = None
    ) -> None:
        self.session = session
        self.user_id = parse_id(user_id, "user")
        self._keyset = keyset

    @property
    def keyset(self) -> Keyset:
        """The master keyset (created on first use, like a first credential's)."""
        if self._keyset is None:
            self._keyset = require_keyset()
        return self._keyset

    def _check_keys(self) -> None:
        ensure_keyset_matches(self.session, self.keyset)
        ensure_webhook_keys_match(self.session, self.keyset)

    def _workflow(self, name_or_id: str | uuid.UUID) -> tuple[uuid.UUID, str]:
        from glyphic_desktop.store.repositories.workflows import WorkflowRepository

        record = WorkflowRepository(self.session, self.user_id).resolve(name_or_id)
        return record.id, record.name

    def _row(self, id_or_path: str | uuid.UUID, *, lock: bool = False) -> Row[Any]:
        lock_sql = " FOR UPDATE OF h" if lock else ""
        value = str(id_or_path).strip()
        try:
            as_id: uuid.UUID | None = uuid.UUID(value)
        except ValueError:
            as_id = None
        if as_id is not None:
            row = self.session.execute(
                text(f"{_SELECT} WHERE h.id = :id AND h.user_id = :uid{lock_sql}"),
                {"id": as_id, "uid": self.user_id},
            ).one_or_none()
            if row is not None:
                return row
        row = self.session.execute(
            text(f"{_SELECT} WHERE h.path = :path AND h.user_id = :uid{lock_sql}"),
            {"path": value.strip("/"), "uid": self.user_id},
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no webhook with id or path {value!r}")
        return row

    def get(self, id_or_path: str | uuid.UUID) -> WebhookRecord:
        """One of the user's webhooks by id (or path); NotFoundError when absent."""
        return _record(self._row(id_or_path))

    def list(self) -> list[WebhookRecord]:
        """The user's webhooks by path (never their secrets)."""
        rows = self.session.execute(
            text(f"{_SELECT} WHERE h.user_id = :uid ORDER BY h.path"), {"uid": self.user_id}
        )
        return [_record(row) for row in rows]

    def add(
        self,
        workflow: str | uuid.UUID,
        path: str | None = None,
        method: str = "POST",
        signature_scheme: str = "full",
        *,
        auth_mode: str = "glyphic",
        auth_header: str | None = None,
        basic_user: str | None = None,
        response_mode: str = "immediately",
        response_timeout: int | None = None,
        secret: str | None = None,
        retry_lost_runs: int = DEFAULT_RETRY_LOST_RUNS,
    ) -> tuple[WebhookRecord, str]:
        """A new webhook on one of the user's workflows: (the record, its secret).

        The secret is returned only here. ``path`` defaults to a random slug; a path in
        use raises :class:`DuplicateWebhookPathError`. ``signature_scheme`` ``legacy``
        also accepts signatures over ``"<t>.<body>"`` (senders of the older scheme).
        ``auth_mode`` (with ``auth_header`` / ``basic_user``) and ``response_mode`` /
        ``response_timeout`` are checked by :func:`clean_auth` / :func:`clean_response`;
        ``secret`` sets the secret instead of a random one (a sender such as Stripe makes
        its own). ``retry_lost_runs`` is how many times a run lost to a dead process is
        queued again (0 to 10).
        """
        clean = clean_path(path) if path is not None else new_path()
        verb = clean_method(method)
        scheme = clean_scheme(signature_scheme)
        auth = clean_auth(auth_mode, auth_header, basic_user)
        response = clean_response(response_mode, response_timeout)
        retries = check_retry_lost_runs(retry_lost_runs)
        if secret is not None:
            secret = check_secret(secret)
        workflow_id, _name = self._workflow(workflow)
        taken = self.session.execute(
            text("SELECT 1 FROM webhooks WHERE path = :path"), {"path": clean}
        ).first()
        if taken is not None:
            raise DuplicateWebhookPathError(f"the webhook path {clean!r} is already taken")
        self._check_keys()
        webhook_id = uuid.uuid4()
        secret = secret or new_secret()
        stored = encrypt_secret(secret, self.keyset, webhook_identity(webhook_id, self.user_id))
        try:
            with self.session.begin_nested():
                self.session.execute(
                    text(
                        "INSERT INTO webhooks (id, workflow_id, user_id, path, secret, method, "
                        "signature_scheme, auth_mode, auth_header, basic_user, response_mode, "
                        "response_timeout, retry_lost_runs) VALUES (:id, :wf, :uid, :path, "
                        ":secret, :method, :scheme, :auth, :header, :user, :response, "
                        ":timeout, :retries)"
                    ),
                    {
                        "id": webhook_id,
                        "wf": workflow_id,
                        "uid": self.user_id,
                        "path": clean,
                        "secret": stored,
                        "method": verb,
                        "scheme": scheme,
                        "auth": auth[0],
                        "header": auth[1],
                        "user": auth[2],
                        "response": response[0],
                        "timeout": response[1],
                        "retries": retries,
                    },
                )
        except IntegrityError:
            raise DuplicateWebhookPathError(
                f"the webhook path {clean!r} is already taken"
            ) from None
        return self.get(webhook_id), secret

    def configure(
        self,
        id_or_path: str | uuid.UUID,
        *,
        auth_mode: str | None = None,
        auth_header: str | None = None,
        basic_user: str | None = None,
        response_mode: str | None = None,
        response_timeout: int | None = None,
        retry_lost_runs: int | None = None,
    ) -> WebhookRecord:
        """Change how a webhook authenticates (``auth_mode`` with its header / user), when
        it answers (``response_mode`` / ``response_timeout``) and how many times a run lost
        to a dead process is queued again (``retry_lost_runs``, 0 to 10); None keeps a
        setting. Every value is checked before anything changes. The secret is kept
        (``rotate_secret`` replaces it)."""
        retries = None if retry_lost_runs is None else check_retry_lost_runs(retry_lost_runs)
        row = self._row(id_or_path, lock=True)
        if auth_mode is None and (auth_header is not None or basic_user is not None):
            auth_mode = row.auth_mode
        if auth_mode is not None:
            auth = clean_auth(auth_mode, auth_header, basic_user)
        else:
            auth = (row.auth_mode, row.auth_header, row.basic_user)
        if response_mode is None and response_timeout is not None:
            response_mode = row.response_mode
        if response_mode is not None:
            response = clean_response(
                response_mode,
                response_timeout if response_timeout is not None else int(row.response_timeout),
            )
        else:
            response = (row.response_mode, int(row.response_timeout))
        if retries is None:
            retries = int(row.retry_lost_runs)
        self.session.execute(
            text(
                "UPDATE webhooks SET auth_mode = :auth, auth_header = :header, "
                "basic_user = :user, response_mode = :response, response_timeout = :timeout, "
                "retry_lost_runs = :retries WHERE id = :id"
            ),
            {
                "auth": auth[0],
                "header": auth[1],
                "user": auth[2],
                "response": response[0],
                "timeout": response[1],
                "retries": retries,
                "id": row.id,
            },
        )
        return self.get(row.id)

    def rotate_secret(self, id_or_path: str | uuid.UUID, secret: str | None = None) -> str:
        """Replace a webhook's secret (``secret``, or a random one); returns it (the old
        one stops verifying)."""
        row = self._row(id_or_path, lock=True)
        self._check_keys()
        secret = check_secret(secret) if secret is not None else new_secret()
        stored = encrypt_secret(secret, self.keyset, webhook_identity(row.id, row.user_id))
        self.session.execute(
            text("UPDATE webhooks SET secret = :secret WHERE id = :id"),
            {"secret": stored, "id": row.id},
        )
        return secret

    def remove(self, id_or_path: str | uuid.UUID) -> WebhookRecord:
        """Delete a webhook; returns what was deleted."""
        row = self._row(id_or_path, lock=True)
        self.session.execute(text("DELETE FROM webhooks WHERE id = :id"), {"id": row.id})
        return _record(row)

    def set_active(self, id_or_path: str | uuid.UUID, active: bool) -> WebhookRecord:
        """Enable or disable a webhook (a disabled one answers 404)."""
        row = self._row(id_or_path, lock=True)
        self.session.execute(
            text("UPDATE webhooks SET is_active = :active WHERE id = :id"),
            {"active": bool(active), "id": row.id},
        )
        return self.get(row.id)

    def set_signature_scheme(self, id_or_path: str | uuid.UUID, scheme: str) -> WebhookRecord:
        """Set what a webhook's signatures must cover: ``full`` or ``legacy``."""
        value = clean_scheme(scheme)
        row = self._row(id_or_path, lock=True)
        self.session.execute(
            text("UPDATE webhooks SET signature_scheme = :scheme WHERE id = :id"),
            {"scheme": value, "id": row.id},
        )
        return self.get(row.id)


# -- the listener's hot path (async psycopg, plain SQL) ----------------------------------


@dataclass(frozen=True)
class ServingWebhook:
    """A webhook as the listener caches it: the row's state and the decrypted secret.

    ``stored_secret`` and ``raw_method`` are the row's values as read: :func:`store_request`
    queues a run only while the row still holds them (and the webhook and its workflow are
    active), so a rotated secret or a changed setting is noticed on the next request.
    """

    id: uuid.UUID
    user_id: uuid.UUID
    workflow_id: uuid.UUID
    path: str
    method: str
    raw_method: str | None
    is_active: bool
    workflow_active: bool
    signature_scheme: str
    stored_secret: str
    secret: str
    auth_mode: str = "glyphic"
    auth_header: str | None = None
    basic_user: str | None = None
    response_mode: str = "immediately"
    response_timeout: int = 30

    @property
    def serving(self) -> bool:
        """Whether a request can trigger it (the webhook and its workflow are active)."""
        return self.is_active and self.workflow_active


_FETCH_SERVING = (
    "SELECT h.id, h.user_id, h.workflow_id, h.path, h.method, h.is_active, "
    "w.is_active AS workflow_active, h.signature_scheme, h.secret, h.auth_mode, "
    "h.auth_header, h.basic_user, h.response_mode, h.response_timeout "
    "FROM webhooks h JOIN workflows w ON w.id = h.workflow_id WHERE h.path = %s"
)


async def fetch_serving_row(conn: Any, path: str) -> dict[str, Any] | None:
    """The listener's lookup of ``path`` (any user) on an async psycopg connection: the
    row as a dict (secret still encrypted), or None."""
    cursor = await conn.execute(_FETCH_SERVING, (path,))
    row = await cursor.fetchone()
    if row is None:
        return None
    names = [column.name for column in cursor.description]
    return dict(zip(names, row, strict=True))


def serving_webhook(row: dict[str, Any], keyset: Keyset) -> ServingWebhook:
    """A fetched row with its secret decrypted (KeyMismatchError / CorruptCredentialError
    when it cannot be)."""
    identity = webhook_identity(row["id"], row["user_id"], row["path"])
    return ServingWebhook(
        id=row["id"],
        user_id=row["user_id"],
        workflow_id=row["workflow_id"],
        path=row["path"],
        method=(row["method"] or "POST").upper(),
        raw_method=row["method"],
        is_active=row["is_active"] is not False,
        workflow_active=row["workflow_active"] is not False,
        signature_scheme=row["signature_scheme"],
        stored_secret=row["secret"],
        secret=decrypt_secret(row["secret"], keyset, identity),
        auth_mode=row["auth_mode"],
        auth_header=row["auth_header"],
        basic_user=row["basic_user"],
        response_mode=row["response_mode"],
        response_timeout=int(row["response_timeout"]),
    )


# One statement, one round trip, one transaction: the replay guard row and the execution
# are inserted together or not at all. `hook` re-checks what the listener verified
# against (secret, scheme, method, both active); `guard` is empty for a signature
# already used (ON CONFLICT: a concurrent insert of the same key waits for the other
# transaction and then finds it), and then no execution is inserted either. No lock
# is taken on the webhook row: trigger counts are added later (add_trigger_counts).
_STORE = """
WITH hook AS (
  SELECT h.workflow_id, h.user_id FROM webhooks h JOIN workflows w ON w.id = h.workflow_id
  WHERE h.id = %(webhook)s AND h.secret = %(stored)s AND h.signature_scheme = %(scheme)s
    AND h.method IS NOT DISTINCT FROM %(method)s AND h.auth_mode = %(auth)s
    AND h.auth_header IS NOT DISTINCT FROM %(auth_header)s
    AND h.basic_user IS NOT DISTINCT FROM %(basic_user)s
    AND h.is_active IS NOT FALSE AND w.is_active IS NOT FALSE
), guard AS (
  INSERT INTO webhook_replays (webhook_id, signature, t, execution_id, expires_at)
  SELECT %(webhook)s, %(signature)s, %(t)s, %(execution)s, to_timestamp(%(expires)s)
  FROM hook
  ON CONFLICT DO NOTHING
  RETURNING 1
), run AS (
  INSERT INTO executions (id, workflow_id, user_id, status, trigger_type, trigger_data,
    input_data)
  SELECT %(execution)s, hook.workflow_id, hook.user_id, 'pending', 'webhook',
    %(trigger)s::jsonb, %(input)s::jsonb
  FROM hook, guard
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM hook), EXISTS (SELECT 1 FROM run)
"""


async def store_request(
    conn: Any,
    webhook: ServingWebhook,
    *,
    signature: bytes,
    t: int,
    expires: float,
    execution_id: uuid.UUID,
    trigger_json: str,
    input_json: str,
) -> tuple[bool, bool]:
    """Mark the signature used and queue the ``pending`` execution, atomically.

    Returns (still serving as cached, stored): (False, False) when the row changed
    since ``webhook`` was read (the caller reads it again), (True, False) when the
    signature was already used (a replay). ``expires`` is when the guard row may go
    (unix seconds); the JSON arguments are text the server parses.
    """
    cursor = await conn.execute(
        _STORE,
        {
            "webhook": webhook.id,
            "stored": webhook.stored_secret,
            "scheme": webhook.signature_scheme,
            "method": webhook.raw_method,
            "auth": webhook.auth_mode,
            "auth_header": webhook.auth_header,
            "basic_user": webhook.basic_user,
            "signature": signature,
            "t": t,
            "execution": execution_id,
            "expires": expires,
            "trigger": trigger_json,
            "input": input_json,
        },
    )
    serving, stored = await cursor.fetchone()
    return bool(serving), bool(stored)


@dataclass(frozen=True)
class PendingRequest:
    """One verified request waiting to be stored (see :func:`store_requests`)."""

    webhook: ServingWebhook
    signature: bytes
    t: int
    expires: float
    execution_id: uuid.UUID
    trigger_json: str
    input_json: str


# store_request for many requests at once: one statement, one transaction, one commit
# for a batch of concurrent requests (each row is checked and guarded on its own; two
# copies of one request in a batch store once: ON CONFLICT DO NOTHING skips the second).
# Any error fails the whole batch; the caller then stores its requests one by one. The
# arrays go in binary form (%b): the text form would escape every quote of the JSON.
_STORE_MANY = """
WITH req AS (
  SELECT * FROM unnest(%(webhook)b::uuid[], %(stored)b::text[], %(scheme)b::text[],
    %(method)b::text[], %(signature)b::bytea[], %(t)b::bigint[], %(execution)b::uuid[],
    %(expires)b::float8[], %(trigger)b::text[], %(input)b::text[], %(auth)b::text[],
    %(auth_header)b::text[], %(basic_user)b::text[])
    AS r(webhook, stored, scheme, method, signature, t, execution, expires, trigger, input,
      auth, auth_header, basic_user)
), hook AS (
  SELECT r.*, h.workflow_id, h.user_id FROM req r
  JOIN webhooks h ON h.id = r.webhook AND h.secret = r.stored AND h.signature_scheme = r.scheme
    AND h.method IS NOT DISTINCT FROM r.method AND h.is_active IS NOT FALSE
    AND h.auth_mode = r.auth AND h.auth_header IS NOT DISTINCT FROM r.auth_header
    AND h.basic_user IS NOT DISTINCT FROM r.basic_user
  JOIN workflows w ON w.id = h.workflow_id AND w.is_active IS NOT FALSE
), guard AS (
  INSERT INTO webhook_replays (webhook_id, signature, t, execution_id, expires_at)
  SELECT webhook, signature, t, execution, to_timestamp(expires) FROM hook
  ON CONFLICT DO NOTHING
  RETURNING execution_id
), run AS (
  INSERT INTO executions (id, workflow_id, user_id, status, trigger_type, trigger_data,
    input_data)
  SELECT hook.execution, hook.workflow_id, hook.user_id, 'pending', 'webhook',
    hook.trigger::jsonb, hook.input::jsonb
  FROM hook JOIN guard ON guard.execution_id = hook.execution
  RETURNING id
)
SELECT r.execution, r.execution IN (SELECT execution FROM hook),
  r.execution IN (SELECT id FROM run)
FROM req r
"""


async def store_requests(conn: Any, requests: list[PendingRequest]) -> list[tuple[bool, bool]]:
    """:func:`store_request` for each of ``requests`` in one statement; the results in
    the same order. Raises (storing nothing) when any row fails."""
    if len(requests) == 1:
        one = requests[0]
        return [
            await store_request(
                conn,
                one.webhook,
                signature=one.signature,
                t=one.t,
                expires=one.expires,
                execution_id=one.execution_id,
                trigger_json=one.trigger_json,
                input_json=one.input_json,
            )
        ]
    cursor = await conn.execute(
        _STORE_MANY,
        {
            "webhook": [r.webhook.id for r in requests],
            "stored": [r.webhook.stored_secret for r in requests],
            "scheme": [r.webhook.signature_scheme for r in requests],
            "method": [r.webhook.raw_method for r in requests],
            "signature": [r.signature for r in requests],
            "t": [r.t for r in requests],
            "execution": [r.execution_id for r in requests],
            "expires": [float(r.expires) for r in requests],
            "trigger": [r.trigger_json for r in requests],
            "input": [r.input_json for r in requests],
            "auth": [r.webhook.auth_mode for r in requests],
            "auth_header": [r.webhook.auth_header for r in requests],
            "basic_user": [r.webhook.basic_user for r in requests],
        },
    )
    found = {
        execution: (bool(serving), bool(stored))
        for execution, serving, stored in await cursor.fetchall()
    }
    return [found[r.execution_id] for r in requests]


async def add_trigger_counts(conn: Any, counts: dict[uuid.UUID, tuple[int, datetime]]) -> None:
    """Add to ``trigger_count`` and move ``last_triggered_at`` forward, per webhook:
    ``counts`` maps a webhook id to (requests queued, when the last one was)."""
    if not counts:
        return
    ids = list(counts)
    await conn.execute(
        "UPDATE webhooks h SET trigger_count = COALESCE(h.trigger_count, 0) + c.n, "
        "last_triggered_at = GREATEST(h.last_triggered_at, c.at) "
        "FROM unnest(%s::uuid[], %s::int[], %s::timestamptz[]) AS c(id, n, at) "
        "WHERE h.id = c.id",
        (ids, [counts[i][0] for i in ids], [counts[i][1] for i in ids]),
    )


async def prune_replays(conn: Any, batch: int = 10_000) -> int:
    """Delete expired replay-guard rows, ``batch`` at a time; returns how many went."""
    total = 0
    while True:
        cursor = await conn.execute(
            "DELETE FROM webhook_replays WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
            "webhook_replays WHERE expires_at < now() LIMIT %s))",
            (batch,),
        )
        total += cursor.rowcount
        if cursor.rowcount < batch:
            return total
