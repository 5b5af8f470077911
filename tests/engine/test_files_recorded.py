"""Files a run produces are recorded with its execution (the ``files`` table).

Real workflows (built-in nodes) run through ``engine.runner.run_workflow`` against a
fresh PostgreSQL database; the HTTP download talks to a real server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import delete, func, select, update
from support.documents import edge_dicts
from support.servers import AppServer

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.executor import Executor
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.paths import files_dir
from glyphic_desktop.store.models import Execution, File
from glyphic_desktop.store.repositories.files import (
    FileRepository,
    count_orphan_files,
    is_under,
    prune_orphan_files,
)
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def build(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[str]) -> WorkflowDocument:
    """A document of built-in nodes: ``(id, type, fields)``; edges ``"a:port -> b:port"``."""
    registry = default_registry()
    doc_nodes = []
    for index, (node_id, key, fields) in enumerate(nodes):
        cls = registry.get(key)
        doc_nodes.append(
            {
                "id": node_id,
                "type": key,
                "pos": [80 + 300 * index, 120],
                "data": {"label": f"{cls.title} {node_id}", "nodeType": key, "fields": fields},
                "inputs": [{"name": p.name, "type": p.type} for p in cls.inputs],
                "outputs": [{"name": p.name, "type": p.type} for p in cls.outputs],
            }
        )
    doc_edges = edge_dicts(edges)
    return WorkflowDocument.model_validate(
        {
            "last_node_id": len(doc_nodes),
            "last_link_id": len(doc_edges),
            "nodes": doc_nodes,
            "edges": doc_edges,
        }
    )


def store(db, user_id, document, name="files"):
    with db.session() as session:
        return WorkflowRepository(session, user_id).create(name, document)


def rows_of(db, user_id, execution_id):
    with db.session() as session:
        return FileRepository(session, user_id).list_for_execution(execution_id)


def all_rows(db):
    with db.session() as session:
        return list(session.scalars(select(File).order_by(File.created_at, File.id)))


def write_flow(path: str, content: str = "hello, files") -> WorkflowDocument:
    return build(
        [("m", "manual", {}), ("w", "write_file", {"path": path, "content": content})],
        ["m -> w"],
    )


def delete_execution(db, execution_id) -> None:
    with db.session() as session:
        session.execute(delete(Execution).where(Execution.id == execution_id))


# -- Write file ----------------------------------------------------------------------------


def test_write_file_is_recorded_with_its_execution(db, user_id):
    record = store(db, user_id, write_flow("reports/out.txt"))
    result = run_workflow(db, user_id, record)
    assert result.ok, result.error
    rows = rows_of(db, user_id, result.execution_id)
    assert len(rows) == 1
    row = rows[0]
    expected = files_dir() / "reports" / "out.txt"
    assert row.execution_id == result.execution_id
    assert row.filename == "out.txt"
    assert row.size_bytes == len(b"hello, files") == expected.stat().st_size
    assert row.mime_type == "text/plain"
    assert row.storage_provider == "local"
    assert Path(row.storage_path) == expected and is_under(row.storage_path, files_dir())
    assert row.metadata == {"node_id": "w", "node_type": "write_file", "node_label": "Write file w"}
    assert row.exists and row.created_at is not None
    assert [f.id for f in result.files] == [row.id]
    # The row is exactly what the table holds.
    (stored,) = all_rows(db)
    assert (stored.user_id, stored.storage_provider, stored.size_bytes) == (user_id, "local", 12)


def test_rewriting_one_path_in_a_loop_records_it_once(db, user_id):
    document = build(
        [
            ("m", "manual", {}),
            ("l", "loop", {"items": [1, 2, 3]}),
            ("w", "write_file", {"path": "loop/item.json"}),
        ],
        ["m -> l", "l:item -> w"],
    )
    result = run_workflow(db, user_id, store(db, user_id, document))
    assert result.ok, result.error
    (row,) = rows_of(db, user_id, result.execution_id)
    assert row.filename == "item.json" and row.mime_type == "application/json"
    assert (files_dir() / "loop" / "item.json").read_text() == "3"
    assert row.size_bytes == 1


def test_a_failed_run_keeps_what_it_wrote(db, user_id):
    document = build(
        [
            ("m", "manual", {}),
            ("w", "write_file", {"path": "partial.csv", "content": "a,b\n1,2\n"}),
            ("s", "stop_error", {"message": "stopped after writing"}),
        ],
        ["m -> w", "w -> s"],
    )
    result = run_workflow(db, user_id, store(db, user_id, document))
    assert result.status == "failed" and "stopped after writing" in result.error
    (row,) = rows_of(db, user_id, result.execution_id)
    assert row.filename == "partial.csv" and row.mime_type == "text/csv" and row.size_bytes == 8


def test_a_run_without_file_nodes_records_none(db, user_id):
    document = build([("m", "manual", {}), ("s", "set", {})], ["m -> s"])
    result = run_workflow(db, user_id, store(db, user_id, document))
    assert result.ok and result.files == []
    assert all_rows(db) == []


def test_executor_collects_recorded_files_without_a_database(tmp_path):
    target = tmp_path / "direct.txt"
    document = write_flow(str(target), "direct")
    executor = Executor(document, default_registry(), execution_id="run-1")
    outcome = asyncio.run(executor.run())
    assert outcome.status == "completed", outcome.error
    (produced,) = executor.files
    assert (produced.path, produced.size, produced.mime_type) == (str(target), 6, "text/plain")
    assert produced.node_id == "w" and produced.as_row()["metadata"]["node_type"] == "write_file"


# -- HTTP download and Code bytes ------------------------------------------------------------


def download_app() -> web.Application:
    app = web.Application()

    async def report(request: web.Request) -> web.Response:
        return web.Response(
            body=PDF,
            content_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="report.pdf"'},
        )

    app.router.add_get("/report", report)
    return app


@pytest.fixture
def download_server():
    with AppServer(download_app()) as server:
        yield server


def test_http_download_is_saved_and_recorded(db, user_id, download_server):
    document = build(
        [
            ("m", "manual", {}),
            (
                "h",
                "http_request",
                {"url": download_server.url("/report"), "save_to_file": True},
            ),
            ("r", "read_file", {"path": "{{ input.path }}", "format": "bytes"}),
        ],
        ["m -> h", "h:file -> r"],
    )
    result = run_workflow(db, user_id, store(db, user_id, document))
    assert result.ok, result.error
    (row,) = rows_of(db, user_id, result.execution_id)
    expected = files_dir() / str(result.execution_id) / "report.pdf"
    assert Path(row.storage_path) == expected and expected.read_bytes() == PDF
    assert (row.filename, row.mime_type, row.size_bytes) == (
        "report.pdf",
        "application/pdf",
        len(PDF),
    )
    assert row.metadata["node_type"] == "http_request"
    # The file port fed the next node the path; the stored output names it too.
    assert result.outputs["r"]["output"]["size"] == len(PDF)
    assert result.outputs["h"]["file"]["path"] == str(expected)
    assert result.outputs["h"]["output"]["body"] is None

    again = run_workflow(db, user_id, store(db, user_id, document, "again"))
    (second,) = rows_of(db, user_id, again.execution_id)
    assert Path(second.storage_path).parent.name == str(again.execution_id)
    assert len(all_rows(db)) == 2


def test_code_returning_bytes_is_saved_and_recorded(db, user_id):
    code = "def main(input):\n    return bytes.fromhex('89504e470d0a1a0a') + bytes(64)\n"
    document = build(
        [("m", "manual", {}), ("c", "code", {"code": code})],
        ["m -> c"],
    )
    result = run_workflow(db, user_id, store(db, user_id, document))
    assert result.ok, result.error
    (row,) = rows_of(db, user_id, result.execution_id)
    expected = files_dir() / str(result.execution_id) / "output.png"
    assert Path(row.storage_path) == expected and expected.read_bytes() == PNG
    assert (row.filename, row.mime_type, row.size_bytes) == ("output.png", "image/png", 72)
    assert row.metadata["node_type"] == "code"
    assert result.result == {
        "path": str(expected),
        "name": "output.png",
        "size": 72,
        "mime_type": "image/png",
    }


# -- deleting runs and pruning files ------------------------------------------------------


def test_deleting_the_execution_keeps_the_row_and_the_file(db, user_id):
    result = run_workflow(db, user_id, store(db, user_id, write_flow("kept/notes.txt")))
    (row,) = rows_of(db, user_id, result.execution_id)
    delete_execution(db, result.execution_id)
    with db.session() as session:
        repo = FileRepository(session, user_id)
        kept = repo.get(row.id)
        assert repo.list_for_execution(result.execution_id) == []
        assert [f.id for f in repo.list_orphans()] == [row.id]
        assert repo.count_orphans() == 1
    assert kept.execution_id is None
    assert (kept.storage_path, kept.size_bytes, kept.mime_type) == (
        row.storage_path,
        row.size_bytes,
        row.mime_type,
    )
    assert Path(kept.storage_path).read_text() == "hello, files"


def test_prune_deletes_orphans_but_not_files_outside_or_still_used(db, user_id, tmp_path):
    outside = tmp_path / "desktop" / "mine.txt"
    first = run_workflow(db, user_id, store(db, user_id, write_flow("shared/same.txt"), "a"))
    second = run_workflow(db, user_id, store(db, user_id, write_flow("shared/same.txt"), "b"))
    own = run_workflow(db, user_id, store(db, user_id, write_flow("own/only.txt"), "c"))
    away = run_workflow(db, user_id, store(db, user_id, write_flow(str(outside)), "d"))
    for run in (first, own, away):
        delete_execution(db, run.execution_id)
    assert count_orphan_files(db, user_id) == 3
    assert count_orphan_files(db, uuid.uuid4()) == 0

    result = prune_orphan_files(db, user_id)
    assert result.rows == 3 and result.files_deleted == 1 and result.errors == []
    assert result.kept_outside == [str(outside)]
    assert result.kept_shared == [str(files_dir() / "shared" / "same.txt")]
    assert not (files_dir() / "own" / "only.txt").exists()
    assert not (files_dir() / "own").exists()  # the emptied folder goes too
    assert outside.read_text() == "hello, files"
    assert (files_dir() / "shared" / "same.txt").exists()
    (left,) = all_rows(db)
    assert left.execution_id == second.execution_id
    assert prune_orphan_files(db, user_id).rows == 0


def test_prune_counts_a_file_already_gone(db, user_id):
    result = run_workflow(db, user_id, store(db, user_id, write_flow("gone.txt")))
    (row,) = rows_of(db, user_id, result.execution_id)
    Path(row.storage_path).unlink()
    delete_execution(db, result.execution_id)
    pruned = prune_orphan_files(db)  # every user's
    assert (pruned.rows, pruned.files_deleted, pruned.missing) == (1, 0, 1)


def test_db_prune_says_what_happens_to_files(db, user_id, capsys):
    result = run_workflow(db, user_id, store(db, user_id, write_flow("old/run.txt")))
    with db.session() as session:
        session.execute(
            update(Execution)
            .where(Execution.id == result.execution_id)
            .values(created_at=func.now() - func.make_interval(0, 0, 0, 40))
        )
    path = files_dir() / "old" / "run.txt"

    assert main(["db", "prune", "--older-than", "30d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pruned 1 finished execution created before ")
    assert out[1] == "kept 1 file of deleted runs (add --files to delete them)"
    assert path.exists()

    assert main(["db", "prune", "--older-than", "30d", "--files"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pruned 0 finished executions")
    assert out[1] == "deleted 1 file records of deleted runs (1 on disk)"
    assert not path.exists() and all_rows(db) == []

    assert main(["db", "prune", "--older-than", "30d"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # nothing left to mention


# -- the repository's own errors ------------------------------------------------------------


def test_repository_scoping_and_bad_input(db, user_id):
    result = run_workflow(db, user_id, store(db, user_id, write_flow("scoped.txt")))
    (row,) = rows_of(db, user_id, result.execution_id)
    stranger = uuid.uuid4()
    with db.session() as session:
        other = FileRepository(session, stranger)
        with pytest.raises(NotFoundError, match="no file with id"):
            other.get(row.id)
        assert other.list_for_execution(result.execution_id) == []
        with pytest.raises(NotFoundError, match="no execution with id"):
            other.record(result.execution_id, "/tmp/x.txt")
        repo = FileRepository(session, user_id)
        with pytest.raises(NotFoundError, match="no file with id 'nope'"):
            repo.get("nope")
        with pytest.raises(NotFoundError, match="no execution with id 'nope'"):
            repo.list_for_execution("nope")
        with pytest.raises(ValueError, match=r"must be absolute: 'relative\.txt'"):
            repo.record(result.execution_id, "relative.txt")
        with pytest.raises(ValueError, match="needs a path"):
            repo.record(result.execution_id, "")
        extra = repo.record(result.execution_id, str(files_dir() / "scoped.txt"), mime_type="x/y")
        assert extra.size_bytes == len(b"hello, files") and extra.filename == "scoped.txt"
        assert repo.record_many(result.execution_id, []) == []
        missing = repo.record(None, "/nowhere/at/all.bin")
        assert missing.size_bytes is None and not missing.exists
