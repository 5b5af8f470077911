"""Nodes that produce files: HTTP request with save_to_file, Code returning bytes.

Each node runs directly with a ``record_file`` service that notes what it is told;
HTTP goes to a real local server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from node_helpers import make_context, run_node
from pydantic import ValidationError
from support.servers import AppServer

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.code_runner import CodeNode
from glyphic_desktop.nodes.builtin.files import (
    UNRECORDED_DIR,
    safe_file_name,
    save_produced_file,
    sniff_type,
)
from glyphic_desktop.nodes.builtin.http import HttpRequestNode
from glyphic_desktop.paths import files_dir

RUN_ID = "3b0c7c3e-0000-4000-8000-000000000001"
GIF = b"GIF89a" + b"\x01" * 20


class FileRecorder:
    """The engine's record_file service as a list of calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, str, int]] = []

    def services(self) -> dict[str, Any]:
        return {"record_file": self.record, "execution_id": RUN_ID}

    def record(self, path: Path, mime_type: str, size: int) -> None:
        self.calls.append((Path(path), mime_type, size))


def files_app() -> web.Application:
    app = web.Application()

    async def named(request: web.Request) -> web.Response:
        return web.Response(
            body=b"a,b\n1,2\n",
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="../../etc/sales.csv"'},
        )

    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=GIF, content_type="application/octet-stream")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such file")

    app.router.add_get("/named", named)
    app.router.add_get("/images/logo", plain)
    app.router.add_get("/", plain)
    app.router.add_get("/missing", missing)
    return app


@pytest.fixture(scope="module")
def files_server():
    with AppServer(files_app()) as server:
        yield server


def run_folder() -> Path:
    return files_dir() / RUN_ID


# -- HTTP request ------------------------------------------------------------------------


def test_http_saves_under_the_run_folder_with_the_servers_name(files_server):
    recorder = FileRecorder()
    result = run_node(
        HttpRequestNode,
        {"url": files_server.url("/named"), "save_to_file": True},
        services=recorder.services(),
    )
    path = run_folder() / "sales.csv"  # the server's folders are dropped
    assert path.read_bytes() == b"a,b\n1,2\n"
    info = result.outputs["file"]
    assert info == {"path": str(path), "name": "sales.csv", "size": 8, "mime_type": "text/csv"}
    assert result.output["file"] == info and result.output["body"] is None
    assert result.output["status"] == 200
    assert recorder.calls == [(path, "text/csv", 8)]
    assert any("saved 8 bytes" in m for m in result.messages("info"))


def test_http_names_from_the_url_the_field_and_the_bytes(files_server):
    recorder = FileRecorder()
    url = files_server.url("/images/logo")
    first = run_node(
        HttpRequestNode, {"url": url, "save_to_file": True}, services=recorder.services()
    )
    # No extension in the URL: the bytes say GIF; octet-stream gives way to that.
    assert first.outputs["file"]["name"] == "logo.gif"
    assert first.outputs["file"]["mime_type"] == "image/gif"
    second = run_node(
        HttpRequestNode, {"url": url, "save_to_file": True}, services=recorder.services()
    )
    assert second.outputs["file"]["name"] == "logo (2).gif"  # never overwrites
    named = run_node(
        HttpRequestNode,
        {"url": url, "save_to_file": True, "file_name": " picture.bin "},
        services=recorder.services(),
    )
    assert named.outputs["file"]["name"] == "picture.bin"
    root = run_node(
        HttpRequestNode,
        {"url": files_server.url("/"), "save_to_file": True},
        services=recorder.services(),
    )
    assert root.outputs["file"]["name"] == "download.gif"
    assert [call[0].name for call in recorder.calls] == [
        "logo.gif",
        "logo (2).gif",
        "picture.bin",
        "download.gif",
    ]
    assert all(call[0].read_bytes() == GIF for call in recorder.calls)


def test_http_without_save_to_file_takes_no_file_port(files_server):
    recorder = FileRecorder()
    result = run_node(
        HttpRequestNode, {"url": files_server.url("/named")}, services=recorder.services()
    )
    assert "file" not in result.outputs and result.output["body"] == "a,b\n1,2\n"
    assert recorder.calls == [] and not run_folder().exists()


def test_http_error_status_saves_nothing(files_server):
    recorder = FileRecorder()
    with pytest.raises(NodeError, match="returned 404"):
        run_node(
            HttpRequestNode,
            {"url": files_server.url("/missing"), "save_to_file": True},
            services=recorder.services(),
        )
    assert recorder.calls == [] and not run_folder().exists()


def test_http_bad_file_name_is_a_field_error():
    with pytest.raises(ValidationError, match=r"'\.\./up\.txt' is not a plain file name"):
        HttpRequestNode.Fields.model_validate(
            {"url": "http://127.0.0.1/", "save_to_file": True, "file_name": "../up.txt"}
        )
    port = HttpRequestNode.output_port("file")
    assert port is not None and port.type == "file"
    assert HttpRequestNode.primary_output() == "output"


def test_saved_without_a_recorder_goes_to_the_unrecorded_folder(files_server):
    result = run_node(HttpRequestNode, {"url": files_server.url("/named"), "save_to_file": True})
    assert result.outputs["file"]["path"] == str(files_dir() / UNRECORDED_DIR / "sales.csv")


# -- Code -------------------------------------------------------------------------------


def test_code_returning_bytes_is_saved_as_a_file():
    recorder = FileRecorder()
    code = "def main(input):\n    return ('id,total\\n' + input).encode()\n"
    result = run_node(
        CodeNode,
        {"code": code, "file_name": "totals.csv"},
        inputs={"input": "1,9.5\n"},
        services=recorder.services(),
    )
    path = run_folder() / "totals.csv"
    assert path.read_bytes() == b"id,total\n1,9.5\n"
    info = {"path": str(path), "name": "totals.csv", "size": 15, "mime_type": "text/csv"}
    assert result.output == info
    assert recorder.calls == [(path, "text/csv", 15)]
    assert any("saved the 15 bytes" in m for m in result.messages("info"))


def test_code_bytes_default_name_and_bytearray():
    recorder = FileRecorder()
    plain = run_node(
        CodeNode, {"code": "result = bytearray(b'raw data')"}, services=recorder.services()
    )
    assert plain.output["name"] == "output.bin"
    assert plain.output["mime_type"] == "application/octet-stream"
    gif = run_node(
        CodeNode, {"code": "result = b'GIF89a' + bytes(20)"}, services=recorder.services()
    )
    assert gif.output["name"] == "output.gif" and gif.output["mime_type"] == "image/gif"
    assert len(recorder.calls) == 2


def test_code_values_that_only_hold_bytes_are_not_files():
    recorder = FileRecorder()
    nested = run_node(CodeNode, {"code": "result = {'data': b'ab'}"}, services=recorder.services())
    assert nested.output == {"data": {"base64": "YWI=", "size": 2}}
    lookalike = run_node(
        CodeNode, {"code": "result = {'base64': 'YWI=', 'size': 2}"}, services=recorder.services()
    )
    assert lookalike.output == {"base64": "YWI=", "size": 2}
    assert recorder.calls == [] and not run_folder().exists()


def test_code_bad_file_name_is_a_field_error():
    with pytest.raises(ValidationError, match=r"'a/b\.bin' is not a plain file name"):
        CodeNode.Fields.model_validate({"file_name": "a/b.bin"})


# -- the shared helpers ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "a/b", "a\\b", "..", ".", "x\x00y"])
def test_safe_file_name_rejects_folders_and_empty(name):
    with pytest.raises(NodeError, match="field 'file_name'") as caught:
        safe_file_name(name, "file_name")
    assert caught.value.field == "file_name"


def test_sniff_type_and_explicit_mime():
    assert sniff_type(b"%PDF-1.7 rest") == (".pdf", "application/pdf")
    assert sniff_type(b"plain text") is None
    recorder = FileRecorder()
    ctx = make_context(CodeNode, {}, services=recorder.services())
    info = asyncio.run(save_produced_file(ctx, b"{}", "data", mime_type="application/json"))
    assert info["name"] == "data" and info["mime_type"] == "application/json"
    assert recorder.calls == [(run_folder() / "data", "application/json", 2)]


def test_code_bytes_report_that_is_not_base64_fails_clearly():
    from glyphic_desktop.nodes.builtin.code_runner import _save_bytes

    ctx = make_context(CodeNode, {}, services=FileRecorder().services())
    with pytest.raises(NodeError, match="bytes that are not valid base64"):
        asyncio.run(_save_bytes(ctx, ctx.fields, {"base64": "not base64!", "size": 3}))
    with pytest.raises(NodeError, match="bytes that are not valid base64"):
        asyncio.run(_save_bytes(ctx, ctx.fields, "no object"))
