"""Credential figures, one JSON line per case.

    python bench/credentials.py                       # embedded server in a temp dir
    GLYPHIC_DATABASE_URL=postgresql://... python bench/credentials.py [--rows 10000]

Cases:

- ``encrypt_decrypt``: AES-256-GCM encrypt + decrypt of one credential's fields
  (``us_per_credential``; also split into ``encrypt_us`` / ``decrypt_us``);
- ``mask``: SecretMasker over 1 MB of log text with 20 registered secrets (``mb_per_s``);
- ``rotation``: ``rotate_master_key`` over N rows (default 10,000) in a scratch database
  created on the server and dropped afterwards (``seconds``, ``rows_per_s``). The scratch
  database and a temporary GLYPHIC_HOME keep the user's data and key untouched; the
  role must be allowed to create databases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from glyphic_desktop.secrets.crypto import RowIdentity, decrypt_fields, encrypt_fields  # noqa: E402
from glyphic_desktop.secrets.keys import Keyset, generate_key  # noqa: E402
from glyphic_desktop.secrets.masking import SecretMasker  # noqa: E402

FIELDS = {
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "user": "reports@example.com",
    "password": "correct horse battery staple",
    "from_address": "reports@example.com",
}


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def bench_encrypt_decrypt(n: int = 20_000) -> None:
    keyset = Keyset.from_keys(generate_key())
    row = RowIdentity(str(uuid.uuid4()), str(uuid.uuid4()), "smtp", "bench")
    blobs = []
    started = time.perf_counter()
    for _ in range(n):
        blobs.append(encrypt_fields(FIELDS, keyset, row))
    encrypted = time.perf_counter()
    for blob in blobs:
        decrypt_fields(blob, keyset, row)
    done = time.perf_counter()
    encrypt_us = (encrypted - started) / n * 1e6
    decrypt_us = (done - encrypted) / n * 1e6
    emit(
        case="encrypt_decrypt",
        n=n,
        us_per_credential=round(encrypt_us + decrypt_us, 2),
        encrypt_us=round(encrypt_us, 2),
        decrypt_us=round(decrypt_us, 2),
    )


def bench_mask() -> None:
    secrets = [f"secret-token-{i:04d}-abcdef" for i in range(20)]
    masker = SecretMasker(secrets)
    line = "2026-11-25 INFO node 'HTTP' (3): GET https://api.example.test/items?page=2 -> 200\n"
    text = (line * (1_000_000 // len(line))) + secrets[3]
    masker.mask(text)  # compile once
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        masked = masker.mask(text)
    seconds = (time.perf_counter() - started) / runs
    assert secrets[3] not in masked
    emit(
        case="mask",
        mb=round(len(text) / 1e6, 2),
        secrets=20,
        mb_per_s=round(len(text) / 1e6 / seconds, 1),
    )


def bench_rotation(rows: int) -> None:
    """Rotate the master key over ``rows`` credentials in a scratch database, with a
    temporary GLYPHIC_HOME (its own key file and embedded server when no URL is set)."""
    from sqlalchemy import insert

    from glyphic_desktop.store.models import Integration

    os.environ["GLYPHIC_HOME"] = tempfile.mkdtemp(prefix="glyphic-bench-home-")
    os.environ.pop("GLYPHIC_SECRET_KEY", None)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    if not os.environ.get("GLYPHIC_DATABASE_URL") and os.environ.get("GLYPHIC_TEST_DATABASE_URL"):
        os.environ["GLYPHIC_DATABASE_URL"] = os.environ["GLYPHIC_TEST_DATABASE_URL"]
    from scratch import scratch_database, stop_embedded_server

    from glyphic_desktop.secrets.keys import load_keyset
    from glyphic_desktop.secrets.rotation import rotate_master_key

    with scratch_database() as scratch:
        keyset = load_keyset()
        batch = []
        for index in range(rows):
            row_id = uuid.uuid4()
            identity = RowIdentity(str(row_id), str(scratch.user_id), "smtp", f"cred-{index}")
            batch.append(
                {
                    "id": row_id,
                    "user_id": scratch.user_id,
                    "type": "smtp",
                    "name": f"cred-{index}",
                    "credentials_encrypted": encrypt_fields(FIELDS, keyset, identity),
                    "key_id": keyset.current_id,
                }
            )
        with scratch.db.session() as session:
            session.execute(insert(Integration), batch)
        result = rotate_master_key(scratch.db, keyset)
        assert result.rows == rows
        emit(
            case="rotation",
            rows=rows,
            seconds=round(result.seconds, 3),
            rows_per_s=round(rows / result.seconds),
        )
    stop_embedded_server()  # the temporary home's own server, if it started one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows to rotate")
    parser.add_argument("--no-db", action="store_true", help="skip the rotation case")
    args = parser.parse_args()
    bench_encrypt_decrypt()
    bench_mask()
    if not args.no_db:
        bench_rotation(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
