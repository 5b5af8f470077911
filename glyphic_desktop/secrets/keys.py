"""The master keyset: where it comes from, how it is stored, and the key ids it holds.

Sources, in order:

1. ``GLYPHIC_SECRET_KEY`` — base64 of 32 bytes. Several comma-separated keys are
   accepted: the first is current, the others stay readable (for rotation).
2. The OS keyring (the ``keyring`` package), when a real backend is available.
3. A JSON file created with mode 0600 in ``paths.config_dir()`` (the dir 0700).

An existing keyring entry wins over an existing file; with neither, a new keyset is
created in the keyring when one is available, else in the file. A keyring that raises
is reported with a warning and the file is used instead. Nothing here ever prints a key.

A keyset holds the current key plus older keys kept readable until a rotation is
complete. A key id is a fingerprint of the key (``k`` + 12 hex digits of a SHA-256), so
a wrong ``GLYPHIC_SECRET_KEY`` shows up as "the key does not match the data".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from glyphic_desktop import paths
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.secrets.crypto import KEY_SIZE

log = logging.getLogger(__name__)

KEY_ENV = "GLYPHIC_SECRET_KEY"
KEY_FILE_NAME = "secret-key.json"
KEYRING_SERVICE = "glyphic-desktop"
KEYRING_USERNAME = "master-keyset"
KEYSET_FORMAT = 1


class SecretKeyError(GlyphicError):
    """The master key cannot be read, parsed or stored (one line naming where)."""


def generate_key() -> bytes:
    """A fresh random 32-byte key."""
    return os.urandom(KEY_SIZE)


def key_id_for(key: bytes) -> str:
    """The key's id: a fingerprint that names the key without revealing it."""
    return "k" + hashlib.sha256(b"glyphic-key-id\x00" + key).hexdigest()[:12]


def encode_key(key: bytes) -> str:
    """The base64 form of a key (what ``GLYPHIC_SECRET_KEY`` holds)."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """Parse a base64 key; a bad one raises one line naming ``where``."""
    value = text.strip()
    if not value:
        raise SecretKeyError(f"{where} is empty; it must be 32 bytes encoded in base64")
    if "-" in value or "_" in value:
        value = value.replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(
            f"{where} is not valid base64; it must be {KEY_SIZE} bytes encoded in base64"
        ) from None
    if len(key) != KEY_SIZE:
        raise SecretKeyError(
            f"{where} decodes to {len(key)} bytes; it must be {KEY_SIZE} bytes encoded in base64"
        )
    return key


@dataclass
class Keyset:
    """The current key plus older readable keys, and where they came from.

    ``source`` is ``"env"``, ``"keyring"`` or ``"file"``; ``location`` says where
    (variable name, keyring service, file path); ``notes`` explains fallbacks.
    """

    current_id: str
    keys: dict[str, bytes]
    source: str = "memory"
    location: str = ""
    store: KeyStore | None = field(default=None, repr=False, compare=False)
    notes: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise SecretKeyError(f"the keyset from {self.describe_source()} lacks its current key")

    def __repr__(self) -> str:  # never show key bytes
        return f"Keyset(current_id={self.current_id!r}, ids={self.ids}, source={self.source!r})"

    @classmethod
    def from_keys(cls, *keys: bytes, source: str = "memory", location: str = "") -> Keyset:
        """A keyset of ``keys`` (the first is current)."""
        if not keys:
            raise SecretKeyError("a keyset needs at least one key")
        mapping = {key_id_for(key): key for key in keys}
        return cls(key_id_for(keys[0]), mapping, source=source, location=location)

    @property
    def current_key(self) -> bytes:
        """The key new data is encrypted under."""
        return self.keys[self.current_id]

    @property
    def ids(self) -> list[str]:
        """Every key id, current first."""
        return [self.current_id, *sorted(k for k in self.keys if k != self.current_id)]

    def get(self, key_id: str) -> bytes | None:
        """The key with ``key_id``, or None."""
        return self.keys.get(key_id)

    def with_new_current(self, key: bytes | None = None) -> Keyset:
        """A copy with a new (random) current key; the old keys stay readable."""
        key = key or generate_key()
        keys = {key_id_for(key): key, **self.keys}
        return Keyset(
            key_id_for(key), keys, self.source, self.location, self.store, list(self.notes)
        )

    def retaining(self, key_ids: set[str]) -> Keyset:
        """A copy holding only the current key and ``key_ids``."""
        keys = {k: v for k, v in self.keys.items() if k == self.current_id or k in key_ids}
        return Keyset(self.current_id, keys, self.source, self.location, self.store, self.notes)

    def describe_source(self) -> str:
        """Human text: ``the file /x/secret-key.json``, ``GLYPHIC_SECRET_KEY``..."""
        if self.source == "env":
            return f"the environment variable {KEY_ENV}"
        if self.source == "keyring":
            return f"the OS keyring ({self.location})"
        if self.source == "file":
            return f"the file {self.location}"
        return "memory"

    def save(self) -> None:
        """Persist this keyset where it came from (the env source cannot be written)."""
        if self.store is None:
            raise SecretKeyError("this keyset has no store to be saved to")
        self.store.save(self)


def keyset_to_json(keyset: Keyset) -> str:
    """The stored JSON form of a keyset."""
    return json.dumps(
        {
            "format": KEYSET_FORMAT,
            "current": keyset.current_id,
            "keys": {key_id: encode_key(key) for key_id, key in keyset.keys.items()},
        },
        indent=2,
    )


def keyset_from_json(text: str, where: str) -> tuple[str, dict[str, bytes]]:
    """Parse stored keyset JSON into (current id, keys); bad content names ``where``."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SecretKeyError(
            f"{where} is not valid JSON; it must hold the Glyphic keyset"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise SecretKeyError(f"{where} does not hold a Glyphic keyset (no 'keys' object)")
    keys: dict[str, bytes] = {}
    for key_id, encoded in data["keys"].items():
        if not isinstance(encoded, str):
            raise SecretKeyError(f"{where}: keys.{key_id} is not a base64 string")
        key = decode_key(encoded, f"{where}: keys.{key_id}")
        if key_id_for(key) != key_id:
            raise SecretKeyError(
                f"{where}: keys.{key_id} does not match its id (the file was altered)"
            )
        keys[key_id] = key
    current = data.get("current")
    if not isinstance(current, str) or current not in keys:
        raise SecretKeyError(f"{where}: 'current' does not name one of its keys")
    return current, keys


class KeyStore(ABC):
    """Where a keyset lives."""

    source: str = ""
    writable: bool = True

    @property
    @abstractmethod
    def location(self) -> str:
        """Where, for messages (never the key)."""

    @abstractmethod
    def load(self) -> Keyset | None:
        """The stored keyset, or None when there is none yet."""

    @abstractmethod
    def save(self, keyset: Keyset) -> None:
        """Replace the stored keyset."""

    def _wrap(self, current: str, keys: dict[str, bytes]) -> Keyset:
        return Keyset(current, keys, source=self.source, location=self.location, store=self)


class EnvKeyStore(KeyStore):
    """``GLYPHIC_SECRET_KEY``: comma-separated base64 keys, the first current. Read-only."""

    source = "env"
    writable = False

    @property
    def location(self) -> str:
        return KEY_ENV

    def load(self) -> Keyset | None:
        raw = os.environ.get(KEY_ENV)
        if raw is None or not raw.strip():
            return None
        parts = [part for part in raw.split(",")]
        keys: list[bytes] = []
        for index, part in enumerate(parts, start=1):
            where = KEY_ENV if len(parts) == 1 else f"{KEY_ENV} (key {index} of {len(parts)})"
            keys.append(decode_key(part, where))
        mapping = {key_id_for(key): key for key in keys}
        return self._wrap(key_id_for(keys[0]), mapping)

    def save(self, keyset: Keyset) -> None:
        raise SecretKeyError(
            f"the key comes from {KEY_ENV}, which Glyphic cannot change; "
            f"set it to 'NEW,OLD' and run 'glyphic credentials rotate-key'"
        )


def _keyring_service() -> str:
    home = os.environ.get("GLYPHIC_HOME")
    return f"{KEYRING_SERVICE} ({Path(home).expanduser().resolve()})" if home else KEYRING_SERVICE


def keyring_backend() -> object | None:
    """The active keyring backend, or None when only the fail/null/empty-chainer one is there."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception:  # keyring missing or broken on import: no keyring
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        log.warning("the OS keyring cannot be used (%s); using the key file instead", exc)
        return None
    if isinstance(backend, fail.Keyring):
        return None
    if type(backend).__module__ == "keyring.backends.null":
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class KeyringUnavailable(SecretKeyError):
    """The keyring raised; the caller falls back to the file."""


class KeyringKeyStore(KeyStore):
    """The keyset as one JSON entry in the OS keyring."""

    source = "keyring"

    def __init__(self, backend: object) -> None:
        self.backend = backend
        self.service = _keyring_service()

    @property
    def location(self) -> str:
        return f"service {self.service!r}, entry {KEYRING_USERNAME!r}"

    def load(self) -> Keyset | None:
        try:
            text = self.backend.get_password(self.service, KEYRING_USERNAME)  # type: ignore[attr-defined]
        except Exception as exc:
            raise KeyringUnavailable(f"the OS keyring failed: {_one_line(exc)}") from exc
        if text is None:
            return None
        current, keys = keyset_from_json(text, f"the OS keyring entry ({self.location})")
        return self._wrap(current, keys)

    def save(self, keyset: Keyset) -> None:
        text = keyset_to_json(keyset)
        try:
            self.backend.set_password(self.service, KEYRING_USERNAME, text)  # type: ignore[attr-defined]
            stored = self.backend.get_password(self.service, KEYRING_USERNAME)  # type: ignore[attr-defined]
        except Exception as exc:
            raise KeyringUnavailable(f"the OS keyring failed: {_one_line(exc)}") from exc
        if stored != text:
            raise KeyringUnavailable("the OS keyring did not keep the keyset that was written")


class FileKeyStore(KeyStore):
    """The keyset in ``config_dir()/secret-key.json``, mode 0600, the dir 0700."""

    source = "file"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / KEY_FILE_NAME

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        """Whether the key file is there."""
        return self.path.exists()

    def load(self) -> Keyset | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretKeyError(
                f"cannot read the key file {self.path}: {exc.strerror or exc}"
            ) from exc
        if os.name == "posix":
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                log.warning("the key file %s is readable by others (mode %o)", self.path, mode)
        current, keys = keyset_from_json(text, f"the key file {self.path}")
        return self._wrap(current, keys)

    def _write_temp(self, text: str) -> Path:
        paths.ensure_dir(self.path.parent, mode=0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return temp

    def create(self, keyset: Keyset) -> Keyset:
        """Write the file only if it does not exist (atomically); return what is stored now."""
        try:
            temp = self._write_temp(keyset_to_json(keyset))
        except OSError as exc:
            raise SecretKeyError(
                f"cannot write the key file {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            os.link(temp, self.path)  # fails if another process created it first
        except FileExistsError:
            pass
        except OSError as exc:
            raise SecretKeyError(
                f"cannot create the key file {self.path}: {exc.strerror or exc}"
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                temp.unlink()
        stored = self.load()
        assert stored is not None
        return stored

    def save(self, keyset: Keyset) -> None:
        try:
            temp = self._write_temp(keyset_to_json(keyset))
            os.replace(temp, self.path)
        except OSError as exc:
            raise SecretKeyError(
                f"cannot write the key file {self.path}: {exc.strerror or exc}"
            ) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_keyset(*, create: bool = True) -> Keyset | None:
    """The keyset this process uses (see the module doc for the order).

    With ``create=False`` returns None instead of creating a new keyset.
    """
    env = EnvKeyStore().load()
    if env is not None:
        return env
    notes: list[str] = []
    file_store = FileKeyStore()
    backend = keyring_backend()
    keyring_store = KeyringKeyStore(backend) if backend is not None else None
    if keyring_store is not None:
        try:
            found = keyring_store.load()
        except KeyringUnavailable as exc:
            log.warning("%s; using the key file %s instead", exc.message, file_store.path)
            notes.append(f"{exc.message}; fell back to the key file")
            keyring_store = None
        else:
            if found is not None:
                return found
    else:
        notes.append("no OS keyring backend is available")
    existing = file_store.load()
    if existing is not None:
        existing.notes = notes
        return existing
    if not create:
        return None
    fresh = Keyset.from_keys(generate_key())
    if keyring_store is not None:
        candidate = keyring_store._wrap(fresh.current_id, fresh.keys)
        try:
            keyring_store.save(candidate)
        except KeyringUnavailable as exc:
            log.warning("%s; using the key file %s instead", exc.message, file_store.path)
            notes.append(f"{exc.message}; fell back to the key file")
        else:
            return candidate
    created = file_store.create(fresh)
    created.notes = notes
    return created


def require_keyset() -> Keyset:
    """The keyset, creating one when none exists yet."""
    keyset = load_keyset(create=True)
    assert keyset is not None
    return keyset
