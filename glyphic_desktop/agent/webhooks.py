"""The webhook listener of the tray agent: ``/webhooks/{path}`` starts a workflow run.

How a request is authenticated is per webhook (``auth_mode``, 0009): Glyphic's own
signature (below, the default), GitHub's, Stripe's, a shared secret header, HTTP basic,
or none on loopback only; see :mod:`glyphic_desktop.agent.webhook_auth`. When it is
answered is per webhook too (``response_mode``): at once (202 with the execution id), or
``when_finished``: the request waits, at most ``response_timeout`` seconds (then 504 with
the execution id), for a Respond to webhook node or the run's end (the last node's
output as JSON, or 500 when the run failed). The waiter is registered on the in-process
board (:mod:`glyphic_desktop.agent.responses`) before the row is stored; the agent's
queue runner settles it; a run another agent claimed is answered from its row (polled).

With the Glyphic mode a request must carry
``X-Glyphic-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``:
``v1`` is the HMAC-SHA256, keyed with the webhook's secret, of
``"<t>.<METHOD>.<path?query>.<body>"`` (:func:`sign` builds it; ``path?query`` is the
request target as sent, e.g. ``/webhooks/orders/new?src=shop``). A webhook whose
``signature_scheme`` is ``legacy`` also accepts the older ``"<t>.<body>"``. The header is
read strictly: ``t`` first, in canonical decimal form, then one or more ``v1`` values of
64 hex digits (either case), no spaces, no other keys, no repeats; anything else is 401.
``t`` must lie within ``replay_window`` seconds of now, in the past or the future.

Replays: the HMAC that matched (the bytes the listener computed, never the header text)
and ``t`` are stored in ``webhook_replays`` in the same statement that inserts the
execution (:func:`~glyphic_desktop.store.repositories.webhooks.store_request`), so every
agent on the database and every restart refuses a second use, and a request whose insert
failed was not marked used and can be retried. On success a ``pending`` execution is
queued (the agent's queue runner runs it) and the answer is 202 ``{"execution_id"}``.

Every error is a JSON body ``{"error": "..."}``: 404 unknown or inactive path (or an
inactive workflow), 405 wrong method, 413 body over ``max_body`` (the declared
Content-Length is checked before reading, and the limit is enforced while reading a
chunked body), 401 missing, malformed, wrong, stale or already used signature, 400
malformed JSON under a JSON content type (or a body the database cannot store), 503 with
``Retry-After`` while the database cannot be reached (at once, not after a timeout), 500
for anything unexpected. No Qt here.

The hot path is lean: the webhook and its decrypted secret are cached per path (the
store statement re-checks the row, so a rotated secret, a disabled webhook or a changed
scheme is seen on the next request), one statement on an async psycopg connection per
accepted request (or per batch of requests that arrive together), trigger counts added
once a second, no log line per request above DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from aiohttp import web

from glyphic_desktop.agent.responses import BOARD, RunEnded, WebhookReply
from glyphic_desktop.agent.webhook_auth import AuthSettings, Guard, authenticate, secret_headers
from glyphic_desktop.secrets.crypto import CredentialDecryptError, KeyMismatchError
from glyphic_desktop.secrets.keys import Keyset, require_keyset
from glyphic_desktop.store.async_pool import AsyncPool, DatabaseUnreachable, connect_kwargs
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.webhooks import (
    PendingRequest,
    ServingWebhook,
    add_trigger_counts,
    fetch_serving_row,
    prune_replays,
    serving_webhook,
    store_requests,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SIGNATURE_HEADER = "X-Glyphic-Signature"
DEFAULT_MAX_BODY = 1_048_576
DEFAULT_REPLAY_WINDOW = 300
DEFAULT_PORT = 8787
#: Seconds a 503 asks the client to wait before retrying.
RETRY_AFTER = 2
#: At most this many ``v1`` values in one header (key rotation needs two).
MAX_DIGESTS = 8
#: A guard row outlives its window by this much: agents' clocks may differ from the
#: database's (which prunes) by up to this many seconds.
CLOCK_MARGIN = 300
#: The longest one database call may take before the request is answered 503.
DB_TIMEOUT = 10.0
#: Concurrent batch writers, and the most requests one batch stores.
WRITERS = 4
BATCH = 64
COUNT_INTERVAL = 1.0
PRUNE_INTERVAL = 60.0
_CHUNK = 65_536
_DIGEST_HEX = 64
_HEX = frozenset("0123456789abcdefABCDEF")

_INTAKE_KEY = web.AppKey("glyphic_webhook_intake", object)


# -- signatures ------------------------------------------------------------------------


def signed_payload(
    t: int, body: bytes, method: str | None = None, target: str | None = None
) -> bytes:
    """What the HMAC covers: ``<t>.<METHOD>.<path?query>.<body>``, or the legacy
    ``<t>.<body>`` when ``method`` and ``target`` are None."""
    if method is None or target is None:
        return f"{int(t)}.".encode("ascii") + body
    return f"{int(t)}.{method.upper()}.{target}.".encode() + body


def sign(
    secret: str, body: bytes, t: int, method: str | None = None, target: str | None = None
) -> str:
    """The ``X-Glyphic-Signature`` value for a request sent at unix time ``t``.

    ``method`` and ``target`` (the path with its query string, e.g.
    ``/webhooks/orders/new?src=shop``) give the current scheme; without them the legacy
    ``"<t>.<body>"`` signature is made (accepted by ``legacy`` webhooks only).
    """
    digest = hmac.new(
        secret.encode("utf-8"), signed_payload(t, body, method, target), hashlib.sha256
    ).hexdigest()
    return f"t={int(t)},v1={digest}"


@dataclass(frozen=True)
class SignatureHeader:
    """A parsed ``X-Glyphic-Signature``: its ``t`` and the ``v1`` digests as bytes."""

    t: int
    digests: tuple[bytes, ...]


def parse_signature(value: str) -> SignatureHeader | None:
    """The header parsed strictly, or None when it is malformed in any way.

    Accepted: ``t=<digits>`` first (canonical: no sign, no leading zero, at most 12
    digits), then 1 to :data:`MAX_DIGESTS` distinct ``v1=<64 hex digits>`` (either case),
    separated by single commas, nothing else (no spaces, no other keys).
    """
    if not value.isascii():
        return None
    parts = value.split(",")
    if len(parts) < 2 or len(parts) > MAX_DIGESTS + 1:
        return None
    key, sep, stamp = parts[0].partition("=")
    if key != "t" or not sep or not stamp.isdigit() or len(stamp) > 12:
        return None
    if stamp != "0" and stamp.startswith("0"):
        return None
    digests: list[bytes] = []
    for part in parts[1:]:
        key, sep, item = part.partition("=")
        if key != "v1" or not sep or len(item) != _DIGEST_HEX or not _HEX.issuperset(item):
            return None
        digest = bytes.fromhex(item)
        if digest in digests:
            return None
        digests.append(digest)
    return SignatureHeader(int(stamp), tuple(digests))


@dataclass(frozen=True)
class Verified:
    """A signature that matched: ``t`` and the key the replay guard stores."""

    t: int
    key: bytes


def check_signature(
    header: str | None,
    secret: str,
    body: bytes,
    now: float,
    replay_window: int,
    *,
    method: str | None = None,
    target: str | None = None,
    legacy: bool = False,
) -> Verified | str:
    """:class:`Verified` when ``header`` signs the request with ``secret`` within the
    window, else why not (one line).

    The full scheme needs ``method`` and ``target``; ``legacy`` also accepts
    ``"<t>.<body>"`` (and is all that is checked without ``method``/``target``). The
    guard key is the HMAC the listener computed: for a legacy webhook always the legacy
    one, so a captured request cannot pass twice by carrying the other scheme's value.
    """
    if not header:
        return f"the request has no {SIGNATURE_HEADER} header"
    parsed = parse_signature(header)
    if parsed is None:
        return (
            f"the {SIGNATURE_HEADER} header is malformed; expected "
            "'t=<unix seconds>,v1=<64 hex digits>' (no spaces, no other keys)"
        )
    if abs(now - parsed.t) > replay_window:
        return (
            f"the signature timestamp is outside the {replay_window}-second replay window "
            "(stale or replayed request, or a wrong clock)"
        )
    key = secret.encode("utf-8")
    expected: list[bytes] = []
    full = method is not None and target is not None
    if full:
        expected.append(
            hmac.new(key, signed_payload(parsed.t, body, method, target), hashlib.sha256).digest()
        )
    if legacy or not full:
        expected.append(hmac.new(key, signed_payload(parsed.t, body), hashlib.sha256).digest())
    matched = False
    for digest in parsed.digests:
        for candidate in expected:
            # every pair is compared, in constant time, so timing reveals nothing
            if hmac.compare_digest(candidate, digest):
                matched = True
    if not matched:
        what = "method, path, query, body" if full else "body"
        return f"the signature does not match the request ({what}) and the webhook's secret"
    return Verified(parsed.t, expected[-1])


def verify_signature(
    header: str | None,
    secret: str,
    body: bytes,
    now: float,
    replay_window: int,
    *,
    method: str | None = None,
    target: str | None = None,
    legacy: bool = False,
) -> str | None:
    """None when :func:`check_signature` accepts the request, else why not."""
    verdict = check_signature(
        header, secret, body, now, replay_window, method=method, target=target, legacy=legacy
    )
    return verdict if isinstance(verdict, str) else None


# -- the intake: cache, database, counts ------------------------------------------------


class Intake:
    """The listener's state: an async connection pool, the webhooks by path (with their
    decrypted secrets), the trigger counts not yet written, and the settings."""

    def __init__(
        self,
        pool: AsyncPool,
        *,
        max_body: int,
        replay_window: int,
        clock: Callable[[], float],
        on_queued: Callable[[uuid.UUID], None] | None,
        loopback: bool = True,
    ) -> None:
        self.pool = pool
        self.loopback = loopback
        self.max_body = max_body
        self.replay_window = replay_window
        self.clock = clock
        self.on_queued = on_queued
        self._cache: dict[str, ServingWebhook] = {}
        # one lookup per path at a time: a burst on a cold path (the agent just started,
        # the secret was rotated) waits for it instead of each reading and decrypting
        self._looking_up: dict[str, asyncio.Future[ServingWebhook | None]] = {}
        self._keyset: Keyset | None = None
        self._counts: dict[uuid.UUID, tuple[int, datetime]] = {}
        self._outage = False
        self._background: asyncio.Task[None] | None = None
        self._queue: list[tuple[PendingRequest, asyncio.Future[tuple[bool, bool]]]] = []
        self._writers = 0
        self._writer_tasks: set[asyncio.Task[None]] = set()

    async def _db(self, work: Callable[[Any], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                result = await self.pool.run(work)
        except TimeoutError:
            raise DatabaseUnreachable(
                f"the database did not answer within {DB_TIMEOUT:g} s"
            ) from None
        except DatabaseUnreachable as exc:
            if not self._outage:
                self._outage = True
                log.warning("webhooks: the database is unreachable (%s); answering 503", exc)
            raise
        if self._outage:
            self._outage = False
            log.warning("webhooks: the database is reachable again")
        return result

    def _decrypt(self, row: dict[str, Any]) -> ServingWebhook:
        """Decrypt in a worker thread: the key file is read once, again after a mismatch
        (the master key was rotated by another process)."""
        if self._keyset is None:
            self._keyset = require_keyset()
        try:
            return serving_webhook(row, self._keyset)
        except KeyMismatchError:
            self._keyset = require_keyset()
            return serving_webhook(row, self._keyset)

    async def webhook(self, path: str, fresh: bool) -> tuple[ServingWebhook | None, bool]:
        """(the webhook on ``path`` or None, whether it came from the cache). Only
        serving webhooks are cached; ``fresh`` reads the row even when cached."""
        cached = self._cache.get(path)
        if cached is not None and not fresh:
            return cached, True
        if fresh:
            return await self._look_up(path, cached), False
        pending = self._looking_up.get(path)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(path, cached))
            self._looking_up[path] = pending
            pending.add_done_callback(lambda done: self._lookup_done(path, done))
        # shielded: a client that goes away does not cancel the others' lookup
        return await asyncio.shield(pending), False

    def _lookup_done(self, path: str, done: asyncio.Future[Any]) -> None:
        if self._looking_up.get(path) is done:
            del self._looking_up[path]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away

    async def _look_up(self, path: str, cached: ServingWebhook | None) -> ServingWebhook | None:
        """Read the webhook on ``path`` (decrypting its secret unless unchanged); cache it
        while it serves."""
        row = await self._db(lambda conn: fetch_serving_row(conn, path))
        if row is None:
            self._cache.pop(path, None)
            return None
        if cached is not None and cached.id == row["id"] and cached.stored_secret == row["secret"]:
            hook = ServingWebhook(**{**cached.__dict__, **_row_state(row), "secret": cached.secret})
        else:
            hook = await asyncio.to_thread(self._decrypt, row)
        if hook.serving:
            self._cache[path] = hook
        else:
            self._cache.pop(path, None)
        return hook

    async def store(
        self,
        hook: ServingWebhook,
        verified: Verified | Guard,
        trigger_json: str,
        input_json: str,
        execution_id: uuid.UUID | None = None,
    ) -> tuple[bool, uuid.UUID | None]:
        """(still serving as cached, the queued execution or None for a replay).

        Requests arriving together are stored together: each waits in a queue that up to
        :data:`WRITERS` writers drain in batches of up to :data:`BATCH` (one statement and
        one commit per batch); alone, a request is written at once.
        """
        expires = (
            verified.expires
            if isinstance(verified, Guard)
            else verified.t + self.replay_window + CLOCK_MARGIN
        )
        request = PendingRequest(
            webhook=hook,
            signature=verified.key,
            t=verified.t,
            expires=expires,
            execution_id=execution_id or uuid.uuid4(),
            trigger_json=trigger_json,
            input_json=input_json,
        )
        future: asyncio.Future[tuple[bool, bool]] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._writers < WRITERS:
            self._writers += 1
            task = asyncio.create_task(self._write(), name="webhook writer")
            self._writer_tasks.add(task)
            task.add_done_callback(self._writer_tasks.discard)
        serving, stored = await future
        if stored:
            count, _last = self._counts.get(hook.id, (0, None))
            self._counts[hook.id] = (count + 1, datetime.now(UTC))
        return serving, request.execution_id if stored else None

    async def _write(self) -> None:
        try:
            while self._queue:
                batch = [item for item in self._queue[:BATCH] if not item[1].cancelled()]
                del self._queue[:BATCH]
                if batch:
                    try:
                        await self._write_batch(batch)
                    except BaseException:  # cancelled (the listener stops): answer them
                        for _request, future in batch:
                            _settle(future, DatabaseUnreachable("the listener is stopping"))
                        raise
        finally:
            self._writers -= 1

    async def _write_batch(
        self, batch: list[tuple[PendingRequest, asyncio.Future[tuple[bool, bool]]]]
    ) -> None:
        try:
            results = await self._db(
                lambda conn: store_requests(conn, [request for request, _ in batch])
            )
        except DatabaseUnreachable as exc:
            for _request, future in batch:
                _settle(future, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for request, future in batch:  # one bad row fails the batch: store each alone
                try:
                    [result] = await self._db(
                        lambda conn, request=request: store_requests(conn, [request])
                    )
                except Exception as alone:
                    _settle(future, alone)
                else:
                    _settle(future, result)
            return
        for (_request, future), result in zip(batch, results, strict=True):
            _settle(future, result)

    async def flush_counts(self) -> None:
        """Write the trigger counts gathered since the last flush (kept on failure)."""
        counts, self._counts = self._counts, {}
        if not counts:
            return
        try:
            await self._db(lambda conn: add_trigger_counts(conn, counts))
        except BaseException:
            for webhook_id, (count, at) in counts.items():  # put them back
                later, last = self._counts.get(webhook_id, (0, at))
                self._counts[webhook_id] = (count + later, max(at, last))
            raise

    async def _maintain(self) -> None:
        pruned_at = 0.0
        while True:
            await asyncio.sleep(COUNT_INTERVAL)
            try:
                await self.flush_counts()
                if time.monotonic() - pruned_at >= PRUNE_INTERVAL:
                    gone = await self._db(prune_replays)
                    pruned_at = time.monotonic()
                    if gone:
                        log.debug("webhooks: pruned %d expired replay-guard rows", gone)
            except DatabaseUnreachable:
                continue  # logged once by _db; tried again next second
            except Exception:
                log.exception("webhooks: writing trigger counts or pruning failed")

    async def start(self, _app: web.Application) -> None:
        """Start the background counts/prune task (an aiohttp startup hook)."""
        self._background = asyncio.create_task(self._maintain(), name="webhook counts")

    async def close(self, _app: web.Application) -> None:
        """Stop the background task, write the last counts, close the pool."""
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        if self._writer_tasks:  # requests already verified are written (or answered)
            await asyncio.gather(*self._writer_tasks, return_exceptions=True)
        try:
            await self.flush_counts()
        except Exception as exc:
            log.warning("webhooks: the last trigger counts were not written: %s", exc)
        await self.pool.close()


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():  # the request's handler went away meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _row_state(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": row["path"],
        "method": (row["method"] or "POST").upper(),
        "raw_method": row["method"],
        "is_active": row["is_active"] is not False,
        "workflow_active": row["workflow_active"] is not False,
        "signature_scheme": row["signature_scheme"],
        "auth_mode": row["auth_mode"],
        "auth_header": row["auth_header"],
        "basic_user": row["basic_user"],
        "response_mode": row["response_mode"],
        "response_timeout": int(row["response_timeout"]),
    }


# -- the request handler ----------------------------------------------------------------


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


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


def _input_json(request: web.Request, body: bytes) -> str | web.Response:
    """The input_data JSON text of a request, or a 400 for malformed JSON."""
    try:
        text = body.decode(request.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    if _is_json(request.content_type) and body.strip():
        try:
            json.loads(text)
        except ValueError as exc:
            return _error(
                400, f"the body is not valid JSON (line {exc.lineno}, column {exc.colno})"
            )
        return text  # valid: the server parses it again, nothing re-encoded here
    return json.dumps({"body": text})


def _settings(hook: ServingWebhook) -> AuthSettings:
    return AuthSettings(
        mode=hook.auth_mode,
        legacy=hook.signature_scheme == "legacy",
        auth_header=hook.auth_header,
        basic_user=hook.basic_user,
    )


def _trigger_json(request: web.Request, hook: ServingWebhook) -> str:
    """The trigger_data JSON text: webhook, path, method, headers (not the signature nor
    any header that carries the secret)."""
    hidden = secret_headers(_settings(hook))
    return json.dumps(
        {
            "webhook_id": str(hook.id),
            "path": hook.path,
            "method": request.method,
            "headers": _multi(
                (key.lower(), value)
                for key, value in request.headers.items()
                if key.lower() not in hidden
            ),
            "query": _multi(request.query.items()),
        }
    )


async def _handle(request: web.Request) -> web.Response:
    intake: Intake = request.app[_INTAKE_KEY]  # type: ignore[assignment]
    path = request.match_info["path"]
    body: bytes | None = None
    input_json: str | None = None
    for fresh in (False, True):
        # A cached webhook that seems to refuse the request is read again once: its
        # secret may have been rotated, or a setting changed, since it was cached.
        try:
            hook, cached = await intake.webhook(path, fresh)
        except CredentialDecryptError as exc:
            log.error("webhook %r: %s", path, exc.message)
            return _error(500, "the webhook's secret cannot be read with this server's master key")
        if hook is None:
            return _error(404, f"no webhook is registered at /webhooks/{path}")
        if not hook.is_active:
            return _error(404, f"the webhook at /webhooks/{path} is disabled")
        if not hook.workflow_active:
            return _error(404, f"the workflow of the webhook at /webhooks/{path} is disabled")
        if request.method != hook.method:
            if cached:
                continue
            return _error(
                405,
                f"the webhook at /webhooks/{path} accepts {hook.method}, not {request.method}",
                Allow=hook.method,
            )
        if body is None:
            too_large = f"the request body is larger than the {intake.max_body}-byte limit"
            if request.content_length is not None and request.content_length > intake.max_body:
                return _error(413, too_large)
            body = await _read_body(request, intake.max_body)
            if body is None:
                return _error(413, too_large)
        verdict = authenticate(
            _settings(hook),
            request.headers,
            hook.secret,
            body,
            intake.clock(),
            intake.replay_window,
            method=request.method,
            target=request.raw_path,
            loopback=intake.loopback and _loopback_peer(request),
        )
        if isinstance(verdict, str):
            if cached and not verdict.startswith("the signature timestamp"):
                continue  # a setting or the secret may have changed: read the row again
            log.debug("webhook %r refused: %s", path, verdict)
            if hook.auth_mode == "basic":
                return _error(401, verdict, **{"WWW-Authenticate": 'Basic realm="glyphic"'})
            return _error(401, verdict)
        if input_json is None:
            made = _input_json(request, body)
            if isinstance(made, web.Response):
                return made
            input_json = made
        waits = hook.response_mode == "when_finished"
        planned = uuid.uuid4()
        # the waiter exists before the row does: the run cannot end unseen
        answer = BOARD.expect(planned) if waits else None
        try:
            try:
                serving, execution_id = await intake.store(
                    hook, verdict, _trigger_json(request, hook), input_json, planned
                )
            except psycopg.DataError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid data"
                return _error(400, f"the request cannot be stored: {reason}")
            if not serving:
                continue  # the row changed since it was read: read it again and decide anew
            if execution_id is None:
                log.debug("webhook %r refused: a replay of an accepted request", path)
                return _error(401, "this request was already received (a replay); send it anew")
            log.debug("webhook %r queued execution %s", path, execution_id)
            if intake.on_queued is not None:
                intake.on_queued(execution_id)
            if answer is None:
                return web.json_response({"execution_id": str(execution_id)}, status=202)
            return await _await_answer(intake, answer, execution_id, hook.response_timeout)
        finally:
            if waits:
                BOARD.discard(planned)
    # read twice and still changing under us (a rotation in progress): the client retries
    return _error(
        503,
        "the webhook changed while the request was handled; try again",
        **{"Retry-After": str(RETRY_AFTER)},
    )


def _loopback_peer(request: web.Request) -> bool:
    """Whether the request came from a loopback address."""
    import ipaddress

    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


#: Poll the execution row after this long, then every doubling up to the cap (seconds).
POLL_FIRST = 0.5
POLL_CAP = 2.0
_ENDED = ("completed", "failed", "cancelled")


async def _await_answer(
    intake: Intake, answer: asyncio.Future[Any], execution_id: uuid.UUID, timeout: float
) -> web.StreamResponse:
    """The answer to a ``when_finished`` request: what a Respond node sent, else the
    last node's output (200 JSON) or the failure (500 JSON), or 504 after ``timeout``.

    The run normally happens in this process (the board settles ``answer``); when
    another agent claimed it, the execution row is polled instead."""
    deadline = time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return web.json_response(
                {
                    "error": f"the workflow did not answer within {timeout:g} seconds",
                    "execution_id": str(execution_id),
                },
                status=504,
            )
        done, _ = await asyncio.wait({answer}, timeout=min(pause, left))
        if done:
            return _reply(answer.result(), execution_id)
        pause = min(pause * 2, POLL_CAP)
        try:
            ended = await intake._db(lambda conn: _poll_row(conn, execution_id))
        except DatabaseUnreachable:
            continue
        if ended is not None:
            return _reply(ended, execution_id)


async def _poll_row(conn: Any, execution_id: uuid.UUID) -> WebhookReply | RunEnded | None:
    """The outcome of a run another process ran, from its row: a Respond node's reply
    (its ``response`` output), else the run's end; None while it has not ended."""
    cursor = await conn.execute(
        "SELECT status, error_message, output_data FROM executions WHERE id = %s",
        (execution_id,),
    )
    row = await cursor.fetchone()
    if row is None or row[0] not in _ENDED:
        return None
    status, error, outputs = row
    from glyphic_desktop.nodes.builtin.respond import reply_from_outputs

    reply = reply_from_outputs(outputs)
    if reply is not None:
        return reply
    return RunEnded(status, error, None)


def _reply(outcome: WebhookReply | RunEnded, execution_id: uuid.UUID) -> web.StreamResponse:
    if isinstance(outcome, WebhookReply):
        return web.Response(status=outcome.status, headers=outcome.headers, body=outcome.body)
    if outcome.status == "completed":
        body = json.dumps(outcome.result, default=str, ensure_ascii=False)
        return web.Response(status=200, body=body.encode("utf-8"), content_type="application/json")
    return web.json_response(
        {
            "error": f"the workflow {outcome.status}: {outcome.error or 'no answer'}",
            "execution_id": str(execution_id),
        },
        status=500,
    )


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error as a JSON body: routing errors (a path outside /webhooks/), 503 while
    the database is unreachable (with ``Retry-After``), 500 for anything unexpected."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = f"no webhook is registered at {request.path}" if exc.status == 404 else exc.reason
        return _error(exc.status, message)
    except DatabaseUnreachable:
        return _error(
            503,
            "the database is unreachable; the request was not stored, retry it later",
            **{"Retry-After": str(RETRY_AFTER)},
        )
    except Exception:
        log.exception("webhook %s %s failed", request.method, request.path)
        return _error(500, "the request failed inside the agent; it was not stored")


def create_app(
    db: Database,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    replay_window: int = DEFAULT_REPLAY_WINDOW,
    clock: Callable[[], float] = time.time,
    on_queued: Callable[[uuid.UUID], None] | None = None,
    pool_size: int = 16,
    loopback: bool = True,
) -> web.Application:
    """The aiohttp application serving ``/webhooks/{path}`` for every user of ``db``.

    ``on_queued`` is called (on the loop) with each execution a request queued: the agent
    wakes its queue runner with it, so a webhook run starts at once, not at the next poll.
    The app talks to ``db``'s server over its own async connections (``pool_size``).
    """
    intake = Intake(
        AsyncPool(connect_kwargs(db.url), size=pool_size),
        max_body=max_body,
        replay_window=replay_window,
        clock=clock,
        on_queued=on_queued,
        loopback=loopback,
    )
    app = web.Application(client_max_size=max_body, middlewares=[_json_errors])
    app[_INTAKE_KEY] = intake
    app.on_startup.append(intake.start)
    app.on_cleanup.append(intake.close)
    app.router.add_route("*", "/webhooks/{path:.+}", _handle)
    from glyphic_desktop.agent.resume_route import resume_handler  # issue 16 item 5

    app.router.add_route("*", "/resume/{execution}", resume_handler(db, on_queued))
    return app


async def serve_webhooks(
    db: Database, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kw: Any
) -> web.AppRunner:
    """Start the listener on ``host:port`` (``kw`` goes to :func:`create_app`); returns the
    started runner, which the caller cleans up (``await runner.cleanup()``)."""
    import ipaddress

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    kw.setdefault("loopback", loopback)
    runner = web.AppRunner(create_app(db, **kw), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    from glyphic_desktop.agent import resume_route  # resume URLs in run logs name it

    resume_route.LISTENING.append(f"http://{host}:{port}")
    return runner
