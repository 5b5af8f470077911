"""Reading an HTTP response body for the HTTP request node: capped, into memory or a file.

- :func:`read_capped` reads a streamed body into memory and fails with
  :class:`BodyTooLarge` past the cap (a ``Content-Length`` over it fails before reading;
  a server that never stops sending is cut at the cap).
- :func:`stream_to_file` writes the body to a produced file of the run chunk by chunk
  (the same cap applies to the file), then records it like ``save_produced_file``.
- :func:`is_binary_type` says which content types ``auto`` saves as a file rather than
  decoding as text (images, audio, video, fonts, PDFs, archives, octet streams …).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.nodes.base import NodeContext, NodeError
from glyphic_desktop.nodes.builtin.files import (
    _reserve,
    file_info,
    produced_folder,
    record_produced,
    safe_file_name,
    sniff_type,
)
from glyphic_desktop.paths import ensure_dir

_TEXT_APPLICATION = frozenset(
    {
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/sql",
        "application/graphql",
        "application/csv",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-sh",
        "application/rtf",
    }
)


class BodyTooLarge(Exception):
    """The body is over the node's size cap (``size`` is what was seen, maybe a lower bound)."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(size, cap)
        self.size = size
        self.cap = cap


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower case, without parameters ('' when absent)."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def is_binary_type(kind: str) -> bool:
    """Whether a media type is binary (``auto`` saves it as a file, never as lossy text)."""
    if not kind:
        return False
    major, _, minor = kind.partition("/")
    if major == "text" or kind in _TEXT_APPLICATION:
        return False
    if "json" in minor or minor.endswith("+xml") or minor == "xml" or minor.endswith("+yaml"):
        return False
    return major not in ("multipart", "message")


def declared_length(response: httpx.Response) -> int | None:
    """The Content-Length of an uncompressed body (None when absent, bad, or encoded)."""
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return None
    try:
        length = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def check_declared(response: httpx.Response, cap: int) -> None:
    """Fail before reading when the server announces a body over ``cap``."""
    length = declared_length(response)
    if length is not None and length > cap:
        raise BodyTooLarge(length, cap)


async def read_capped(response: httpx.Response, cap: int, *, cut: bool = False) -> bytes:
    """The decoded body, at most ``cap`` bytes; over it :class:`BodyTooLarge`, or with
    ``cut`` the first ``cap`` bytes (the rest is not read)."""
    if not cut:
        check_declared(response, cap)
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) > cap:
            if cut:
                del buffer[cap:]
                break
            raise BodyTooLarge(len(buffer), cap)
    return bytes(buffer)


def decode_text(response: httpx.Response, body: bytes) -> str:
    """``body`` decoded with the response's charset (UTF-8 when absent or unknown)."""
    encoding = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return body.decode(encoding, errors="replace")


def is_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8 text."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_json(body: bytes, response: httpx.Response) -> Any:
    """``body`` as JSON (ValueError when it is not)."""
    return json.loads(decode_text(response, body))


async def stream_to_file(
    ctx: NodeContext,
    response: httpx.Response,
    name: str,
    cap: int,
    *,
    mime_type: str | None,
    field: str = "file_name",
) -> dict[str, Any]:
    """Write the body to a produced file of this run (at most ``cap`` bytes) and record it.

    The bytes go to a hidden partial file first; a body over the cap, a timeout or a
    cancel removes it. ``name`` gets an extension from the first bytes when it has none.
    """
    name = safe_file_name(name, field)
    check_declared(response, cap)
    folder = produced_folder(ctx)
    try:
        ensure_dir(folder)  # 0700, like every folder Glyphic makes
    except GlyphicError as exc:
        raise NodeError(f"cannot create folder {str(folder)!r}: {exc.message}") from None
    partial = folder / f".partial-{uuid.uuid4().hex}"
    size = 0
    head = b""
    try:
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise BodyTooLarge(size, cap)
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                out.write(chunk)
        sniffed = sniff_type(head)
        if sniffed and not Path(name).suffix:
            name += sniffed[0]
        path = _reserve(folder, name)
        os.replace(partial, path)
    except OSError as exc:
        raise NodeError(f"cannot write in {str(folder)!r}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    info = file_info(path, size)
    if mime_type:
        info["mime_type"] = mime_type
    elif sniffed and info["mime_type"] == "application/octet-stream":
        info["mime_type"] = sniffed[1]
    await record_produced(ctx, path, info["mime_type"], size)
    return info
