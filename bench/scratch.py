"""A scratch database for a benchmark: created on the benchmark's server, migrated, with one
user, and dropped afterwards, so nothing of the user's is touched.

The server is ``GLYPHIC_DATABASE_URL``'s, or the user's embedded one (started if needed).
Also the other setup the benches share: a temporary ``GLYPHIC_HOME``, the JSON line
printer, a percentile, a small stored workflow.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import Database, external_database_url, normalise_url
from glyphic_desktop.store.migrations import upgrade
from glyphic_desktop.store.models import User
from glyphic_desktop.store.repositories.workflows import WorkflowRepository


@dataclass
class Scratch:
    """The scratch database, its URL, its user, and whether the server is external."""

    db: Database
    url: str
    user_id: uuid.UUID
    external: bool


def server_url() -> tuple[str, bool]:
    """The benchmark server's admin URL, and whether it is external."""
    external = external_database_url()
    if external:
        return normalise_url(external), True
    from glyphic_desktop.store.embedded import default_server

    url = default_server().ensure_running()
    db = Database(url)
    upgrade(db.engine)  # commands run against the user's database (db status) need it
    db.dispose()
    return url, False


@contextmanager
def scratch_database() -> Iterator[Scratch]:
    """Create, migrate and yield a scratch database; drop it afterwards."""
    admin_url, external = server_url()
    name = f"glyphic_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    try:
        upgrade(db.engine)
        with db.session() as session:
            user = User(email="bench@example.org", name="bench")
            session.add(user)
            session.flush()
            user_id = user.id
        yield Scratch(db, url, user_id, external)
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stop_embedded_server() -> None:
    """Stop the embedded server of this process's GLYPHIC_HOME, when one was used (benches
    that run under a temporary home leave nothing running)."""
    if external_database_url():
        return
    from glyphic_desktop.store.embedded import default_server

    default_server().discard()  # as root its cluster may live under /var/lib/glyphic


@contextmanager
def bench_home() -> Iterator[None]:
    """Run under a temporary GLYPHIC_HOME unless one is given (its own key file and, with
    no GLYPHIC_DATABASE_URL, its own embedded server, stopped at the end); no keyring."""
    temporary_home = "GLYPHIC_HOME" not in os.environ
    os.environ.setdefault("GLYPHIC_HOME", tempfile.mkdtemp(prefix="glyphic-bench-home-"))
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    try:
        yield
    finally:
        if temporary_home:
            stop_embedded_server()  # the temporary home's own server


def emit(case: str, **figures: Any) -> None:
    """Print one JSON line."""
    print(json.dumps({"case": case, **figures}), flush=True)


def percentile(samples: list[float], share: float) -> float:
    """The sample at ``share`` (0..1) of the sorted ``samples`` (nearest rank, not empty)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def three_node_workflow(scratch: Scratch, name: str) -> uuid.UUID:
    """Store a Start -> Log -> Set workflow named ``name`` for the scratch user; its id."""
    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "manual", "data": {"label": "Start"}},
                {"id": "say", "type": "log", "data": {"fields": {"message": "hi {{ input }}"}}},
                {"id": "set", "type": "set", "data": {"fields": {"fields": []}}},
            ],
            "edges": [
                {"id": 1, "source": "start", "target": "say"},
                {"id": 2, "source": "say", "target": "set"},
            ],
        }
    )
    with scratch.db.session() as session:
        return WorkflowRepository(session, scratch.user_id).create(name, document).id
