"""AES-256-GCM encryption of one credential row (``integrations.credentials_encrypted``).

Blob layout (all lengths in bytes)::

    version (1) | key id length (1) | key id (ASCII) | nonce (12) | ciphertext + tag (16)

The associated data is the row's identity (integration id, owner, type), so a blob
copied onto another row does not decrypt. Every failure is one :class:`GlyphicError`:
:class:`KeyMismatchError` when the blob was written under a key this keyset does not
hold, :class:`CorruptCredentialError` when the blob was altered or belongs to another
row. Never garbage, never a traceback.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.secrets.keys import Keyset

FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
MAX_KEY_ID_LENGTH = 64
_AAD_PREFIX = b"glyphic-integration-v1"


class CredentialDecryptError(GlyphicError):
    """A stored credential could not be decrypted (base class of the two causes)."""


class KeyMismatchError(CredentialDecryptError):
    """The blob was written under a key that the current keyset does not hold."""


class CorruptCredentialError(CredentialDecryptError):
    """The blob is malformed, was altered, or was moved from another row."""


@dataclass(frozen=True)
class RowIdentity:
    """What a blob is bound to: the row's id, owner and type (plus its name for messages)."""

    integration_id: str
    user_id: str
    type: str
    name: str = ""

    def associated_data(self) -> bytes:
        """The AES-GCM associated data for this row."""
        parts = (str(self.integration_id), str(self.user_id), self.type)
        return b"\x00".join([_AAD_PREFIX, *(part.encode("utf-8") for part in parts)])

    def label(self) -> str:
        """``'name'`` (or the id when unnamed) for messages."""
        return repr(self.name) if self.name else repr(str(self.integration_id))


@dataclass(frozen=True)
class BlobHeader:
    """The clear parts of a blob."""

    version: int
    key_id: str
    nonce: bytes
    ciphertext: bytes


def _corrupt(identity: RowIdentity | None) -> CorruptCredentialError:
    what = f"credential {identity.label()}" if identity else "the credential"
    return CorruptCredentialError(f"{what} is corrupt or was moved from another row")


def _mismatch(identity: RowIdentity | None) -> KeyMismatchError:
    what = f"credential {identity.label()}" if identity else "the credential"
    return KeyMismatchError(f"the secret key does not match the data of {what}")


def parse_blob(blob: bytes, identity: RowIdentity | None = None) -> BlobHeader:
    """Split a blob into its header fields; a malformed blob raises CorruptCredentialError."""
    data = bytes(blob)
    if len(data) < 2 or data[0] != FORMAT_VERSION:
        raise _corrupt(identity)
    id_length = data[1]
    start = 2 + id_length
    if not 0 < id_length <= MAX_KEY_ID_LENGTH or len(data) < start + NONCE_SIZE + TAG_SIZE:
        raise _corrupt(identity)
    try:
        key_id = data[2:start].decode("ascii")
    except UnicodeDecodeError:
        raise _corrupt(identity) from None
    if not key_id.isprintable():
        raise _corrupt(identity)
    return BlobHeader(
        version=data[0],
        key_id=key_id,
        nonce=data[start : start + NONCE_SIZE],
        ciphertext=data[start + NONCE_SIZE :],
    )


def blob_key_id(blob: bytes) -> str:
    """The key id a blob was written under (raises CorruptCredentialError when malformed)."""
    return parse_blob(blob).key_id


def encrypt_bytes(plaintext: bytes, key: bytes, key_id: str, identity: RowIdentity) -> bytes:
    """Encrypt ``plaintext`` for the row ``identity`` under ``key`` (a fresh nonce every call)."""
    if len(key) != KEY_SIZE:
        raise GlyphicError(f"the secret key must be {KEY_SIZE} bytes, not {len(key)}")
    encoded_id = key_id.encode("ascii")
    if not 0 < len(encoded_id) <= MAX_KEY_ID_LENGTH:
        raise GlyphicError(f"key id {key_id!r} must be 1 to {MAX_KEY_ID_LENGTH} ASCII characters")
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(key).encrypt(nonce, plaintext, identity.associated_data())
    return bytes([FORMAT_VERSION, len(encoded_id)]) + encoded_id + nonce + sealed


def decrypt_bytes(blob: bytes, keyset: Keyset, identity: RowIdentity) -> bytes:
    """Decrypt a blob of the row ``identity`` with the matching key of ``keyset``."""
    header = parse_blob(blob, identity)
    key = keyset.get(header.key_id)
    if key is None:
        raise _mismatch(identity)
    try:
        return AESGCM(key).decrypt(header.nonce, header.ciphertext, identity.associated_data())
    except InvalidTag:
        raise _corrupt(identity) from None


def encrypt_fields(fields: dict[str, Any], keyset: Keyset, identity: RowIdentity) -> bytes:
    """Encrypt a credential's fields (a JSON object) under the keyset's current key."""
    plaintext = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return encrypt_bytes(plaintext, keyset.current_key, keyset.current_id, identity)


def decrypt_fields(blob: bytes, keyset: Keyset, identity: RowIdentity) -> dict[str, Any]:
    """Decrypt a blob written by :func:`encrypt_fields` back into the fields dict."""
    plaintext = decrypt_bytes(blob, keyset, identity)
    try:
        value = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _corrupt(identity) from None
    if not isinstance(value, dict):
        raise _corrupt(identity)
    return value
