"""AES-256-GCM blobs: layout, fresh nonces, row binding, wrong keys and tampering."""

from __future__ import annotations

import pytest

from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.secrets.crypto import (
    FORMAT_VERSION,
    NONCE_SIZE,
    CorruptCredentialError,
    KeyMismatchError,
    RowIdentity,
    blob_key_id,
    decrypt_fields,
    encrypt_bytes,
    encrypt_fields,
    parse_blob,
)
from glyphic_desktop.secrets.keys import Keyset, generate_key

ROW = RowIdentity("0b6f2d6e-0000-4000-8000-000000000001", "user-1", "smtp", "Work")
FIELDS = {"host": "mail.example", "password": "hunter2-secret", "port": 587}


def test_round_trip_and_layout(keyset: Keyset) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    assert blob[0] == FORMAT_VERSION
    assert blob[1] == len(keyset.current_id)
    assert blob[2 : 2 + blob[1]].decode() == keyset.current_id
    assert blob_key_id(blob) == keyset.current_id
    header = parse_blob(blob)
    assert len(header.nonce) == NONCE_SIZE
    assert b"hunter2-secret" not in blob
    assert decrypt_fields(blob, keyset, ROW) == FIELDS


def test_every_write_uses_a_fresh_nonce(keyset: Keyset) -> None:
    blobs = {encrypt_fields(FIELDS, keyset, ROW) for _ in range(50)}
    nonces = {parse_blob(blob).nonce for blob in blobs}
    assert len(blobs) == 50 and len(nonces) == 50


def test_wrong_key_says_the_key_does_not_match(keyset: Keyset) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    other = Keyset.from_keys(generate_key())
    with pytest.raises(KeyMismatchError) as info:
        decrypt_fields(blob, other, ROW)
    assert info.value.message == "the secret key does not match the data of credential 'Work'"


def test_same_key_id_but_different_key_bytes_is_not_garbage(keyset: Keyset) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    forged = Keyset(keyset.current_id, {keyset.current_id: generate_key()})
    with pytest.raises(GlyphicError) as info:
        decrypt_fields(blob, forged, ROW)
    assert "Work" in info.value.message


@pytest.mark.parametrize(
    "moved",
    [
        RowIdentity("0b6f2d6e-0000-4000-8000-000000000002", "user-1", "smtp", "Work"),
        RowIdentity(ROW.integration_id, "user-2", "smtp", "Work"),
        RowIdentity(ROW.integration_id, "user-1", "slack", "Work"),
    ],
    ids=["other-id", "other-owner", "other-type"],
)
def test_blob_moved_to_another_row_fails(keyset: Keyset, moved: RowIdentity) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    with pytest.raises(CorruptCredentialError) as info:
        decrypt_fields(blob, keyset, moved)
    assert info.value.message == "credential 'Work' is corrupt or was moved from another row"


def test_renaming_keeps_the_blob_readable(keyset: Keyset) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    renamed = RowIdentity(ROW.integration_id, ROW.user_id, ROW.type, "Renamed")
    assert decrypt_fields(blob, keyset, renamed) == FIELDS


def test_every_single_flipped_byte_is_caught(keyset: Keyset) -> None:
    blob = encrypt_fields(FIELDS, keyset, ROW)
    for position in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= bit
            with pytest.raises(GlyphicError) as info:
                decrypt_fields(bytes(tampered), keyset, ROW)
            assert isinstance(info.value, CorruptCredentialError | KeyMismatchError)
            assert "'Work'" in info.value.message


def test_flipped_ciphertext_byte_is_reported_as_corrupt(keyset: Keyset) -> None:
    blob = bytearray(encrypt_fields(FIELDS, keyset, ROW))
    blob[-5] ^= 0x01
    with pytest.raises(CorruptCredentialError, match="is corrupt or was moved"):
        decrypt_fields(bytes(blob), keyset, ROW)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x01", b"\x02\x03abc" + b"\x00" * 40, b"\x01\x00" + b"\x00" * 40, b"\x01\x05ab"],
    ids=["empty", "version-only", "unknown-version", "empty-key-id", "truncated"],
)
def test_malformed_blobs_are_corrupt(keyset: Keyset, blob: bytes) -> None:
    with pytest.raises(CorruptCredentialError, match="'Work' is corrupt"):
        decrypt_fields(blob, keyset, ROW)


def test_ciphertext_that_is_not_a_json_object_is_corrupt(keyset: Keyset) -> None:
    blob = encrypt_bytes(b"[1, 2]", keyset.current_key, keyset.current_id, ROW)
    with pytest.raises(CorruptCredentialError):
        decrypt_fields(blob, keyset, ROW)


def test_old_keys_stay_readable_after_a_new_current_key(keyset: Keyset) -> None:
    old_blob = encrypt_fields(FIELDS, keyset, ROW)
    rotated = keyset.with_new_current()
    assert rotated.current_id != keyset.current_id
    assert decrypt_fields(old_blob, rotated, ROW) == FIELDS
    new_blob = encrypt_fields(FIELDS, rotated, ROW)
    assert blob_key_id(new_blob) == rotated.current_id
    retired = rotated.retaining(set())
    assert retired.ids == [rotated.current_id]
    with pytest.raises(KeyMismatchError):
        decrypt_fields(old_blob, retired, ROW)


def test_keyset_repr_never_shows_key_bytes(keyset: Keyset) -> None:
    text = repr(keyset)
    assert keyset.current_id in text
    assert keyset.current_key.hex() not in text
    assert str(keyset.current_key) not in text
