"""The HTTP request node (httpx): method, URL, query, headers, body, credential auth, retries.

With ``response_format: file`` (or ``save_to_file``), and in ``auto`` mode for a binary
content type, the response body is streamed to a file the run produced (under
``files_dir()/<execution id>/``, recorded in the ``files`` table with the run); the
``file`` output carries that file's info (``path``, ``name``, ``size``, ``mime_type``)
and the response on ``output`` has ``body`` None and ``file`` set instead.

Hostile servers: ``timeout`` is one deadline for a whole attempt (connecting, every
redirect, the body), so a server dripping a byte a second is cut at it; a body over
``max_response_mb`` (default 50) fails the node, saved files included, and an endless
body is cut there. Redirects are followed by hand (``net/redirects.py``): a credential's
headers, ``Authorization`` and cookies never reach another scheme, host or port. The
node's own retries skip POST and PATCH unless ``retry_non_idempotent`` is set (the
engine's per-node ``retries`` setting is the user's explicit choice and applies to any
method). An error body is masked before it is cut to 300 characters.
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

from glyphic_desktop.net.redirects import (
    RedirectError,
    RedirectState,
    is_redirect,
    redirect_request,
)
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import connect_problem, masked_clip
from glyphic_desktop.nodes.builtin.files import check_file_name, save_produced_file
from glyphic_desktop.nodes.builtin.http_body import (
    BodyTooLarge,
    decode_text,
    is_binary_type,
    is_utf8,
    media_type,
    parse_json,
    read_capped,
    stream_to_file,
)
from glyphic_desktop.nodes.registry import register_node

#: Credential types the HTTP request node accepts (``credential_type`` names the first).
HTTP_CREDENTIAL_TYPES: tuple[str, ...] = ("http_header", "http_basic", "bearer")
#: Methods the node's own retries skip unless ``retry_non_idempotent`` is set.
NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
#: How much of an error response is read for the message (the rest is not read).
ERROR_BODY_BYTES = 64 * 1024


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
    response_format: Literal["auto", "json", "text", "bytes", "file"] = Field(
        default="auto",
        description=(
            "auto: JSON when the server says so, text for text types, a file of the run for "
            "binary types (images, PDFs, archives…); bytes: base64; file: always a file."
        ),
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds for a whole attempt: connecting, redirects and reading the body.",
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description=(
            "Extra attempts after a connection error, a timeout or a 5xx (POST and PATCH "
            "only with retry_non_idempotent)."
        ),
    )
    retry_non_idempotent: bool = Field(
        default=False,
        description="Also retry POST and PATCH (the server may then act on a request twice).",
    )
    retry_backoff: float = Field(
        default=0.5, ge=0, le=60, description="First wait between attempts (doubles each time)."
    )
    fail_on_error_status: bool = Field(
        default=True, description="Fail the node when the status is not 2xx (else output it)."
    )
    follow_redirects: bool = Field(
        default=True,
        description=(
            "Follow 3xx redirects (credential headers and cookies are not sent to another "
            "scheme, host or port)."
        ),
    )
    max_redirects: int = Field(default=10, ge=0, le=50, description="Most redirects followed.")
    max_response_mb: float = Field(
        default=50.0,
        gt=0,
        le=100_000,
        description="Largest response body in MB (also for a saved file); over it the node fails.",
    )
    save_to_file: bool = Field(
        default=False,
        description="Save the response body as a file of this run (same as response_format file).",
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


def auth_headers(credential: Mapping[str, Any] | None) -> dict[str, str]:
    """The headers an ``http_header`` / ``http_basic`` / ``bearer`` credential sets.

    The credential type is read from a ``type`` key when the engine adds one, else guessed
    from the fields: ``token`` → bearer; ``username`` + ``password`` → basic;
    ``name``/``header_name`` + ``value``/``header_value`` → one header. These headers
    never follow a redirect to another origin.
    """
    if not credential:
        return {}
    kind = credential.get("type") or credential.get("_type")
    token = credential.get("token")
    if kind == "bearer" or (kind is None and token):
        if not token:
            raise NodeError("the bearer credential has no token")
        return {"Authorization": f"Bearer {token}"}
    user = credential.get("username", credential.get("user"))
    if kind == "http_basic" or (kind is None and user is not None):
        pair = f"{user or ''}:{credential.get('password') or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    name = credential.get("header_name", credential.get("name"))
    value = credential.get("header_value", credential.get("value"))
    if name and value is not None:
        return {str(name): str(value)}
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


def _parse(ctx: NodeContext, response: httpx.Response, body: bytes, fmt: str) -> Any:
    if fmt == "bytes":
        return {"base64": base64.b64encode(body).decode("ascii"), "size": len(body)}
    if not body:
        return None
    kind = media_type(response)
    if fmt == "json" or (fmt == "auto" and "json" in kind):
        try:
            return parse_json(body, response)
        except ValueError:
            if fmt == "json":
                shown = masked_clip(ctx, decode_text(response, body), 120)
                raise NodeError(
                    f"the response of {response.request.url} is not JSON: {shown!r}",
                    field="response_format",
                ) from None
    return decode_text(response, body)


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


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.3g} MB" if size >= 10_000 else f"{size} bytes"


class _Retry(Exception):
    """An attempt that may be tried again (``problem`` says why it failed)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@register_node
class HttpRequestNode(NodeType):
    """Sends an HTTP request and outputs the status, headers and parsed body."""

    key: ClassVar[str] = "http_request"
    title: ClassVar[str] = "HTTP request"
    category: ClassVar[str] = "Network"
    icon: ClassVar[str] = "globe"
    summary_field: ClassVar[str] = "url"
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
        secret_headers = auth_headers(ctx.credential)
        headers = {**fields.headers, **secret_headers}
        if fields.body_type == "raw" and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = fields.content_type
        kwargs = _request_kwargs(fields)
        query = {
            k: v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v)
            for k, v in fields.query.items()
        }
        url = fields.url
        retryable = fields.method not in NON_IDEMPOTENT or fields.retry_non_idempotent
        attempts = fields.retries + 1 if retryable else 1
        timeout = httpx.Timeout(None, connect=fields.timeout)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            for attempt in range(1, attempts + 1):
                last = attempt == attempts
                request = client.build_request(
                    fields.method, url, params=query or None, headers=headers, **kwargs
                )
                try:
                    return await self._attempt(ctx, fields, client, request, secret_headers, last)
                except _Retry as retry:
                    if last:
                        tries = f" after {attempts} attempts" if attempts > 1 else ""
                        raise NodeError(
                            f"{fields.method} {url} failed{tries}: {retry.problem}", field="url"
                        ) from None
                    ctx.log(
                        "warn",
                        f"{fields.method} {url}: {retry.problem}; "
                        f"retrying ({attempt}/{fields.retries})",
                    )
                await asyncio.sleep(fields.retry_backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        ctx: NodeContext,
        fields: HttpRequestFields,
        client: httpx.AsyncClient,
        request: httpx.Request,
        secret_headers: Mapping[str, str],
        last: bool,
    ) -> Mapping[str, Any]:
        """One attempt under one deadline: every hop, then the body."""
        phase = "no response before the timeout"
        try:
            async with asyncio.timeout(fields.timeout):
                response = await self._send(fields, client, request, secret_headers)
                try:
                    if response.status_code >= 500 and not last:
                        raise _Retry(f"the server returned {response.status_code}")
                    phase = "the body did not arrive before the timeout"
                    return await self._finish(ctx, fields, response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise _Retry(f"{phase} (timed out after {fields.timeout:g} s)") from None
        except httpx.TransportError as exc:
            raise _Retry(_describe_transport_error(exc)) from None
        except RedirectError as exc:
            raise NodeError(f"{fields.method} {fields.url}: {exc}", field="url") from None
        except BodyTooLarge as exc:
            cap = _megabytes(exc.cap)
            raise NodeError(
                f"{fields.method} {fields.url}: the response is over the size limit of "
                f"{cap} (max_response_mb {fields.max_response_mb:g}; read "
                f"{_megabytes(exc.size)})",
                field="max_response_mb",
            ) from None

    async def _send(
        self,
        fields: HttpRequestFields,
        client: httpx.AsyncClient,
        request: httpx.Request,
        secret_headers: Mapping[str, str],
    ) -> httpx.Response:
        """Send ``request`` and follow redirects by hand (streamed; the caller closes it)."""
        state = RedirectState.begin(request, secret_headers)
        while True:
            response = await client.send(request, stream=True)
            client.cookies.clear()  # cookies go back only to their own origin (see below)
            if not (fields.follow_redirects and is_redirect(response)):
                return response
            try:
                state.cookies.take(response)
                if state.hops >= fields.max_redirects:
                    raise RedirectError(f"stopped after {fields.max_redirects} redirects")
                request = redirect_request(request, response, state)
            finally:
                await response.aclose()

    async def _finish(
        self, ctx: NodeContext, fields: HttpRequestFields, response: httpx.Response
    ) -> Mapping[str, Any]:
        """Read the body as the node's fields ask and build the outputs."""
        cap = max(1, int(fields.max_response_mb * 1_000_000))
        url = fields.url
        status = response.status_code
        if fields.fail_on_error_status and not response.is_success:
            body = await read_capped(response, min(cap, ERROR_BODY_BYTES), cut=True)
            detail = masked_clip(ctx, decode_text(response, body), 300) if body else ""
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
        fmt = "file" if fields.save_to_file else fields.response_format
        kind = media_type(response)
        if fmt == "auto" and is_binary_type(kind):
            fmt = "file"
        if fmt != "file":
            body = await read_capped(response, cap)
            if fmt == "auto" and not kind and body and not is_utf8(body):
                return await self._saved(ctx, fields, response, result, body=body)
            result["body"] = _parse(ctx, response, body, fmt)
            return {"output": result}
        return await self._saved(ctx, fields, response, result, cap=cap)

    async def _saved(
        self,
        ctx: NodeContext,
        fields: HttpRequestFields,
        response: httpx.Response,
        result: dict[str, Any],
        *,
        body: bytes | None = None,
        cap: int = 0,
    ) -> Mapping[str, Any]:
        """The body as a produced file of the run (streamed unless already read)."""
        name = fields.file_name.strip() or download_name(response)
        content_type = media_type(response)
        if content_type == "application/octet-stream":
            content_type = ""  # a guess from the name (or the bytes) says more
        if body is not None:
            info = await save_produced_file(
                ctx, body, name, mime_type=content_type or None, field="file_name"
            )
        else:
            info = await stream_to_file(
                ctx, response, name, cap, mime_type=content_type or None, field="file_name"
            )
        ctx.log("info", f"saved {info['size']} bytes from {response.url} to {info['path']}")
        result["body"] = None
        result["file"] = info
        return {"output": result, "file": info}
