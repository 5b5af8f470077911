"""The HTTP request node (httpx): method, URL, query, headers, body, credential auth, retries.

With ``save_to_file`` the response body is saved as a file the run produced (under
``files_dir()/<execution id>/``, recorded in the ``files`` table with the run); the
``file`` output carries that file's info (``path``, ``name``, ``size``, ``mime_type``)
and the response on ``output`` has ``body`` None and ``file`` set instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Mapping
from email.message import Message
from pathlib import PurePosixPath
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import clip, connect_problem
from glyphic_desktop.nodes.builtin.files import check_file_name, save_produced_file
from glyphic_desktop.nodes.registry import register_node

#: Credential types the HTTP request node accepts (``credential_type`` names the first).
HTTP_CREDENTIAL_TYPES: tuple[str, ...] = ("http_header", "http_basic", "bearer")


class HttpRequestFields(BaseModel):
    """Fields of the HTTP request node."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        default="GET", description="HTTP method."
    )
    url: str = Field(min_length=1, description="The URL, e.g. https://api.example.com/items.")
    query: dict[str, Any] = Field(
        default_factory=dict, description="Query parameters.", json_schema_extra={"widget": "json"}
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers.", json_schema_extra={"widget": "json"}
    )
    body_type: Literal["none", "json", "form", "raw"] = Field(
        default="none", description="How the body is sent."
    )
    body: Any = Field(
        default=None,
        description="The body: any JSON value (json), an object (form) or text (raw).",
        json_schema_extra={"widget": "json"},
    )
    content_type: str = Field(default="text/plain", description="Content-Type of a raw body.")
    response_format: Literal["auto", "json", "text", "bytes"] = Field(
        default="auto",
        description="auto: JSON when the server says so, else text; bytes: base64.",
    )
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds per attempt.")
    retries: int = Field(
        default=2, ge=0, le=10, description="Extra attempts after a connection error or a 5xx."
    )
    retry_backoff: float = Field(
        default=0.5, ge=0, le=60, description="First wait between attempts (doubles each time)."
    )
    fail_on_error_status: bool = Field(
        default=True, description="Fail the node when the status is not 2xx (else output it)."
    )
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")
    save_to_file: bool = Field(
        default=False,
        description="Save the response body as a file of this run (output on the file port).",
    )
    file_name: str = Field(
        default="",
        description=(
            "Name of the saved file; empty: the server's filename, else the URL's last part."
        ),
    )

    @field_validator("file_name")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        return check_file_name(value)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        try:
            parsed = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"{value!r} is not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"{value!r} is not an http(s) URL with a host")
        return value


def auth_headers(credential: Mapping[str, Any] | None) -> tuple[dict[str, str], httpx.Auth | None]:
    """Headers and httpx auth for an ``http_header`` / ``http_basic`` / ``bearer`` credential.

    The credential type is read from a ``type`` key when the engine adds one, else guessed
    from the fields: ``token`` → bearer; ``username`` + ``password`` → basic;
    ``name``/``header_name`` + ``value``/``header_value`` → one header.
    """
    if not credential:
        return {}, None
    kind = credential.get("type") or credential.get("_type")
    token = credential.get("token")
    if kind == "bearer" or (kind is None and token):
        if not token:
            raise NodeError("the bearer credential has no token")
        return {"Authorization": f"Bearer {token}"}, None
    user = credential.get("username", credential.get("user"))
    if kind == "http_basic" or (kind is None and user is not None):
        return {}, httpx.BasicAuth(str(user or ""), str(credential.get("password") or ""))
    name = credential.get("header_name", credential.get("name"))
    value = credential.get("header_value", credential.get("value"))
    if name and value is not None:
        return {str(name): str(value)}, None
    raise NodeError("the credential is not an http_header, http_basic or bearer credential")


def _request_kwargs(fields: HttpRequestFields) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if fields.body_type == "json":
        kwargs["json"] = fields.body
    elif fields.body_type == "form":
        if not isinstance(fields.body, Mapping):
            raise NodeError("a form body must be an object of names and values", field="body")
        kwargs["data"] = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.body.items()
        }
    elif fields.body_type == "raw":
        body = fields.body
        kwargs["content"] = body if isinstance(body, bytes) else ("" if body is None else str(body))
    return kwargs


def _parse(response: httpx.Response, fmt: str) -> Any:
    if fmt == "bytes":
        return {
            "base64": base64.b64encode(response.content).decode("ascii"),
            "size": len(response.content),
        }
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    if fmt == "json" or (fmt == "auto" and ("json" in content_type)):
        try:
            return response.json()
        except ValueError:
            if fmt == "json":
                raise NodeError(
                    f"the response of {response.request.url} is not JSON: "
                    f"{clip(response.text, 120)!r}",
                    field="response_format",
                ) from None
    return response.text


_DEFAULT_DOWNLOAD = "download"


def download_name(response: httpx.Response) -> str:
    """The file name for a saved response: Content-Disposition's, else the URL's last part."""
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
        if name:
            name = PurePosixPath(name.replace("\\", "/")).name
            if name not in ("", ".", ".."):
                return name
    last = PurePosixPath(response.url.path).name
    last = re.sub(r"[\x00-\x1f\\]", "_", last)
    return last if last not in ("", ".", "..") else _DEFAULT_DOWNLOAD


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "no response before the timeout"
    if isinstance(exc, httpx.ConnectError):
        problem = connect_problem(exc)
        return problem if problem == "connection refused" else f"cannot connect ({problem})"
    return f"{exc.__class__.__name__}: {exc}"


@register_node
class HttpRequestNode(NodeType):
    """Sends an HTTP request and outputs the status, headers and parsed body."""

    key: ClassVar[str] = "http_request"
    title: ClassVar[str] = "HTTP request"
    category: ClassVar[str] = "Network"
    icon: ClassVar[str] = "globe"
    description: ClassVar[str] = (
        "Calls a URL (any method, query, headers, JSON / form / raw body, credential auth), "
        "retries on connection errors and 5xx, and outputs status, headers and body."
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("output", "object", "Response"),
        PortSpec("file", "file", "Saved file"),
    )
    Fields: ClassVar[type[BaseModel]] = HttpRequestFields
    credential_type: ClassVar[str | None] = None
    #: Any of these credential types may be bound (the credential is optional).
    credential_types: ClassVar[tuple[str, ...]] = HTTP_CREDENTIAL_TYPES

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Send with retries; fail with a message naming the URL and what went wrong."""
        fields: HttpRequestFields = ctx.fields  # type: ignore[assignment]
        extra_headers, auth = auth_headers(ctx.credential)
        headers = {**fields.headers, **extra_headers}
        if fields.body_type == "raw" and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = fields.content_type
        kwargs = _request_kwargs(fields)
        query = {
            k: v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v)
            for k, v in fields.query.items()
        }
        url = fields.url
        attempts = fields.retries + 1
        async with httpx.AsyncClient(
            timeout=fields.timeout, follow_redirects=fields.follow_redirects, auth=auth
        ) as client:
            for attempt in range(1, attempts + 1):
                last = attempt == attempts
                try:
                    response = await client.request(
                        fields.method, url, params=query or None, headers=headers, **kwargs
                    )
                except httpx.TransportError as exc:
                    problem = _describe_transport_error(exc)
                    if last:
                        tries = f" after {attempts} attempts" if attempts > 1 else ""
                        raise NodeError(
                            f"{fields.method} {url} failed{tries}: {problem}", field="url"
                        ) from None
                    ctx.log(
                        "warn",
                        f"{fields.method} {url}: {problem}; retrying ({attempt}/{fields.retries})",
                    )
                else:
                    if response.status_code < 500 or last:
                        break
                    ctx.log(
                        "warn",
                        f"{fields.method} {url} returned {response.status_code}; "
                        f"retrying ({attempt}/{fields.retries})",
                    )
                await asyncio.sleep(fields.retry_backoff * 2 ** (attempt - 1))
        status = response.status_code
        if fields.fail_on_error_status and not response.is_success:
            detail = clip(response.text, 300) if response.content else ""
            raise NodeError(
                f"{fields.method} {url} returned {status} {response.reason_phrase}"
                + (f": {detail}" if detail else ""),
                field="url",
            )
        result: dict[str, Any] = {
            "status": status,
            "ok": response.is_success,
            "headers": dict(response.headers),
            "url": str(response.url),
        }
        if not fields.save_to_file:
            result["body"] = _parse(response, fields.response_format)
            return {"output": result}
        name = fields.file_name.strip() or download_name(response)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/octet-stream":
            content_type = ""  # a guess from the name (or the bytes) says more
        info = await save_produced_file(
            ctx, response.content, name, mime_type=content_type or None, field="file_name"
        )
        ctx.log("info", f"saved {info['size']} bytes from {url} to {info['path']}")
        result["body"] = None
        result["file"] = info
        return {"output": result, "file": info}
