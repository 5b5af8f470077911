"""Issue 10 §7: the HTTP request node against hostile servers (real aiohttp servers).

- ``timeout`` is one deadline for the whole attempt: a server dripping a byte a second
  is cut there (the server sees the connection close long before it finished dripping);
- a body over ``max_response_mb`` fails the node, an endless one is cut at the cap, in
  memory and when streamed to a file (no partial file is left behind);
- POST and PATCH are not retried unless ``retry_non_idempotent`` says so;
- in ``auto`` mode a binary content type becomes a recorded file, never lossy text.

No timing assertions: what the servers saw decides.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import run_node
from support.servers import AppServer

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.http import HttpRequestNode
from glyphic_desktop.paths import files_dir

RUN_ID = "3b0c7c3e-0000-4000-8000-00000000aa10"
DRIP_BYTES = 20
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + bytes([0xFF, 0xFE, 0x00, 0x80]) * 64


class Outcomes:
    """What the hostile handlers saw, readable from the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def record(self, key: str, what: str) -> None:
        with self.lock:
            self.done[key] = what

    def count(self, key: str) -> int:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def wait(self, key: str, seconds: float = 30.0) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if key in self.done:
                    return self.done[key]
            time.sleep(0.05)
        raise AssertionError(f"the server never finished {key!r}")


def hostile_app(outcomes: Outcomes) -> web.Application:
    async def drip(request: web.Request) -> web.StreamResponse:
        key = request.query["key"]
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.content_length = DRIP_BYTES
        await response.prepare(request)
        sent = 0
        try:
            for _ in range(DRIP_BYTES):
                await response.write(b"x")
                sent += 1
                await asyncio.sleep(1.0)
        except (ConnectionError, asyncio.CancelledError):
            outcomes.record(key, f"closed after {sent}")
            raise
        outcomes.record(key, f"finished {sent}")
        return response

    async def flood(request: web.Request) -> web.StreamResponse:
        key = request.query["key"]
        kind = request.query.get("type", "application/json")
        response = web.StreamResponse(headers={"Content-Type": kind})
        await response.prepare(request)
        sent = 0
        chunk = b"A" * 65536
        try:
            while sent < 2_000_000_000:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            outcomes.record(key, f"closed after {sent}")
            raise
        outcomes.record(key, f"finished {sent}")
        return response

    async def huge_length(request: web.Request) -> web.Response:
        return web.json_response({})  # Content-Length: 2, over a 1-byte cap

    async def fail(request: web.Request) -> web.Response:
        outcomes.count(request.query["key"])
        return web.Response(status=503, text="busy")

    async def binary(request: web.Request) -> web.Response:
        kind = request.query["type"]
        body = {"png": PNG, "pdf": PDF}[request.query.get("body", "png")]
        headers = {} if kind == "none" else {"Content-Type": kind}
        response = web.Response(body=body, headers=headers)
        if kind == "none":
            response.headers.popall("Content-Type", None)
        return response

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain words", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/drip", drip)
    app.router.add_get("/flood", flood)
    app.router.add_get("/huge-length", huge_length)
    app.router.add_route("*", "/fail", fail)
    app.router.add_get("/binary", binary)
    app.router.add_get("/text", text)
    return app


@pytest.fixture(scope="module")
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture(scope="module")
def hostile(outcomes: Outcomes) -> Iterator[AppServer]:
    with AppServer(hostile_app(outcomes)) as server:
        yield server


class FileRecorder:
    """The engine's record_file service as a list of calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, str, int]] = []

    def services(self) -> dict[str, Any]:
        return {"record_file": self.record, "execution_id": RUN_ID}

    def record(self, path: Path, mime_type: str, size: int) -> None:
        self.calls.append((Path(path), mime_type, size))


# -- one deadline per attempt ----------------------------------------------------------


def test_a_dripping_server_is_cut_at_the_timeout(hostile: AppServer, outcomes: Outcomes) -> None:
    with pytest.raises(NodeError, match=r"timed out after 1\.5 s") as caught:
        run_node(
            HttpRequestNode,
            {"url": hostile.url("/drip?key=drip"), "timeout": 1.5, "retries": 0},
        )
    assert "body did not arrive" in str(caught.value)
    seen = outcomes.wait("drip")
    assert seen.startswith("closed after"), seen
    assert int(seen.split()[-1]) < DRIP_BYTES


# -- the size cap ----------------------------------------------------------------------


def test_an_endless_body_is_cut_at_the_cap(hostile: AppServer, outcomes: Outcomes) -> None:
    with pytest.raises(NodeError, match="over the size limit of 1 MB") as caught:
        run_node(
            HttpRequestNode,
            {"url": hostile.url("/flood?key=flood"), "max_response_mb": 1, "retries": 0},
        )
    assert "max_response_mb" in str(caught.value)
    seen = outcomes.wait("flood")
    assert seen.startswith("closed after"), seen


def test_an_endless_body_streamed_to_a_file_is_cut_too(
    hostile: AppServer, outcomes: Outcomes
) -> None:
    recorder = FileRecorder()
    with pytest.raises(NodeError, match="over the size limit"):
        run_node(
            HttpRequestNode,
            {
                "url": hostile.url("/flood?key=flood-file&type=application/zip"),
                "max_response_mb": 0.5,
                "response_format": "file",
                "retries": 0,
            },
            services=recorder.services(),
        )
    assert outcomes.wait("flood-file").startswith("closed after")
    folder = files_dir() / RUN_ID
    assert recorder.calls == []
    assert not folder.exists() or list(folder.iterdir()) == []  # no partial file left


def test_a_declared_length_over_the_cap_fails_before_reading(hostile: AppServer) -> None:
    with pytest.raises(NodeError, match="over the size limit"):
        run_node(
            HttpRequestNode,
            {"url": hostile.url("/huge-length"), "max_response_mb": 0.000001, "retries": 0},
        )


def test_the_cap_field_is_validated() -> None:
    with pytest.raises(ValueError, match="max_response_mb"):
        HttpRequestNode.Fields.model_validate({"url": "http://x.test", "max_response_mb": 0})


# -- retries only for idempotent methods ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "opt_in", "expected"),
    [
        ("POST", False, 1),
        ("PATCH", False, 1),
        ("POST", True, 3),
        ("PATCH", True, 3),
        ("GET", False, 3),
        ("PUT", False, 3),
        ("DELETE", False, 3),
    ],
)
def test_post_and_patch_are_not_retried_unless_asked(
    hostile: AppServer, outcomes: Outcomes, method: str, opt_in: bool, expected: int
) -> None:
    key = f"fail-{method}-{opt_in}"
    with pytest.raises(NodeError, match="503"):
        run_node(
            HttpRequestNode,
            {
                "url": hostile.url(f"/fail?key={key}"),
                "method": method,
                "body_type": "json" if method in ("POST", "PATCH", "PUT") else "none",
                "body": {"n": 1},
                "retries": 2,
                "retry_backoff": 0,
                "retry_non_idempotent": opt_in,
            },
        )
    assert outcomes.counts[key] == expected


# -- binary content in auto mode ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "mime"),
    [
        ("image/png", "png", "image/png"),
        ("application/pdf", "pdf", "application/pdf"),
        ("application/octet-stream", "png", "image/png"),
        ("none", "pdf", "application/pdf"),
    ],
)
def test_auto_mode_saves_binary_types_as_files(
    hostile: AppServer, kind: str, body: str, mime: str
) -> None:
    recorder = FileRecorder()
    result = run_node(
        HttpRequestNode,
        {"url": hostile.url(f"/binary?type={kind}&body={body}")},
        services=recorder.services(),
    )
    expected = PNG if body == "png" else PDF
    output = result.output
    assert output["body"] is None
    info = result.outputs["file"]
    assert output["file"] == info
    path = Path(info["path"])
    assert path.read_bytes() == expected  # byte for byte, not decoded text
    assert info["size"] == len(expected) and info["mime_type"] == mime
    assert recorder.calls == [(path, mime, len(expected))]
    assert path.parent == files_dir() / RUN_ID


def test_auto_mode_keeps_text_as_text(hostile: AppServer) -> None:
    recorder = FileRecorder()
    result = run_node(HttpRequestNode, {"url": hostile.url("/text")}, services=recorder.services())
    assert result.output["body"] == "plain words"
    assert "file" not in result.outputs and recorder.calls == []
