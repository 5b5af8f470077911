"""The master keyset: GLYPHIC_SECRET_KEY, the OS keyring (custom backends), the 0600 file."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer
from keyring.errors import KeyringError

from glyphic_desktop import paths
from glyphic_desktop.secrets.keys import (
    KEY_ENV,
    KEY_FILE_NAME,
    EnvKeyStore,
    FileKeyStore,
    SecretKeyError,
    encode_key,
    generate_key,
    key_id_for,
    keyring_backend,
    load_keyset,
)


class MemoryKeyring(KeyringBackend):
    """A working keyring that keeps its entries in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


class RaisingKeyring(MemoryKeyring):
    """A keyring whose every call raises (a locked or broken Secret Service)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("org.freedesktop.DBus.Error.ServiceUnknown: no secret service")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("org.freedesktop.DBus.Error.ServiceUnknown: no secret service")


class WriteRaisingKeyring(MemoryKeyring):
    """A keyring that reads (nothing) but refuses writes."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("the collection is locked")


def key_file():
    return paths.config_dir() / KEY_FILE_NAME


# -- GLYPHIC_SECRET_KEY ------------------------------------------------------------------


def test_env_key_is_used_first(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, encode_key(key))
    keyring.set_keyring(MemoryKeyring())
    keyset = load_keyset()
    assert keyset.source == "env"
    assert keyset.current_id == key_id_for(key)
    assert keyset.current_key == key
    assert not key_file().exists()


def test_env_key_accepts_urlsafe_base64_without_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    key = bytes(range(250, 256)) + generate_key()[6:]
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(key).decode().rstrip("="))
    assert load_keyset().current_key == key


def test_env_key_of_wrong_length_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, base64.b64encode(b"x" * 16).decode())
    with pytest.raises(SecretKeyError) as info:
        load_keyset()
    assert info.value.message == (
        "GLYPHIC_SECRET_KEY decodes to 16 bytes; it must be 32 bytes encoded in base64"
    )
    assert not key_file().exists()


def test_env_key_that_is_not_base64_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "this is not base64!")
    with pytest.raises(SecretKeyError) as info:
        load_keyset()
    assert info.value.message == (
        "GLYPHIC_SECRET_KEY is not valid base64; it must be 32 bytes encoded in base64"
    )
    assert "\n" not in info.value.message
    assert not key_file().exists()


def test_env_several_keys_first_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = generate_key(), generate_key()
    monkeypatch.setenv(KEY_ENV, f"{encode_key(new)},{encode_key(old)}")
    keyset = load_keyset()
    assert keyset.current_id == key_id_for(new)
    assert set(keyset.ids) == {key_id_for(new), key_id_for(old)}


def test_env_bad_second_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, f"{encode_key(generate_key())},AAAA")
    with pytest.raises(SecretKeyError, match=r"GLYPHIC_SECRET_KEY \(key 2 of 2\) decodes to 3"):
        load_keyset()


def test_env_store_cannot_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, encode_key(generate_key()))
    keyset = EnvKeyStore().load()
    with pytest.raises(SecretKeyError, match="cannot change"):
        keyset.with_new_current().save()


# -- the key file --------------------------------------------------------------------------


def test_file_is_created_0600_in_a_0700_dir_and_reused() -> None:
    first = load_keyset()
    assert first.source == "file"
    assert first.location == str(key_file())
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file().parent.stat().st_mode) == 0o700
    second = load_keyset()
    assert second.current_id == first.current_id
    assert second.current_key == first.current_key
    assert [p.name for p in key_file().parent.iterdir()] == [KEY_FILE_NAME]


def test_create_false_creates_nothing() -> None:
    assert load_keyset(create=False) is None
    assert not key_file().exists()


def test_concurrent_first_use_agrees_on_one_key() -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(load_keyset().current_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1
    assert [p.name for p in key_file().parent.iterdir()] == [KEY_FILE_NAME]


def test_corrupt_key_file_is_a_clear_error_and_left_alone() -> None:
    paths.ensure_dir(key_file().parent)
    key_file().write_text("{not json", encoding="utf-8")
    with pytest.raises(SecretKeyError) as info:
        load_keyset()
    assert (
        info.value.message
        == f"the key file {key_file()} is not valid JSON; it must hold the Glyphic keyset"
    )
    assert key_file().read_text(encoding="utf-8") == "{not json"


def test_altered_key_in_file_is_refused() -> None:
    keyset = load_keyset()
    data = json.loads(key_file().read_text())
    data["keys"][keyset.current_id] = encode_key(generate_key())
    key_file().write_text(json.dumps(data))
    with pytest.raises(SecretKeyError, match="does not match its id"):
        load_keyset()


def test_file_readable_by_others_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    load_keyset()
    os.chmod(key_file(), 0o644)
    with caplog.at_level(logging.WARNING):
        load_keyset()
    assert "readable by others" in caplog.text


def test_saving_a_rotated_file_keyset_keeps_0600() -> None:
    keyset = load_keyset()
    rotated = keyset.with_new_current()
    rotated.save()
    again = FileKeyStore().load()
    assert again.current_id == rotated.current_id
    assert set(again.ids) == {keyset.current_id, rotated.current_id}
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600


# -- the OS keyring -----------------------------------------------------------------------


def test_keyring_is_used_when_available() -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    keyset = load_keyset()
    assert keyset.source == "keyring"
    assert len(backend.entries) == 1
    assert not key_file().exists()
    assert load_keyset().current_key == keyset.current_key


def test_keyring_that_raises_falls_back_to_the_file_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keyring.set_keyring(RaisingKeyring())
    with caplog.at_level(logging.WARNING):
        keyset = load_keyset()
    assert keyset.source == "file"
    assert "the OS keyring failed: KeyringError" in caplog.text
    assert any("fell back to the key file" in note for note in keyset.notes)
    assert load_keyset().current_key == keyset.current_key


def test_keyring_that_refuses_writes_falls_back_to_the_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = WriteRaisingKeyring()
    keyring.set_keyring(backend)
    with caplog.at_level(logging.WARNING):
        keyset = load_keyset()
    assert keyset.source == "file"
    assert backend.entries == {}
    assert "collection is locked" in caplog.text


def test_keyring_that_raises_after_data_exists_loses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    working = MemoryKeyring()
    keyring.set_keyring(working)
    stored = load_keyset()
    broken = RaisingKeyring()
    keyring.set_keyring(broken)
    with caplog.at_level(logging.WARNING):
        fallback = load_keyset()
    assert fallback.source == "file"
    keyring.set_keyring(working)
    assert load_keyset().current_key == stored.current_key  # the keyring entry is untouched


def test_existing_file_wins_over_an_empty_keyring() -> None:
    from_file = load_keyset()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    keyset = load_keyset()
    assert keyset.source == "file"
    assert keyset.current_key == from_file.current_key
    assert backend.entries == {}


def test_existing_keyring_entry_wins_over_a_file() -> None:
    load_keyset()  # creates the file
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    other = generate_key()
    from glyphic_desktop.secrets.keys import KeyringKeyStore, Keyset

    store = KeyringKeyStore(backend)
    store.save(Keyset.from_keys(other))
    assert load_keyset().current_key == other


def test_corrupt_keyring_entry_is_a_clear_error_and_left_alone() -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    load_keyset()
    ((entry_key, _),) = backend.entries.items()
    backend.entries[entry_key] = "garbage"
    with pytest.raises(SecretKeyError, match=r"OS keyring entry .* is not valid JSON"):
        load_keyset()
    assert backend.entries[entry_key] == "garbage"


def test_fail_and_empty_chainer_backends_are_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert keyring_backend() is None
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    assert keyring_backend() is None
    assert load_keyset().source == "file"
