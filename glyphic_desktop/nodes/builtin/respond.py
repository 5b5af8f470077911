"""Respond to webhook: answers the HTTP request that started the run.

Used with a webhook whose response mode is ``when_finished`` (``glyphic webhook add ...
--respond when-finished``): the request waits until this node runs (or the run ends) and
gets this node's status, headers and body. The body is JSON (``body``, or the incoming
item when ``body`` is empty), text, a file produced by an earlier node (its file info on
the input, or a path), or nothing. The node passes its input through on ``output``, so
the workflow can go on after answering; ``response`` holds what was sent (the body as
base64, up to :data:`RECORD_LIMIT` bytes), which is how a listener in another agent
finds the answer in the execution row. Only the first Respond node of a run answers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.registry import register_node

#: Largest body sent (bytes); a bigger file fails the node.
MAX_BODY = 50 * 1024 * 1024
#: Largest body kept in the ``response`` output (for a listener in another process).
RECORD_LIMIT = 256 * 1024
MARKER = "glyphic_webhook_response"
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_HOP = frozenset({"content-length", "transfer-encoding", "connection"})


class RespondFields(BaseModel):
    """Fields of the Respond to webhook node."""

    model_config = ConfigDict(extra="forbid")

    respond_with: Literal["json", "text", "file", "no_data"] = Field(
        default="json",
        description="json: body (or the incoming item) as JSON; text: body as text; "
        "file: a file from an earlier node; no_data: an empty body.",
    )
    status: int = Field(default=200, ge=100, le=599, description="HTTP status code.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Response headers (name: value)."
    )
    body: Any = Field(
        default=None,
        description="The body (JSON value or text); empty: the incoming item (json) or "
        "the file on the input (file).",
        json_schema_extra={"widget": "json"},
    )

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _HOP:
                raise ValueError(f"header {name!r} is set by the server")
            if "\r" in str(item) or "\n" in str(item):
                raise ValueError(f"header {name!r} holds a line break")
        return value


def _file_bytes(ctx: NodeContext, item: Any) -> tuple[bytes, str, str]:
    """(bytes, file name, mime type) of a file info (``path``) or a path."""
    from glyphic_desktop.nodes.builtin.files import file_info

    if isinstance(item, Mapping) and isinstance(item.get("path"), str):
        path = Path(item["path"])
    elif isinstance(item, str) and item.strip():
        from glyphic_desktop.nodes.builtin._common import resolve_path

        path = resolve_path(ctx, item, "body")
    else:
        raise NodeError(
            "respond_with is 'file' but neither body nor the input is a file (a file info "
            "with a path, or a path)",
            field="body",
        )
    try:
        size = path.stat().st_size
        if size > MAX_BODY:
            raise NodeError(f"file {str(path)!r} is over {MAX_BODY} bytes", field="body")
        data = path.read_bytes()
    except FileNotFoundError:
        raise NodeError(f"file not found: {str(path)!r}", field="body") from None
    except IsADirectoryError:
        raise NodeError(f"{str(path)!r} is a folder, not a file", field="body") from None
    except OSError as exc:
        raise NodeError(f"cannot read {str(path)!r}: {exc.strerror or exc}", field="body") from None
    info = file_info(path, len(data))
    mime = item.get("mime_type") if isinstance(item, Mapping) else None
    return data, info["name"], str(mime or info["mime_type"])


def build_reply(ctx: NodeContext, fields: RespondFields) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body bytes) from the fields and the input; blocking (reads files)."""
    headers = {name: str(value) for name, value in fields.headers.items()}
    lower = {name.lower() for name in headers}
    body: bytes = b""
    content_type: str | None = None
    if fields.respond_with == "json":
        value = fields.body if fields.body not in (None, "") else ctx.input
        try:
            body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise NodeError(f"the body is not JSON: {exc}", field="body") from None
        content_type = "application/json; charset=utf-8"
    elif fields.respond_with == "text":
        value = fields.body if fields.body is not None else ctx.input
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        body = text.encode("utf-8")
        content_type = "text/plain; charset=utf-8"
    elif fields.respond_with == "file":
        item = fields.body if fields.body not in (None, "") else ctx.input
        body, name, content_type = _file_bytes(ctx, item)
        if "content-disposition" not in lower:
            safe = name.replace('"', "").replace("\\", "")
            headers["Content-Disposition"] = f'inline; filename="{safe}"'
    if content_type is not None and "content-type" not in lower:
        headers["Content-Type"] = content_type
    return fields.status, headers, body


def reply_from_outputs(outputs: Any) -> Any:
    """The :class:`~glyphic_desktop.agent.responses.WebhookReply` a Respond node recorded
    in an execution's ``output_data`` (``{node: {port: value}}``), or None."""
    from glyphic_desktop.agent.responses import WebhookReply

    if not isinstance(outputs, Mapping):
        return None
    for ports in outputs.values():
        if not isinstance(ports, Mapping):
            continue
        record = ports.get("response")
        if not isinstance(record, Mapping) or record.get(MARKER) != 1:
            continue
        encoded = record.get("body_base64")
        if not isinstance(encoded, str):
            continue  # the body was too large to record
        try:
            body = base64.b64decode(encoded)
            status = int(record.get("status", 200))
        except (ValueError, TypeError):
            continue
        headers = record.get("headers") if isinstance(record.get("headers"), Mapping) else {}
        return WebhookReply(status, {str(k): str(v) for k, v in headers.items()}, body)
    return None


@register_node
class RespondToWebhook(NodeType):
    """Answers the webhook request that started the run (status, headers, body)."""

    key: ClassVar[str] = "respond_webhook"
    title: ClassVar[str] = "Respond to webhook"
    category: ClassVar[str] = "Network"
    icon: ClassVar[str] = "webhook"
    description: ClassVar[str] = (
        "Answers the webhook request that waits for this run: status, headers, JSON, "
        "text or a file."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("output", "any", "Item (passed through)"),
        PortSpec("response", "object", "What was sent"),
    )
    Fields: ClassVar[type[BaseModel]] = RespondFields
    summary_field: ClassVar[str] = "respond_with"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Build the reply, hand it to the waiting request, pass the input on."""
        from glyphic_desktop.agent.responses import BOARD, WebhookReply

        fields: RespondFields = ctx.fields  # type: ignore[assignment]
        status, headers, body = await asyncio.to_thread(build_reply, ctx, fields)
        answered = BOARD.respond(ctx.execution_id, WebhookReply(status, headers, body))
        if answered:
            ctx.log("info", f"answered the webhook request: {status}, {len(body)} bytes")
        elif ctx.trigger != "webhook":
            ctx.log("info", "no webhook request waits for this run; nothing was sent")
        record: dict[str, Any] = {MARKER: 1, "status": status, "headers": headers}
        if len(body) <= RECORD_LIMIT:
            record["body_base64"] = base64.b64encode(body).decode("ascii")
        else:
            record["body_size"] = len(body)
        return {"output": ctx.input, "response": record}
