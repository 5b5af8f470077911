"""File nodes: Read file (text / JSON / bytes) and Write file (atomic, recorded).

Also the helpers other nodes use to produce files (an HTTP download, a Code node's
bytes): :func:`save_produced_file` writes the bytes under
``files_dir()/<execution id>/<name>`` (a new name when it is taken) and tells the
engine (``ctx.services.record_file``), so the run's ``files`` rows list it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import mimetypes
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import maybe_await, resolve_path, service
from glyphic_desktop.nodes.registry import register_node

#: Largest file Read file loads (bytes); bigger files fail with a clear message.
MAX_READ_BYTES = 256 * 1024 * 1024


class ReadFileFields(BaseModel):
    """Fields of the Read file node."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        description="The file to read; a relative path is under the Glyphic files folder.",
    )
    format: Literal["text", "json", "bytes"] = Field(
        default="text",
        description="text: a string; json: the parsed value; bytes: base64 with metadata.",
    )
    encoding: str = Field(default="utf-8", description="Text encoding (text and json).")


def file_info(path: Path, size: int) -> dict[str, Any]:
    """The metadata object describing ``path`` (the value of a ``file`` port)."""
    mime, _ = mimetypes.guess_type(path.name)
    return {
        "path": str(path),
        "name": path.name,
        "size": size,
        "mime_type": mime or "application/octet-stream",
    }


#: Magic numbers of common file kinds: (prefix, extension, mime type).
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png", "image/png"),
    (b"\xff\xd8\xff", ".jpg", "image/jpeg"),
    (b"GIF87a", ".gif", "image/gif"),
    (b"GIF89a", ".gif", "image/gif"),
    (b"%PDF-", ".pdf", "application/pdf"),
    (b"PK\x03\x04", ".zip", "application/zip"),
    (b"\x1f\x8b", ".gz", "application/gzip"),
)
UNRECORDED_DIR = "unrecorded"


def sniff_type(data: bytes) -> tuple[str, str] | None:
    """(extension, mime type) of ``data`` from its first bytes, when it is a known kind."""
    for prefix, extension, mime in _MAGIC:
        if data.startswith(prefix):
            return extension, mime
    return None


def check_file_name(value: str) -> str:
    """A pydantic validator body: ``value`` stripped; ValueError when it holds a folder."""
    value = (value or "").strip()
    if value and ("/" in value or "\\" in value or "\x00" in value or value in (".", "..")):
        raise ValueError(f"{value!r} is not a plain file name (no folders, no '..')")
    return value


def safe_file_name(name: str, field: str) -> str:
    """``name`` as a plain file name (no folders); a NodeError naming ``field`` otherwise."""
    name = (name or "").strip()
    if not name:
        raise NodeError(f"field {field!r} is empty: give a file name", field=field)
    if "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        raise NodeError(
            f"field {field!r}: {name!r} is not a plain file name (no folders, no '..')",
            field=field,
        )
    return name


def _reserve(folder: Path, name: str) -> Path:
    """Create an empty ``folder/name`` (``name (2).ext`` … when taken) and return it."""
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    for number in range(1, 10_000):
        candidate = name if number == 1 else f"{stem} ({number}){dot}{suffix}"
        path = folder / candidate
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise NodeError(f"cannot write in {str(folder)!r}: {exc.strerror or exc}") from None
        os.close(fd)
        return path
    raise NodeError(f"too many files called {name!r} in {str(folder)!r}")


def produced_folder(ctx: NodeContext) -> Path:
    """``files_dir()/<execution id>`` (``unrecorded`` when the run has no id)."""
    from glyphic_desktop.paths import files_dir

    run_id = ctx.execution_id or service(ctx, "execution_id") or UNRECORDED_DIR
    return files_dir() / str(run_id)


def _save(folder: Path, name: str, data: bytes) -> Path:
    from glyphic_desktop.errors import GlyphicError
    from glyphic_desktop.paths import ensure_dir

    try:
        ensure_dir(folder)  # 0700, like every folder Glyphic makes
    except (OSError, GlyphicError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise NodeError(f"cannot create folder {str(folder)!r}: {reason}") from None
    path = _reserve(folder, name)
    try:
        write_atomic(path, data, create_folders=False, overwrite=True)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path


async def record_produced(ctx: NodeContext, path: Path, mime_type: str, size: int) -> bool:
    """Tell the engine's file recorder about ``path``; False when the run records no files."""
    recorder = service(ctx, "record_file")
    if not callable(recorder):
        return False
    await maybe_await(recorder(path, mime_type, size))
    return True


async def save_produced_file(
    ctx: NodeContext,
    data: bytes,
    name: str,
    *,
    mime_type: str | None = None,
    field: str = "file_name",
) -> dict[str, Any]:
    """Write ``data`` as a produced file of this run and record it; returns its file info.

    ``name`` must be a plain file name (checked, the message names ``field``); a name
    without an extension gets one from the data's first bytes when they are a known kind.
    The file goes under ``files_dir()/<execution id>/``; a taken name becomes
    ``name (2).ext``. ``mime_type`` defaults to a guess from the name.
    """
    name = safe_file_name(name, field)
    sniffed = sniff_type(data)
    if sniffed and not Path(name).suffix:
        name += sniffed[0]
    path = await asyncio.to_thread(_save, produced_folder(ctx), name, data)
    info = file_info(path, len(data))
    if mime_type:
        info["mime_type"] = mime_type
    elif sniffed and info["mime_type"] == "application/octet-stream":
        info["mime_type"] = sniffed[1]
    await record_produced(ctx, path, info["mime_type"], len(data))
    return info


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_READ_BYTES:
            raise NodeError(
                f"file {str(path)!r} is {size} bytes, over the {MAX_READ_BYTES} byte limit",
                field="path",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise NodeError(f"file not found: {str(path)!r}", field="path") from None
    except IsADirectoryError:
        raise NodeError(f"{str(path)!r} is a folder, not a file", field="path") from None
    except PermissionError:
        raise NodeError(f"no permission to read {str(path)!r}", field="path") from None
    except OSError as exc:
        raise NodeError(f"cannot read {str(path)!r}: {exc.strerror or exc}", field="path") from None


@register_node
class ReadFileNode(NodeType):
    """Reads a file as text, parsed JSON, or bytes (base64 plus metadata)."""

    key: ClassVar[str] = "read_file"
    title: ClassVar[str] = "Read file"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "file-input"
    description: ClassVar[str] = "Reads a file as text, JSON or bytes."
    Fields: ClassVar[type[BaseModel]] = ReadFileFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Read the file in a thread and decode it as asked."""
        fields: ReadFileFields = ctx.fields  # type: ignore[assignment]
        path = resolve_path(ctx, fields.path)
        raw = await asyncio.to_thread(_read, path)
        if fields.format == "bytes":
            info = file_info(path, len(raw))
            info["base64"] = base64.b64encode(raw).decode("ascii")
            return {"output": info}
        try:
            text = raw.decode(fields.encoding)
        except LookupError:
            raise NodeError(f"unknown encoding {fields.encoding!r}", field="encoding") from None
        except UnicodeDecodeError as exc:
            raise NodeError(
                f"{str(path)!r} is not {fields.encoding} text (byte {exc.start}); "
                "read it as bytes instead",
                field="format",
            ) from None
        if fields.format == "text":
            return {"output": text}
        try:
            return {"output": json.loads(text)}
        except json.JSONDecodeError as exc:
            raise NodeError(
                f"{str(path)!r} is not valid JSON: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}",
                field="format",
            ) from None


class WriteFileFields(BaseModel):
    """Fields of the Write file node."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        description="Where to write; a relative path is under the Glyphic files folder.",
    )
    content: Any = Field(
        default=None,
        description="What to write; empty means the node's input. Objects and lists are JSON.",
        json_schema_extra={"widget": "multiline"},
    )
    format: Literal["auto", "text", "json", "base64"] = Field(
        default="auto",
        description=(
            "auto: text as is, anything else as JSON; json: always JSON; "
            "base64: decode the content to bytes first."
        ),
    )
    encoding: str = Field(default="utf-8", description="Text encoding.")
    create_folders: bool = Field(default=True, description="Create missing parent folders.")
    overwrite: bool = Field(default=True, description="Replace an existing file.")


def _encode(fields: WriteFileFields, content: Any) -> bytes:
    fmt = fields.format
    if fmt == "base64":
        if isinstance(content, Mapping) and "base64" in content:
            content = content["base64"]
        try:
            return base64.b64decode(str(content), validate=True)
        except ValueError:
            raise NodeError("content is not valid base64", field="content") from None
    if fmt == "json" or (fmt == "auto" and not isinstance(content, str)):
        try:
            text = json.dumps(content, ensure_ascii=False, indent=2)
        except (TypeError, ValueError) as exc:
            raise NodeError(f"content cannot be written as JSON: {exc}", field="content") from None
    else:
        text = str(content)
    try:
        return text.encode(fields.encoding)
    except LookupError:
        raise NodeError(f"unknown encoding {fields.encoding!r}", field="encoding") from None
    except UnicodeEncodeError as exc:
        raise NodeError(
            f"content cannot be encoded as {fields.encoding}: {exc.reason}", field="encoding"
        ) from None


def write_atomic(path: Path, data: bytes, *, create_folders: bool, overwrite: bool) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it, then ``os.replace`` it in."""
    parent = path.parent
    if not parent.exists():
        if not create_folders:
            raise NodeError(f"folder {str(parent)!r} does not exist", field="path")
        from glyphic_desktop.errors import GlyphicError
        from glyphic_desktop.paths import ensure_dir

        try:
            ensure_dir(parent)  # 0700
        except (OSError, GlyphicError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise NodeError(
                f"cannot create folder {str(parent)!r}: {reason}", field="path"
            ) from None
    if path.is_dir():
        raise NodeError(f"{str(path)!r} is a folder, not a file", field="path")
    if not overwrite and path.exists():
        raise NodeError(f"{str(path)!r} exists and overwrite is off", field="overwrite")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise NodeError(
            f"cannot write in {str(parent)!r}: {exc.strerror or exc}", field="path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp_name, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp_name, 0o600)  # a new file Glyphic makes is private to the user
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise NodeError(
                f"cannot write {str(path)!r}: {exc.strerror or exc}", field="path"
            ) from None
        raise


@register_node
class WriteFileNode(NodeType):
    """Writes a file atomically (temp file in the same folder, then rename) and records it."""

    key: ClassVar[str] = "write_file"
    title: ClassVar[str] = "Write file"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "file-output"
    description: ClassVar[str] = (
        "Writes text, JSON or bytes to a file atomically and records it with the run."
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "file", "File"),)
    Fields: ClassVar[type[BaseModel]] = WriteFileFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Encode, write atomically, tell the engine's file recorder, output the file's info."""
        fields: WriteFileFields = ctx.fields  # type: ignore[assignment]
        path = resolve_path(ctx, fields.path)
        content = fields.content if fields.content is not None else ctx.input
        if content is None:
            raise NodeError(
                "nothing to write: content is empty and no input arrived", field="content"
            )
        data = _encode(fields, content)
        await asyncio.to_thread(
            write_atomic,
            path,
            data,
            create_folders=fields.create_folders,
            overwrite=fields.overwrite,
        )
        info = file_info(path, len(data))
        await record_produced(ctx, path, info["mime_type"], len(data))
        ctx.log("info", f"wrote {len(data)} bytes to {path}")
        return {"output": info}
