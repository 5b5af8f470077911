"""Files on disk: the embedded server never opens up a directory the product did not make,
and what Glyphic writes (produced files, crash logs, drafts, their folders) is 0600 / 0700.

Before: as root, starting the embedded server added o+x to every parent of the data dir
(a 0700 directory became ``drwx-----x``; with the default home that is ``/root``);
produced files were 0644 in 0755 folders.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import run_node

from glyphic_desktop import paths
from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.files import WriteFileNode
from glyphic_desktop.store.embedded import EmbeddedPostgres


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def private_parent() -> Iterator[Path]:
    """A 0700 directory the product did not make (like /root), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="glyphic-modes-"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_0700_parent_stays_0700_when_the_embedded_server_starts(private_parent: Path) -> None:
    home = private_parent / "home"
    home.mkdir(mode=0o700)
    server = EmbeddedPostgres(home / "data" / "postgres")
    try:
        url = server.ensure_running()
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == "glyphic"
        engine.dispose()
        assert _mode(private_parent) == 0o700
        assert _mode(home) == 0o700
        if os.geteuid() == 0:  # the server runs as glyphic_pg: it lives where that user reaches
            assert not str(server.pgdata).startswith(str(private_parent))
        assert _mode(server.pgdata) == 0o700
        assert _mode(server.socket_dir) == 0o700
        # A second instance (another process) finds the same cluster.
        assert EmbeddedPostgres(home / "data" / "postgres").url() == url
    finally:
        server.discard()
    assert _mode(private_parent) == 0o700


def test_produced_files_and_their_folders_are_private() -> None:
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 10).decode()
    out = run_node(CodeNode, {"code": f"import base64\nresult = base64.b64decode({data!r})"}).output
    produced = Path(out["path"])
    assert _mode(produced) == 0o600
    for folder in (produced.parent, paths.files_dir(), paths.data_dir()):
        assert _mode(folder) == 0o700, folder


def test_write_file_makes_private_files_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "made" / "deeper" / "out.txt"
    run_node(WriteFileNode, {"path": str(target), "content": "hello"})
    assert target.read_text() == "hello"
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700 and _mode(target.parent.parent) == 0o700


def test_crash_log_is_private() -> None:
    from glyphic_desktop.cli.main import _write_crash_log

    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        where = Path(_write_crash_log(exc))
    assert "boom" in where.read_text()
    assert _mode(where) == 0o600
    assert _mode(where.parent) == 0o700


def test_drafts_are_private() -> None:
    pytest.importorskip("PySide6")
    from glyphic_desktop.ui.drafts import Draft, DraftStore

    written = DraftStore().write(Draft(key="k1", document={"nodes": [], "edges": []}))
    assert _mode(written) == 0o600
    assert _mode(written.parent) == 0o700
    assert _mode(paths.data_dir()) == 0o700


def test_log_files_stay_private_across_rotation() -> None:
    import logging

    from glyphic_desktop.paths import ensure_dir, log_dir, private_log_handler

    folder = ensure_dir(log_dir())
    handler = private_log_handler(folder / "agent.log", max_bytes=300, backups=2)
    logger = logging.getLogger("glyphic_desktop.test_file_modes")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for number in range(200):
            logger.info("line %d", number)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(folder.glob("agent.log*"))
    assert [f.name for f in files] == ["agent.log", "agent.log.1", "agent.log.2"]
    assert {_mode(f) for f in files} == {0o600}
    assert _mode(folder) == 0o700


def test_the_agent_log_is_private(db) -> None:
    from glyphic_desktop.cli.main import main

    assert main(["agent", "--headless", "--once", "--name", "modes"]) == 0
    log = paths.log_dir() / "agent.log"
    assert log.exists()
    assert _mode(log) == 0o600
    assert _mode(log.parent) == 0o700
