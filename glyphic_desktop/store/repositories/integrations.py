"""Integrations (stored credentials), scoped to one user, encrypted with the master keyset.

Every secret field goes into ``credentials_encrypted`` (AES-256-GCM, bound to the row:
see ``secrets/crypto.py``); ``config`` holds non-sensitive settings. Listing never
decrypts and never returns a field value. Writes are refused when the table holds rows
written under a key the current keyset does not have, so a wrong key can never add
rows that mix keys or overwrite anything already stored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from glyphic_desktop.errors import GlyphicError, NotFoundError, UsageError
from glyphic_desktop.secrets.crypto import (
    CorruptCredentialError,
    RowIdentity,
    decrypt_fields,
    encrypt_fields,
    parse_blob,
)
from glyphic_desktop.secrets.keys import Keyset, SecretKeyError
from glyphic_desktop.secrets.masking import SecretMasker
from glyphic_desktop.secrets.types import CredentialType, CredentialTypeRegistry, credential_types
from glyphic_desktop.store.models import Integration

MAX_NAME_LENGTH = 200


class DuplicateCredentialError(GlyphicError):
    """A credential of that type and name already exists for this user."""

    exit_code = 2  # the user's input clashes with what is stored


@dataclass(frozen=True)
class IntegrationInfo:
    """A stored credential without its secret fields (what ``list`` returns)."""

    id: str
    type: str
    name: str
    config: dict[str, Any]
    is_active: bool
    key_id: str | None
    expires_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Integration) -> IntegrationInfo:
        """Build from an ORM row."""
        return cls(
            id=str(row.id),
            type=row.type,
            name=row.name,
            config=dict(row.config or {}),
            is_active=row.is_active is not False,
            key_id=row.key_id,
            expires_at=row.expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def reference(self) -> dict[str, str]:
        """``{"type": ..., "name": ...}``: how a workflow export names this credential."""
        return {"type": self.type, "name": self.name}

    def describe(self) -> str:
        """``smtp credential 'Work'`` for messages."""
        return f"{self.type} credential {self.name!r}"


@dataclass(frozen=True)
class DecryptedIntegration:
    """A stored credential with its decrypted fields (never printed: repr hides them)."""

    info: IntegrationInfo
    fields: dict[str, Any] = field(repr=False)
    credential_type: type[CredentialType] = field(repr=False)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def type(self) -> str:
        return self.info.type

    @property
    def name(self) -> str:
        return self.info.name

    def register_secrets(self, masker: SecretMasker) -> None:
        """Tell ``masker`` to hide every secret of this credential (and derived values)."""
        self.credential_type.register_secrets(masker, self.fields)

    def model(self) -> Any:
        """The fields as the type's validated pydantic model."""
        return self.credential_type.validate(self.fields, name=self.name)


def _identity(row: Integration) -> RowIdentity:
    return RowIdentity(str(row.id), str(row.user_id), row.type, row.name)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UsageError("a credential name must not be empty")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"credential name is longer than {MAX_NAME_LENGTH} characters")
    if any(not ch.isprintable() for ch in name):
        raise UsageError(f"credential name {name!r} contains control characters")
    return name


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def referenced_key_ids(session: Session) -> set[str]:
    """Every key id some row of ``integrations`` (any user) is encrypted under."""
    ids = set(
        session.scalars(
            select(Integration.key_id).where(Integration.key_id.is_not(None)).distinct()
        )
    )
    for blob in session.scalars(
        select(Integration.credentials_encrypted).where(Integration.key_id.is_(None))
    ):
        try:
            ids.add(parse_blob(blob).key_id)
        except CorruptCredentialError:
            continue
    return ids


def ensure_keyset_matches(session: Session, keyset: Keyset) -> None:
    """Refuse to write when stored rows use keys this keyset does not hold (a wrong key)."""
    missing = sorted(referenced_key_ids(session) - set(keyset.keys))
    if missing:
        raise SecretKeyError(
            f"the secret key from {keyset.describe_source()} (id {keyset.current_id}) does not "
            f"match the stored credentials (written under key id {', '.join(missing)}); "
            "nothing was written"
        )


RowHook = Callable[[int, int], None]


def reencrypt_rows(
    session: Session,
    keyset: Keyset,
    *,
    user_id: uuid.UUID | str | None = None,
    before_row: RowHook | None = None,
    batch_size: int = 500,
) -> int:
    """Re-encrypt every row (of ``user_id``, or all users) under ``keyset.current_id``.

    Rows are locked (``FOR UPDATE``) and updated in the caller's transaction, so an
    interruption rolls everything back. A row that cannot be decrypted raises (naming
    it) and nothing is changed. Returns the number of rows re-encrypted.
    ``before_row(index, total)`` is called before each row (progress / test hook).
    """
    query = select(
        Integration.id,
        Integration.user_id,
        Integration.type,
        Integration.name,
        Integration.credentials_encrypted,
    ).order_by(Integration.id)
    if user_id is not None:
        query = query.where(Integration.user_id == uuid.UUID(str(user_id)))
    rows = session.execute(query.with_for_update()).all()
    total = len(rows)
    pending: list[dict[str, Any]] = []
    step = 1 if before_row is not None else batch_size
    done = 0
    for index, (row_id, owner, kind, name, blob) in enumerate(rows, start=1):
        if before_row is not None:
            before_row(index, total)
        identity = RowIdentity(str(row_id), str(owner), kind, name)
        if parse_blob(blob, identity).key_id == keyset.current_id:
            continue
        fields = decrypt_fields(blob, keyset, identity)
        new_blob = encrypt_fields(fields, keyset, identity)
        pending.append(
            {"id": row_id, "credentials_encrypted": new_blob, "key_id": keyset.current_id}
        )
        done += 1
        if len(pending) >= step:
            session.execute(update(Integration), pending)
            pending = []
    if pending:
        session.execute(update(Integration), pending)
    return done


class IntegrationRepository:
    """Create, list, read (decrypted), update, deactivate and delete one user's credentials.

    Works in the caller's session (transaction). ``keyset`` may be None for operations
    that never touch secrets (``list``, ``get``, ``deactivate``, ``delete``).
    """

    def __init__(
        self,
        session: Session,
        user_id: uuid.UUID | str,
        keyset: Keyset | None,
        *,
        registry: CredentialTypeRegistry = credential_types,
    ) -> None:
        self.session = session
        self.user_id = uuid.UUID(str(user_id))
        self._keyset = keyset
        self.registry = registry

    @property
    def keyset(self) -> Keyset:
        """The keyset (raises when this repository was made without one)."""
        if self._keyset is None:
            raise SecretKeyError("no secret key was loaded for this operation")
        return self._keyset

    # -- lookups -----------------------------------------------------------------------

    def _scoped(self):
        return select(Integration).where(Integration.user_id == self.user_id)

    def _row(self, id_or_name: str, type: str | None = None, *, lock: bool = False) -> Integration:
        query = self._scoped()
        if type is not None:
            query = query.where(Integration.type == type)
        if lock:
            query = query.with_for_update()
        as_id = _parse_uuid(id_or_name)
        if as_id is not None:
            row = self.session.scalars(query.where(Integration.id == as_id)).one_or_none()
            if row is not None:
                return row
        rows = list(self.session.scalars(query.where(Integration.name == id_or_name)))
        if len(rows) == 1:
            return rows[0]
        kind = f"{type} credential" if type else "credential"
        if not rows:
            raise NotFoundError(f"no {kind} named {id_or_name!r}")
        types = ", ".join(sorted(row.type for row in rows))
        raise UsageError(
            f"credential name {id_or_name!r} is used by several types ({types}); give the type"
        )

    def list(self, type: str | None = None, *, active_only: bool = False) -> list[IntegrationInfo]:
        """This user's credentials (no secret values), by type then name."""
        query = self._scoped().order_by(Integration.type, Integration.name)
        if type is not None:
            query = query.where(Integration.type == type)
        if active_only:
            query = query.where(Integration.is_active.is_not(False))
        return [IntegrationInfo.from_row(row) for row in self.session.scalars(query)]

    def get(self, id_or_name: str, type: str | None = None) -> IntegrationInfo:
        """One credential by id or name (``type`` disambiguates); NotFoundError when absent."""
        return IntegrationInfo.from_row(self._row(id_or_name, type))

    def get_by_type_and_name(self, type: str, name: str) -> IntegrationInfo | None:
        """The credential of ``type`` called ``name``, or None."""
        row = self.session.scalars(
            self._scoped().where(Integration.type == type, Integration.name == name)
        ).one_or_none()
        return IntegrationInfo.from_row(row) if row is not None else None

    def get_decrypted(self, id_or_name: str, type: str | None = None) -> DecryptedIntegration:
        """One credential with its fields decrypted (key mismatch / tampering raise one line)."""
        return self._decrypt(self._row(id_or_name, type))

    def _decrypt(self, row: Integration) -> DecryptedIntegration:
        ctype = self.registry.get(row.type)
        fields = decrypt_fields(row.credentials_encrypted, self.keyset, _identity(row))
        return DecryptedIntegration(IntegrationInfo.from_row(row), fields, ctype)

    # -- writes ------------------------------------------------------------------------

    def _encrypt(self, row_id: uuid.UUID, type: str, name: str, fields: dict[str, Any]) -> bytes:
        identity = RowIdentity(str(row_id), str(self.user_id), type, name)
        return encrypt_fields(fields, self.keyset, identity)

    def _flush_unique(self, type: str, name: str) -> None:
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError:
            raise DuplicateCredentialError(
                f"a {type} credential named {name!r} already exists"
            ) from None

    def create(
        self,
        type: str,
        name: str,
        fields: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
        *,
        expires_at: datetime | None = None,
    ) -> IntegrationInfo:
        """Validate ``fields`` with the type's model, encrypt them, and store a new credential."""
        ctype = self.registry.get(type)
        name = _check_name(name)
        model = ctype.validate(fields, name=name)
        if config is not None and not isinstance(config, Mapping):
            raise UsageError(f"{type} credential {name!r}: config must be a JSON object")
        if self.get_by_type_and_name(type, name) is not None:
            raise DuplicateCredentialError(f"a {type} credential named {name!r} already exists")
        ensure_keyset_matches(self.session, self.keyset)
        row_id = uuid.uuid4()
        row = Integration(
            id=row_id,
            user_id=self.user_id,
            type=type,
            name=name,
            credentials_encrypted=self._encrypt(row_id, type, name, model.model_dump(mode="json")),
            key_id=self.keyset.current_id,
            config=dict(config or {}),
            is_active=True,
            expires_at=expires_at,
        )
        self.session.add(row)
        self._flush_unique(type, name)
        self.session.refresh(row)
        return IntegrationInfo.from_row(row)

    def update(
        self,
        id_or_name: str,
        *,
        type: str | None = None,
        fields: Mapping[str, Any] | None = None,
        replace_fields: bool = False,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        is_active: bool | None = None,
        expires_at: datetime | None = None,
    ) -> IntegrationInfo:
        """Change fields (merged into the stored ones unless ``replace_fields``), config,
        name, active flag or expiry. Fields are re-validated and re-encrypted."""
        row = self._row(id_or_name, type, lock=True)
        if name is not None:
            new_name = _check_name(name)
            if new_name != row.name:
                if self.get_by_type_and_name(row.type, new_name) is not None:
                    raise DuplicateCredentialError(
                        f"a {row.type} credential named {new_name!r} already exists"
                    )
                row.name = new_name
        if fields is not None:
            ctype = self.registry.get(row.type)
            if not isinstance(fields, Mapping):
                raise UsageError(f"{row.type} credential {row.name!r}: fields must be an object")
            merged = dict(fields)
            if not replace_fields:
                merged = {**self._decrypt(row).fields, **fields}
            model = ctype.validate(merged, name=row.name)
            ensure_keyset_matches(self.session, self.keyset)
            row.credentials_encrypted = self._encrypt(
                row.id, row.type, row.name, model.model_dump(mode="json")
            )
            row.key_id = self.keyset.current_id
        if config is not None:
            row.config = dict(config)
        if is_active is not None:
            row.is_active = is_active
        if expires_at is not None:
            row.expires_at = expires_at
        self._flush_unique(row.type, row.name)
        self.session.refresh(row)
        return IntegrationInfo.from_row(row)

    def deactivate(self, id_or_name: str, type: str | None = None) -> IntegrationInfo:
        """Mark a credential inactive (workflows using it then refuse to run)."""
        return self.update(id_or_name, type=type, is_active=False)

    def activate(self, id_or_name: str, type: str | None = None) -> IntegrationInfo:
        """Mark a credential active again."""
        return self.update(id_or_name, type=type, is_active=True)

    def delete(self, id_or_name: str, type: str | None = None) -> IntegrationInfo:
        """Delete a credential; returns what was deleted."""
        row = self._row(id_or_name, type, lock=True)
        info = IntegrationInfo.from_row(row)
        self.session.execute(delete(Integration).where(Integration.id == row.id))
        return info

    def rotate(self, *, before_row: RowHook | None = None) -> int:
        """Re-encrypt this user's credentials under the keyset's current key."""
        return reencrypt_rows(
            self.session, self.keyset, user_id=self.user_id, before_row=before_row
        )


def delay_hook(seconds: float, report: Callable[[str], None] | None = None) -> RowHook:
    """A ``before_row`` hook that reports progress and sleeps (used to test interruption)."""

    def hook(index: int, total: int) -> None:
        if report is not None:
            report(f"rotation: row {index}/{total}")
        time.sleep(seconds)

    return hook
