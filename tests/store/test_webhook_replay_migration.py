"""0006 on a database that already holds webhooks: those keep the signature their senders
make (legacy), new ones get the full scheme; the replay table refuses a second key."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from glyphic_desktop import paths
from glyphic_desktop.store.migrations import upgrade


@pytest.fixture
def engine(pg_server_url: str) -> Iterator[Engine]:
    """An engine on a brand-new, empty database (no migrations applied)."""
    name = f"glyphic_m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    eng = create_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def schema_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "schema"
    shutil.copytree(paths.schema_dir(), target)
    monkeypatch.setenv("GLYPHIC_SCHEMA_DIR", str(target))
    return target


def _add_webhook(conn, user: uuid.UUID, path: str) -> None:
    conn.execute(
        text(
            "INSERT INTO webhooks (workflow_id, user_id, path, secret) SELECT id, user_id, "
            ":path, 'gcm1:x' FROM workflows WHERE user_id = :u"
        ),
        {"u": user, "path": path},
    )


def test_existing_webhooks_stay_legacy_and_new_ones_sign_the_full_request(
    engine: Engine, schema_copy: Path
) -> None:
    held_back = {
        path: path.read_text()
        for path in schema_copy.iterdir()
        if path.suffix == ".sql" and int(path.name[:4]) >= 6
    }
    for path in held_back:
        path.unlink()
    upgrade(engine)
    with engine.begin() as conn:
        user = conn.execute(
            text("INSERT INTO users (email, name) VALUES ('a@b.c', 'a') RETURNING id")
        ).scalar_one()
        conn.execute(
            text("INSERT INTO workflows (user_id, name, workflow_data) VALUES (:u, 'w', '{}')"),
            {"u": user},
        )
        _add_webhook(conn, user, "old")
    for path, sql in held_back.items():
        path.write_text(sql)
    applied = [m.filename for m in upgrade(engine)]
    assert applied[0] == "0006_webhook_replay_guard.sql"
    with engine.begin() as conn:
        _add_webhook(conn, user, "new")
        schemes = dict(conn.execute(text("SELECT path, signature_scheme FROM webhooks")).all())
    assert schemes == {"old": "legacy", "new": "full"}

    key = {"w": uuid.uuid4(), "s": b"\x01" * 32, "e": uuid.uuid4()}
    insert = text(
        "INSERT INTO webhook_replays (webhook_id, signature, t, execution_id, expires_at) "
        "VALUES (:w, :s, 1, :e, now())"
    )
    with engine.begin() as conn:
        conn.execute(insert, key)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {**key, "e": uuid.uuid4()})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # not an HMAC-SHA256
        conn.execute(insert, {**key, "s": b"\x01" * 31})
