"""Master-key rotation: every row re-encrypted in one transaction, old keys retired, and a
rotation killed with SIGKILL between rows loses nothing."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from glyphic_desktop.secrets.crypto import CorruptCredentialError, blob_key_id
from glyphic_desktop.secrets.keys import (
    KEY_ENV,
    FileKeyStore,
    SecretKeyError,
    encode_key,
    generate_key,
    key_id_for,
    load_keyset,
)
from glyphic_desktop.secrets.rotation import ROW_DELAY_ENV, rotate_master_key
from glyphic_desktop.store.repositories.integrations import IntegrationRepository

ROOT = Path(__file__).resolve().parents[2]


def fill(db, user_id, keyset, count: int, prefix: str = "cred") -> dict[str, str]:
    tokens = {f"{prefix}-{i:02d}": f"token-{prefix}-{i:02d}-secret" for i in range(count)}
    with db.session() as session:
        repo = IntegrationRepository(session, user_id, keyset)
        for name, token in tokens.items():
            repo.create("bearer", name, {"token": token})
    return tokens


def read_all(db, user_id, keyset) -> dict[str, str]:
    with db.session() as session:
        repo = IntegrationRepository(session, user_id, keyset)
        return {i.name: repo.get_decrypted(i.id).fields["token"] for i in repo.list()}


def row_state(db) -> list[tuple]:
    with db.session() as session:
        rows = session.execute(
            text("SELECT id, key_id, credentials_encrypted FROM integrations ORDER BY id")
        )
        return [(str(r.id), r.key_id, bytes(r.credentials_encrypted)) for r in rows]


def test_rotation_reencrypts_every_users_rows_and_retires_the_old_key(
    db, user_id, other_user_id
) -> None:
    keyset = load_keyset()
    mine = fill(db, user_id, keyset, 5)
    theirs = fill(db, other_user_id, keyset, 3, prefix="other")
    before = row_state(db)
    result = rotate_master_key(db)
    assert result.rows == 8
    assert result.retired == [keyset.current_id]
    assert result.new_key_id != keyset.current_id
    stored = FileKeyStore().load()
    assert stored.ids == [result.new_key_id]
    after = row_state(db)
    assert {key_id for _, key_id, _ in after} == {result.new_key_id}
    assert all(blob_key_id(blob) == result.new_key_id for _, _, blob in after)
    assert all(a[2] != b[2] for a, b in zip(before, after, strict=True))
    assert read_all(db, user_id, stored) == mine
    assert read_all(db, other_user_id, stored) == theirs


def test_rotation_with_an_unreadable_row_changes_nothing(db, user_id) -> None:
    keyset = load_keyset()
    fill(db, user_id, keyset, 3)
    with db.session() as session:
        session.execute(
            text(
                "UPDATE integrations SET credentials_encrypted = (SELECT credentials_encrypted "
                "FROM integrations WHERE name = 'cred-00') WHERE name = 'cred-01'"
            )
        )
    before = row_state(db)
    with pytest.raises(CorruptCredentialError, match="'cred-01' is corrupt or was moved"):
        rotate_master_key(db)
    assert row_state(db) == before
    readable = load_keyset()
    assert keyset.current_id in readable.keys  # the old key was not retired
    with db.session() as session:
        session.execute(text("DELETE FROM integrations WHERE name = 'cred-01'"))
    result = rotate_master_key(db)
    assert result.rows == 2
    assert set(read_all(db, user_id, load_keyset())) == {"cred-00", "cred-02"}


def test_rotation_with_a_key_that_does_not_match_changes_nothing(
    db, user_id, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyset = load_keyset()
    fill(db, user_id, keyset, 2)
    before = row_state(db)
    monkeypatch.setenv(KEY_ENV, encode_key(generate_key()))
    with pytest.raises(SecretKeyError, match="does not match the stored credentials"):
        rotate_master_key(db)
    assert row_state(db) == before
    monkeypatch.delenv(KEY_ENV)
    assert load_keyset().ids == [keyset.current_id]


def test_rotation_with_the_env_key(db, user_id, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv(KEY_ENV, encode_key(old))
    tokens = fill(db, user_id, load_keyset(), 3)
    monkeypatch.setenv(KEY_ENV, f"{encode_key(new)},{encode_key(old)}")
    result = rotate_master_key(db)
    assert (result.rows, result.new_key_id) == (3, key_id_for(new))
    assert result.still_listed == [key_id_for(old)] and result.retired == []
    monkeypatch.setenv(KEY_ENV, encode_key(new))
    assert read_all(db, user_id, load_keyset()) == tokens


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            continue
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"never saw {needle!r}; stderr so far: {''.join(lines)}")


@pytest.mark.slow
def test_rotation_killed_between_rows_loses_nothing(db, user_id, other_user_id) -> None:
    keyset = load_keyset()
    mine = fill(db, user_id, keyset, 8)
    theirs = fill(db, other_user_id, keyset, 2, prefix="other")
    before = row_state(db)
    env = {
        **os.environ,
        ROW_DELAY_ENV: "0.5",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "glyphic_desktop.cli.main", "credentials", "rotate-key"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        _wait_for_line(proc, "rotation: row 5/10", timeout=60)
        proc.kill()  # SIGKILL: no cleanup, mid-transaction
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
        proc.stdout.close()
    assert proc.returncode == -9
    half = load_keyset()
    assert len(half.ids) == 2 and keyset.current_id in half.keys  # new key added, old kept
    assert row_state(db) == before  # the transaction rolled back
    assert read_all(db, user_id, half) == mine
    assert read_all(db, other_user_id, half) == theirs
    result = rotate_master_key(db)
    assert result.rows == 10
    assert sorted(result.retired) == sorted(half.ids)
    final = load_keyset()
    assert final.ids == [result.new_key_id]
    assert read_all(db, user_id, final) == mine
    assert read_all(db, other_user_id, final) == theirs
