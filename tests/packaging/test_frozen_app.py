"""The packaged app: `pyinstaller build.spec` builds it, and the frozen `glyphic` runs with a
clean environment (no venv, no PYTHONPATH on the way), its own embedded PostgreSQL included.

Marked ``packaging``: the normal suite leaves it out (``-m "not packaging"`` in
pyproject); `.ci/run` runs it once after the two suites with ``-m packaging``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def frozen_app() -> Iterator[Path]:
    """Build the one-folder app once for this module; yields the `glyphic` executable.

    Built under a 0755 folder of its own, as an installed app would be: run as root, the
    embedded server runs as an unprivileged user who must reach the bundled binaries
    (pytest's own temp root is 0700).
    """
    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    if not pyinstaller.exists():
        pytest.fail("pyinstaller is missing: pip install -e '.[packaging]'")
    work = Path(tempfile.mkdtemp(prefix="glyphic-pyinstaller-"))
    work.chmod(0o755)
    started = time.monotonic()
    subprocess.run(
        [
            str(pyinstaller),
            "--noconfirm",
            "--log-level=WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(ROOT / "build.spec"),
        ],
        cwd=work,
        check=True,
        timeout=1200,
    )
    folder = work / "dist" / "glyphic"
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(
        json.dumps(
            {
                "bench": "packaging",
                "build_s": round(time.monotonic() - started, 1),
                "folder_mb": round(size / 2**20, 1),
            }
        )
    )
    try:
        yield folder / "glyphic"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _clean_env(home: Path) -> dict[str, str]:
    """What a user's fresh login has: no venv on PATH, no Python variables, a new home."""
    return {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "GLYPHIC_HOME": str(home / "glyphic"),
    }


def _frozen(app: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(app), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_frozen_app_runs_version_db_status_and_an_example(frozen_app: Path) -> None:
    # A home the server's own user can reach when the test runs as root (see frozen_app).
    home = Path(tempfile.mkdtemp(prefix="glyphic-frozen-home-"))
    home.chmod(0o755)
    env = _clean_env(home)
    assert not any("venv" in part for part in env["PATH"].split(os.pathsep))
    try:
        version = _frozen(frozen_app, env, "--version")
        assert version.returncode == 0, version.stderr
        assert version.stdout.startswith("glyphic ")

        upgrade = _frozen(frozen_app, env, "db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        status = _frozen(frozen_app, env, "db", "status")
        assert status.returncode == 0, status.stderr
        migrations = sorted(p.name for p in (ROOT / "schema").glob("*.sql"))
        for name in migrations:  # the migrations travel inside the bundle
            assert f"applied  {name}" in status.stdout, status.stdout
        assert "pending" not in status.stdout

        # The second example has a Code node: its child is the frozen app itself running the
        # bundled child script (there is no Python interpreter to start).
        for name in ("branching-if-switch.json", "loop-over-items.json"):
            run = _frozen(frozen_app, env, "run", str(ROOT / "resources" / "examples" / name))
            assert run.returncode == 0, run.stdout + run.stderr
            assert "completed" in run.stdout
    finally:
        _frozen(frozen_app, env, "db", "stop")
        from glyphic_desktop.store.embedded import EmbeddedPostgres

        # As root the cluster may live in /var/lib/glyphic (the data dir is 0700).
        EmbeddedPostgres(home / "glyphic" / "data" / "postgres").discard()
        shutil.rmtree(home, ignore_errors=True)
