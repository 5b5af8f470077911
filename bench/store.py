"""Store figures: one JSON line per case with ``case``, ``nodes`` and ``median_ms``.

Cases: save / load / save+load of a 1,000- and a 10,000-node workflow (median of
``--runs``) with the client's share of each (``save_client_dump``: the JSON dump;
``load_client_validate``: pydantic validating the stored text), node-type search over
10,000 stored workflows, and ``glyphic db status`` (a subprocess) against an
already-running server. ``--first-start`` adds the first start of a fresh embedded
cluster.

The server is ``GLYPHIC_DATABASE_URL``'s, or the embedded one. The figures are taken in
a scratch database created (and dropped) on that server, so nothing of the user's is
touched. Targets (issue 3): 10,000-node save + load under 300 ms; db status under 1 s.

    python bench/store.py [--runs 5] [--first-start]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scratch import scratch_database  # bench/scratch.py (also puts the repo on sys.path)
from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.database import (
    DATABASE_URL_ENV,
    Database,
)
from glyphic_desktop.store.repositories import WorkflowRepository
from glyphic_desktop.store.repositories.workflows import dump_document_bytes, load_document


def emit(case: str, nodes: int | None, samples: list[float], **extra: Any) -> None:
    """Print one JSON line for a case (milliseconds, median of the samples)."""
    line = {"case": case, "nodes": nodes, "median_ms": round(statistics.median(samples), 1)}
    line.update(runs=len(samples), min_ms=round(min(samples), 1), **extra)
    print(json.dumps(line), flush=True)


def timed(function: Callable[[], Any]) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def make_document(count: int) -> WorkflowDocument:
    """A chain of ``count`` nodes with realistic fields, ports and edges."""
    types = ("manual_trigger", "http_request", "set_fields", "if", "log", "code")
    nodes = [
        {
            "id": str(i),
            "type": types[i % len(types)],
            "pos": [float(i % 100) * 220.0, float(i // 100) * 160.0],
            "size": [200.0, 120.0],
            "data": {
                "label": f"Step {i}",
                "nodeType": types[i % len(types)],
                "fields": {"message": f"value {i}", "url": "https://example.org/", "n": i},
            },
            "inputs": [{"name": "input", "type": "any", "link": None}],
            "outputs": [{"name": "output", "type": "any", "links": []}],
        }
        for i in range(1, count + 1)
    ]
    edges = [
        {
            "id": i,
            "source": str(i),
            "sourceHandle": "output",
            "target": str(i + 1),
            "targetHandle": "input",
            "type": "any",
        }
        for i in range(1, count)
    ]
    return WorkflowDocument.model_validate(
        {"nodes": nodes, "edges": edges, "last_node_id": count, "last_link_id": count - 1}
    )


def bench_save_load(db: Database, user_id: uuid.UUID, count: int, runs: int) -> None:
    """Median save, load and save+load of one ``count``-node workflow."""
    document = make_document(count)
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(f"bench {count}", document)
    version = record.version
    saves: list[float] = []
    loads: list[float] = []
    loaded: list[Any] = []
    for _ in range(runs):
        document.nodes[0].data.fields["n"] = version  # a real change each time

        def save() -> None:
            nonlocal version
            with db.session() as session:
                version = (
                    WorkflowRepository(session, user_id)
                    .save(record.id, document, base_version=version)
                    .version
                )

        def load() -> None:
            with db.session() as session:
                # Kept alive past the timer: freeing the previous document is not loading.
                loaded.append(WorkflowRepository(session, user_id).get(record.id))

        saves.append(timed(save))
        loads.append(timed(load))
        loaded.clear()
    emit("save", count, saves)
    emit("load", count, loads)
    emit("save+load", count, [s + lo for s, lo in zip(saves, loads, strict=True)])
    # The client's share of each (the rest is PostgreSQL: JSONB parsing and TOAST on
    # save, JSONB to text on load), so a change can be placed on either side. The port
    # link check runs while the server parses, so it is not on the save's critical path.
    data = dump_document_bytes(document)
    dumps = [timed(lambda: document.__pydantic_serializer__.to_json(document)) for _ in range(runs)]
    checks = [timed(document.port_links_in_sync) for _ in range(runs)]
    validations: list[float] = []
    for _ in range(runs):
        validations.append(timed(lambda: loaded.append(load_document(data, where="bench"))))
        loaded.clear()
    emit("save_client_dump", count, dumps, json_bytes=len(data))
    emit("save_link_check_overlapped", count, checks)
    emit("load_client_validate", count, validations)


def bench_search(db: Database, user_id: uuid.UUID, runs: int) -> None:
    """Node-type search over 10,000 stored workflows (10 nodes each; 1 % have a gmail node)."""
    with db.session() as session:
        session.execute(
            text(
                "INSERT INTO workflows (user_id, name, workflow_data, tags) "
                "SELECT :uid, 'search ' || g, jsonb_build_object('id', NULL, 'revision', 1, "
                "'nodes', (SELECT jsonb_agg(jsonb_build_object('id', n::text, 'type', "
                "CASE WHEN n = 5 AND g % 100 = 0 THEN 'gmail' "
                "ELSE (ARRAY['log','http_request','set_fields','if','code'])[1 + (g + n) % 5] END, "
                "'pos', jsonb_build_array(n * 200, 0), 'data', jsonb_build_object('label', "
                "'Node ' || n, 'fields', jsonb_build_object('message', 'hello ' || g)))) "
                "FROM generate_series(1, 10) n), 'edges', '[]'::jsonb), ARRAY['bench'] "
                "FROM generate_series(1, 10000) g"
            ),
            {"uid": user_id},
        )
        session.execute(text("ANALYZE workflows"))

    def measure(case: str) -> None:
        samples: list[float] = []
        found = 0
        for _ in range(max(runs, 5)):

            def search() -> None:
                nonlocal found
                with db.session() as session:
                    found = len(WorkflowRepository(session, user_id).list(node_type="gmail"))

            samples.append(timed(search))
        emit(case, 10, samples, workflows=10000, matches=found)

    # Right after a bulk insert the GIN index's pending list still holds the new
    # entries (every search reads it); autovacuum merges it soon after.
    measure("search_node_type_fresh")
    with db.session() as session:
        session.execute(text("SELECT gin_clean_pending_list('idx_workflows_node_types')"))
    measure("search_node_type")


def bench_db_status(env: dict[str, str], runs: int) -> None:
    """`glyphic db status` as a subprocess against a running server."""
    samples: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "glyphic_desktop.cli.main", "db", "status"],
            capture_output=True,
            text=True,
            env=env,
        )
        samples.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"glyphic db status failed: {result.stderr.strip()}")
    emit("db_status", None, samples)


def bench_first_start() -> None:
    """The first start of a fresh embedded cluster (initdb, start, create database)."""
    from glyphic_desktop.store.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="glyphic-bench-") as root:
        server = EmbeddedPostgres(Path(root))
        try:
            elapsed = timed(server.ensure_running)
        finally:
            server.stop()
    emit("embedded_first_start", None, [elapsed])


def main() -> int:
    """Run every case and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--first-start", action="store_true")
    args = parser.parse_args()

    with scratch_database() as scratch:
        for count in (1000, 10000):
            bench_save_load(scratch.db, scratch.user_id, count, args.runs)
        bench_search(scratch.db, scratch.user_id, args.runs)
        env = dict(os.environ)
        if scratch.external:
            env[DATABASE_URL_ENV] = scratch.url
        bench_db_status(env, args.runs)
    if args.first_start:
        bench_first_start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
