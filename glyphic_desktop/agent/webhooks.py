"""The webhook listener of the tray agent: ``/webhooks/{path}`` starts a workflow run.

A request must carry ``X-Glyphic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`` made with the webhook's secret (:func:`sign` builds it). The digest is
compared in constant time and ``t`` must lie within ``replay_window`` seconds of now, so
a captured request cannot be replayed later; within the window, a signature already
accepted is refused too (:class:`ReplayGuard`). On success a ``pending`` execution is
queued (the agent's queue runner runs it) and the answer is 202 ``{"execution_id"}``.

Every refusal is a JSON body ``{"error": "..."}``: 404 unknown or inactive path (or an
inactive workflow), 405 wrong method, 413 body over ``max_body`` (the declared
Content-Length is checked before reading, and the limit is enforced while reading a
chunked body), 401 missing, malformed, wrong or stale signature, 400 malformed JSON
under a JSON content type (or a body the database cannot store). Database work runs in
worker threads (``asyncio.to_thread``), so the event loop never blocks. No Qt here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DataError

from glyphic_desktop.secrets.crypto import CredentialDecryptError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.webhooks import (
    WebhookRecord,
    find_webhook_for_path,
    record_webhook_trigger,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Glyphic-Signature"
DEFAULT_MAX_BODY = 1_048_576
DEFAULT_REPLAY_WINDOW = 300
DEFAULT_PORT = 8787
_CHUNK = 65_536

_DB_KEY = web.AppKey("glyphic_db", Database)
_SETTINGS_KEY = web.AppKey("glyphic_webhook_settings", dict)


def sign(secret: str, body: bytes, t: int) -> str:
    """The ``X-Glyphic-Signature`` value for ``body`` sent at unix time ``t``."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{int(t)}.".encode("ascii") + body, hashlib.sha256
    ).hexdigest()
    return f"t={int(t)},v1={digest}"


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _parse_signature(value: str) -> tuple[int, list[str]] | None:
    """(t, [v1 digests]) from a header value, or None when it is malformed."""
    stamp: int | None = None
    digests: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if not item.isascii() or not item.isdigit() or stamp is not None:
                return None
            stamp = int(item)
        elif key == "v1":
            digests.append(item.strip().lower())
    if stamp is None or not digests:
        return None
    return stamp, digests


def verify_signature(
    header: str | None, secret: str, body: bytes, now: float, replay_window: int
) -> str | None:
    """None when ``header`` signs ``body`` with ``secret`` within the window, else why not."""
    if not header:
        return f"the request has no {SIGNATURE_HEADER} header"
    parsed = _parse_signature(header)
    if parsed is None:
        return f"the {SIGNATURE_HEADER} header is malformed; expected 't=<unix seconds>,v1=<hex>'"
    stamp, digests = parsed
    if abs(now - stamp) > replay_window:
        return (
            f"the signature timestamp is outside the {replay_window}-second replay window "
            "(stale or replayed request, or a wrong clock)"
        )
    expected = sign(secret, body, stamp).partition(",v1=")[2].encode("ascii")
    matched = False
    for digest in digests:
        # every candidate is compared, in constant time, so timing reveals nothing
        if hmac.compare_digest(expected, digest.encode("utf-8", "replace")):
            matched = True
    if not matched:
        return "the signature does not match the request body and the webhook's secret"
    return None


class ReplayGuard:
    """Remembers each accepted signature until its timestamp leaves the replay window, so
    the same signed request cannot queue a second run inside the window either."""

    def __init__(self) -> None:
        self._seen: dict[tuple[uuid.UUID, str], float] = {}

    def first_time(self, webhook_id: uuid.UUID, header: str, now: float, window: int) -> bool:
        """True the first time (``webhook_id``, ``header``) is seen within the window."""
        while self._seen:  # drop what expired (insertion order is close to expiry order)
            oldest_key, expires = next(iter(self._seen.items()))
            if expires >= now:
                break
            del self._seen[oldest_key]
        key = (webhook_id, header.strip())
        if key in self._seen:
            return False
        stamp = _parse_signature(header)
        self._seen[key] = (stamp[0] if stamp else now) + window
        return True


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _multi(items: Any) -> dict[str, Any]:
    """A multidict as a dict: one value as itself, repeated keys as a list."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _lookup(db: Database, path: str) -> tuple[WebhookRecord, str] | None:
    with db.session() as session:
        return find_webhook_for_path(session, path)


def _enqueue(
    db: Database, webhook: WebhookRecord, trigger_data: dict[str, Any], input_data: Any
) -> uuid.UUID | None:
    """Queue the run and count the trigger in one transaction; None when the webhook or
    its workflow stopped serving since the lookup."""
    with db.session() as session:
        if not record_webhook_trigger(session, webhook.id):
            return None
        return ExecutionRepository(session, webhook.user_id).create_pending(
            webhook.workflow_id,
            trigger_type="webhook",
            trigger_data=trigger_data,
            input_data=input_data,
        )


async def _handle(request: web.Request) -> web.Response:
    db = request.app[_DB_KEY]
    settings = request.app[_SETTINGS_KEY]
    max_body: int = settings["max_body"]
    path = request.match_info["path"]
    try:
        found = await asyncio.to_thread(_lookup, db, path)
    except CredentialDecryptError as exc:
        log.error("webhook %r: %s", path, exc.message)
        return _error(500, "the webhook's secret cannot be read with this server's master key")
    if found is None:
        return _error(404, f"no webhook is registered at /webhooks/{path}")
    webhook, secret = found
    if not webhook.is_active:
        return _error(404, f"the webhook at /webhooks/{path} is disabled")
    if not webhook.workflow_active:
        return _error(404, f"the workflow of the webhook at /webhooks/{path} is disabled")
    if request.method != webhook.method:
        return _error(
            405,
            f"the webhook at /webhooks/{path} accepts {webhook.method}, not {request.method}",
            Allow=webhook.method,
        )
    too_large = f"the request body is larger than the {max_body}-byte limit"
    if request.content_length is not None and request.content_length > max_body:
        return _error(413, too_large)
    body = await _read_body(request, max_body)
    if body is None:
        return _error(413, too_large)
    problem = verify_signature(
        request.headers.get(SIGNATURE_HEADER),
        secret,
        body,
        settings["clock"](),
        settings["replay_window"],
    )
    if problem is not None:
        log.info("webhook %r refused: %s", path, problem)
        return _error(401, problem)
    if not settings["replays"].first_time(
        webhook.id,
        request.headers[SIGNATURE_HEADER],
        settings["clock"](),
        settings["replay_window"],
    ):
        log.info("webhook %r refused: a replay of an accepted request", path)
        return _error(401, "this signed request was already received; sign each request anew")
    try:
        text = body.decode(request.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    if _is_json(request.content_type) and body.strip():
        try:
            input_data: Any = json.loads(text)
        except ValueError as exc:
            return _error(
                400, f"the body is not valid JSON (line {exc.lineno}, column {exc.colno})"
            )
    else:
        input_data = {"body": text}
    trigger_data = {
        "webhook_id": str(webhook.id),
        "path": webhook.path,
        "method": request.method,
        "headers": _multi(
            (key.lower(), value)
            for key, value in request.headers.items()
            if key.lower() != SIGNATURE_HEADER.lower()
        ),
        "query": _multi(request.query.items()),
    }
    try:
        execution_id = await asyncio.to_thread(_enqueue, db, webhook, trigger_data, input_data)
    except DataError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid data"
        return _error(400, f"the request cannot be stored: {reason}")
    if execution_id is None:
        return _error(404, f"the webhook at /webhooks/{path} is disabled")
    log.info("webhook %r queued execution %s", path, execution_id)
    on_queued = settings["on_queued"]
    if on_queued is not None:
        on_queued(execution_id)
    return web.json_response({"execution_id": str(execution_id)}, status=202)


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Routing errors (a path outside /webhooks/) as JSON bodies too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = f"no webhook is registered at {request.path}" if exc.status == 404 else exc.reason
        return _error(exc.status, message)


def create_app(
    db: Database,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    replay_window: int = DEFAULT_REPLAY_WINDOW,
    clock: Callable[[], float] = time.time,
    on_queued: Callable[[uuid.UUID], None] | None = None,
) -> web.Application:
    """The aiohttp application serving ``/webhooks/{path}`` for every user of ``db``.

    ``on_queued`` is called (on the loop) with each execution a request queued: the agent
    wakes its queue runner with it, so a webhook run starts at once, not at the next poll.
    """
    app = web.Application(client_max_size=max_body, middlewares=[_json_errors])
    app[_DB_KEY] = db
    app[_SETTINGS_KEY] = {
        "max_body": max_body,
        "replay_window": replay_window,
        "clock": clock,
        "on_queued": on_queued,
        "replays": ReplayGuard(),
    }
    app.router.add_route("*", "/webhooks/{path:.+}", _handle)
    return app


async def serve_webhooks(
    db: Database, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kw: Any
) -> web.AppRunner:
    """Start the listener on ``host:port`` (``kw`` goes to :func:`create_app`); returns the
    started runner, which the caller cleans up (``await runner.cleanup()``)."""
    runner = web.AppRunner(create_app(db, **kw))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
