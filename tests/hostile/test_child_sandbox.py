"""The OS sandbox of Code and Run command children: no key file, data dir or database socket.

On a kernel with Landlock (this machine: Linux 6.18, ABI 7) every hostile attempt must fail
while the scratch dir and the named paths stay writable. Where Landlock is missing, the
run log must say once per node that it is not sandboxed (GLYPHIC_SANDBOX=off gives the
same path here).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import make_context, run_node

from glyphic_desktop import paths
from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.command import RunCommandNode
from glyphic_desktop.nodes.child_sandbox import unavailable_reason
from glyphic_desktop.secrets.keys import KEY_FILE_NAME
from glyphic_desktop.store.embedded import SOCKET_NAME, EmbeddedPostgres

NO_SANDBOX = unavailable_reason()
needs_sandbox = pytest.mark.skipif(
    NO_SANDBOX is not None, reason=f"no OS sandbox here: {NO_SANDBOX}"
)

PROBE = textwrap.dedent(
    """
    import os, socket

    def attempt(fn):
        try:
            fn()
            return "ok"
        except OSError as exc:
            return type(exc).__name__

    def connect():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(input["socket"])
        s.close()

    def write(path):
        with open(path, "w") as f:
            f.write("x")

    def main(input):
        return {
            "key": attempt(lambda: open(input["key"]).read()),
            "data": attempt(lambda: os.listdir(input["data"])),
            "socket": attempt(connect),
            "outside": attempt(lambda: write(input["outside"])),
            "tmp": attempt(lambda: write("/tmp/glyphic-sandbox-probe-" + str(os.getpid()))),
            "parent_env": attempt(lambda: open(f"/proc/{os.getppid()}/environ", "rb").read()),
            "scratch": attempt(lambda: write(os.path.join(os.environ["TMPDIR"], "a.txt"))),
            "cwd": attempt(lambda: write("b.txt")),
            "named": attempt(lambda: write(os.path.join(input["named"], "c.txt"))),
        }
    """
)


@pytest.fixture
def secrets_on_disk(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A key file, a data dir with a file, a listening database socket, an outside dir."""
    config = paths.config_dir()
    config.mkdir(parents=True, mode=0o700)
    key = config / KEY_FILE_NAME
    key.write_text('{"current": "k1", "keys": {"k1": "secret"}}')
    key.chmod(0o600)
    data = paths.data_dir()
    (data / "files").mkdir(parents=True, mode=0o700)
    (data / "private.txt").write_text("private")
    server = EmbeddedPostgres(data / "postgres")
    socket_dir = server.socket_dir
    socket_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    sock_path = socket_dir / SOCKET_NAME
    listener.bind(str(sock_path))
    listener.listen(5)
    outside = tmp_path / "outside"
    outside.mkdir()
    named = tmp_path / "named"
    try:
        yield {
            "key": str(key),
            "data": str(data),
            "socket": str(sock_path),
            "outside": str(outside / "o.txt"),
            "named": str(named),
        }
    finally:
        listener.close()
        sock_path.unlink(missing_ok=True)
        if server.server_dir != server.root:  # as root: under /var/lib/glyphic
            shutil.rmtree(server.server_dir, ignore_errors=True)


@needs_sandbox
def test_code_child_cannot_reach_key_data_or_socket(secrets_on_disk: dict[str, str]) -> None:
    result = run_node(
        CodeNode,
        {"code": PROBE, "writable_paths": [secrets_on_disk["named"]]},
        inputs={"input": secrets_on_disk},
    )
    got = result.output
    assert got["key"] == "PermissionError"
    assert got["data"] == "PermissionError"
    assert got["socket"] == "PermissionError"
    assert got["outside"] == "PermissionError"
    assert got["tmp"] == "PermissionError"
    assert got["parent_env"] == "PermissionError"
    assert got["scratch"] == "ok" and got["cwd"] == "ok"
    assert got["named"] == "ok"
    assert Path(secrets_on_disk["named"], "c.txt").read_text() == "x"
    assert not Path(secrets_on_disk["outside"]).exists()
    assert not [m for m in result.messages() if "not sandboxed" in m]
    # The parent itself still reaches the socket: the test server is real.
    probe = socket.socket(socket.AF_UNIX)
    probe.connect(secrets_on_disk["socket"])
    probe.close()


@needs_sandbox
def test_run_command_child_cannot_read_key_or_list_data(secrets_on_disk: dict[str, str]) -> None:
    script = (
        f"cat {secrets_on_disk['key']}; echo key=$?; ls {secrets_on_disk['data']}; echo data=$?; "
        f"echo x > {secrets_on_disk['outside']}; echo outside=$?; "
        "echo y > scratch.txt; echo scratch=$?; "
        f"echo z > {secrets_on_disk['named']}/n.txt; echo named=$?"
    )
    out = run_node(
        RunCommandNode,
        {"command": script, "shell": True, "writable_paths": [secrets_on_disk["named"]]},
    ).output
    lines = dict(line.split("=", 1) for line in out["stdout"].split() if "=" in line)
    assert lines["key"] != "0" and lines["data"] != "0" and lines["outside"] != "0"
    assert lines["scratch"] == "0" and lines["named"] == "0"
    assert "secret" not in out["stdout"] and "private.txt" not in out["stdout"]
    assert Path(secrets_on_disk["named"], "n.txt").read_text() == "z\n"


@needs_sandbox
def test_run_command_cwd_is_writable(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    out = run_node(
        RunCommandNode,
        {"command": "echo hi > made.txt && cat made.txt", "shell": True, "cwd": str(work)},
    ).output
    assert out["exit_code"] == 0, out["stderr"]
    assert (work / "made.txt").read_text() == "hi\n"


def test_a_named_path_that_holds_the_data_dir_is_refused(tmp_path: Path) -> None:
    # tmp_path holds this test's GLYPHIC_HOME (and so the data dir and the key file).
    for cls, fields in (
        (CodeNode, {"code": "result = 1", "writable_paths": [str(tmp_path)]}),
        (RunCommandNode, {"command": ["true"], "cwd": str(tmp_path)}),
        (RunCommandNode, {"command": ["true"], "writable_paths": [str(paths.config_dir())]}),
    ):
        with pytest.raises(NodeError) as caught:
            run_node(cls, fields)
        assert caught.value.field in ("writable_paths", "cwd")
        assert "Glyphic's data, key or database" in str(caught.value)


def test_not_sandboxed_is_said_once_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no sandbox can be had (forced here with GLYPHIC_SANDBOX=off) the log says so once."""
    monkeypatch.setenv("GLYPHIC_SANDBOX", "off")
    logs: list[tuple[str, str, object]] = []
    ctx = make_context(CodeNode, {"code": "result = 1"}, logs=logs)
    ctx.execution_id = "run-1"
    for _ in range(3):
        assert asyncio.run(CodeNode().run(ctx)) == {"output": 1}
    said = [m for level, m, _ in logs if "not sandboxed" in m]
    assert said == ["not sandboxed: GLYPHIC_SANDBOX is off"]
    cmd_logs: list[tuple[str, str, object]] = []
    cmd = make_context(RunCommandNode, {"command": ["true"]}, logs=cmd_logs)
    cmd.execution_id = "run-2"  # make_context gives every node the id n1
    asyncio.run(RunCommandNode().run(cmd))
    assert [m for _, m, _ in cmd_logs] == ["not sandboxed: GLYPHIC_SANDBOX is off"]


@pytest.fixture
def kernel_without_landlock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Landlock probe answers as a kernel without Landlock does (ABI 0)."""
    from glyphic_desktop.nodes import child_sandbox, sandbox

    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    child_sandbox.unavailable_reason.cache_clear()
    yield
    child_sandbox.unavailable_reason.cache_clear()


def test_without_landlock_the_log_says_not_sandboxed(kernel_without_landlock: None) -> None:
    result = run_node(CodeNode, {"code": "result = 1"})
    assert result.output == 1
    assert [m for m in result.messages("warn") if m.startswith("not sandboxed: ")] == [
        "not sandboxed: this kernel has no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    ]


def test_require_fails_a_node_that_cannot_be_sandboxed(
    kernel_without_landlock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLYPHIC_SANDBOX", "require")
    cases = ((CodeNode, {"code": "result = 1"}), (RunCommandNode, {"command": ["true"]}))
    for cls, fields in cases:
        with pytest.raises(NodeError, match=r"cannot be sandboxed \(GLYPHIC_SANDBOX=require\)"):
            run_node(cls, fields)


@needs_sandbox
def test_require_runs_where_the_sandbox_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLYPHIC_SANDBOX", "require")
    result = run_node(CodeNode, {"code": "result = 1"})
    assert result.output == 1
    assert not result.messages("warn")


def test_off_means_the_child_reaches_what_it_could_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GLYPHIC_SANDBOX=off is a real switch (the env is still scrubbed)."""
    monkeypatch.setenv("GLYPHIC_SANDBOX", "off")
    target = tmp_path / "free.txt"
    run_node(CodeNode, {"code": f"open({str(target)!r}, 'w').write('x')\nresult = 1"})
    assert target.read_text() == "x"


@needs_sandbox
def test_a_command_the_sandbox_cannot_start_fails_with_one_clear_line(tmp_path: Path) -> None:
    """A script whose interpreter lies outside what the sandbox lets a child read."""
    interp = tmp_path / "interp"
    interp.mkdir()
    shutil.copy("/bin/sh", interp / "sh")
    script = tmp_path / "job" / "run.sh"
    script.parent.mkdir()
    script.write_text(f"#!{interp / 'sh'}\necho ran\n")
    script.chmod(0o700)
    with pytest.raises(NodeError) as caught:
        run_node(RunCommandNode, {"command": [str(script)]})
    message = str(caught.value)
    assert message.startswith(f"cannot run {script}: Permission denied (in the sandbox;")
    assert caught.value.field == "command"


@needs_sandbox
def test_home_out_of_reach_becomes_the_scratch_dir(tmp_path: Path) -> None:
    """git and friends fail on an unreadable ~/.gitconfig: HOME points at the scratch dir."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "repo"
    work.mkdir()
    out = run_node(
        RunCommandNode,
        {
            "command": 'git init -q . && git status --short && echo "home=$HOME"',
            "shell": True,
            "cwd": str(work),
        },
    ).output
    assert out["exit_code"] == 0, out["stderr"]
    assert (work / ".git").is_dir()
    home = out["stdout"].strip().split("home=")[1]
    assert home != os.environ.get("HOME") and "glyphic-child-" in home


@needs_sandbox
def test_readable_paths_are_read_only(tmp_path: Path) -> None:
    data = tmp_path / "input"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    src = textwrap.dedent(
        f"""
        import os
        rows = open({str(data / "rows.csv")!r}).read().splitlines()
        try:
            open({str(data / "new.txt")!r}, "w")
            wrote = "ok"
        except OSError as exc:
            wrote = type(exc).__name__
        result = {{"rows": rows, "wrote": wrote}}
        """
    )
    with pytest.raises(NodeError, match="PermissionError"):
        run_node(CodeNode, {"code": src})
    out = run_node(CodeNode, {"code": src, "readable_paths": [str(data)]}).output
    assert out == {"rows": ["a,b", "1,2"], "wrote": "PermissionError"}
    assert not (data / "new.txt").exists()
