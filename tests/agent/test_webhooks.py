"""The webhook listener, served on 127.0.0.1 (ephemeral port) and called over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from glyphic_desktop.agent import webhooks as listener
from glyphic_desktop.agent.webhooks import SIGNATURE_HEADER, serve_webhooks, sign
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.webhooks import WebhookRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = pytest.mark.usefixtures("no_os_keyring")

T0 = 1_800_000_000
HOOK = "/webhooks/orders/new"


@pytest.fixture
def hook(db, user_id) -> dict[str, Any]:
    """A workflow 'Flow' with a POST webhook at 'orders/new': its id, secret and path."""
    with db.session() as session:
        workflow = WorkflowRepository(session, user_id).create("Flow", WorkflowDocument())
        record, secret = WebhookRepository(session, user_id).add("Flow", "orders/new")
    return {"id": record.id, "workflow_id": workflow.id, "secret": secret, "path": record.path}


@asynccontextmanager
async def serving(db, **kw: Any) -> AsyncIterator[aiohttp.ClientSession]:
    runner = await serve_webhooks(db, "127.0.0.1", 0, **kw)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            client.port = port  # type: ignore[attr-defined]
            yield client
    finally:
        await runner.cleanup()


def fixed(now: float) -> Callable[[], float]:
    return lambda: now


def signed(
    secret: str,
    body: bytes,
    t: int = T0,
    method: str = "POST",
    target: str = "/webhooks/orders/new",
    **headers: str,
) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(secret, body, t, method, target), **headers}


async def call(client, method: str, path: str, body: bytes = b"", **kw) -> tuple[int, Any, Any]:
    async with client.request(method, path, data=body, **kw) as response:
        return response.status, await response.json(), response.headers


def executions(db) -> list[Any]:
    with db.session() as session:
        return session.execute(
            text(
                "SELECT id, workflow_id, user_id, status, trigger_type, trigger_data, input_data "
                "FROM executions ORDER BY created_at"
            )
        ).all()


def webhook_row(db, webhook_id) -> Any:
    with db.session() as session:
        return session.execute(
            text("SELECT last_triggered_at, trigger_count FROM webhooks WHERE id = :id"),
            {"id": webhook_id},
        ).one()


def test_sign_is_hmac_sha256_of_t_method_target_body() -> None:
    message = b"1700000000.POST./webhooks/a?x=1.{}"
    expected = hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()
    assert sign("s3cret", b"{}", 1700000000, "post", "/webhooks/a?x=1") == (
        f"t=1700000000,v1={expected}"
    )
    legacy = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("s3cret", b"{}", 1700000000) == f"t=1700000000,v1={legacy}"


def test_signed_json_post_queues_a_pending_execution(db, user_id, hook) -> None:
    body = json.dumps({"order": 42, "items": ["a", "b"]}).encode()

    async def scenario():
        async with serving(db, clock=fixed(T0 + 10)) as client:
            target = "/webhooks/orders/new?src=shop&tag=a&tag=b"
            headers = signed(
                hook["secret"], body, target=target, **{"Content-Type": "application/json"}
            )
            headers["X-Custom"] = "yes"
            return await call(client, "POST", target, body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 202, answer
    [row] = executions(db)
    assert answer == {"execution_id": str(row.id)}
    assert (row.workflow_id, row.user_id) == (hook["workflow_id"], user_id)
    assert (row.status, row.trigger_type) == ("pending", "webhook")
    assert row.input_data == {"order": 42, "items": ["a", "b"]}
    data = row.trigger_data
    assert {k: data[k] for k in ("webhook_id", "path", "method", "query")} == {
        "webhook_id": str(hook["id"]),
        "path": "orders/new",
        "method": "POST",
        "query": {"src": "shop", "tag": ["a", "b"]},
    }
    assert data["headers"]["x-custom"] == "yes"
    assert data["headers"]["content-type"] == "application/json"
    assert SIGNATURE_HEADER.lower() not in data["headers"]
    assert hook["secret"] not in json.dumps(data)
    stats = webhook_row(db, hook["id"])
    assert stats.trigger_count == 1 and stats.last_triggered_at is not None


def test_a_body_that_is_not_json_arrives_as_text(db, hook) -> None:
    body = "name=Zoë&x=1".encode()

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            headers = signed(hook["secret"], body, **{"Content-Type": "text/plain; charset=utf-8"})
            return await call(client, "POST", "/webhooks/orders/new", body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 202, answer
    [row] = executions(db)
    assert row.input_data == {"body": "name=Zoë&x=1"}


def test_a_get_webhook_with_an_empty_body(db, user_id, hook) -> None:
    with db.session() as session:
        WebhookRepository(session, user_id).add("Flow", "ping", "GET")
        secret = WebhookRepository(session, user_id).rotate_secret("ping")

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            headers = signed(secret, b"", method="GET", target="/webhooks/ping?x=1")
            return await call(client, "GET", "/webhooks/ping?x=1", headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 202, answer
    [row] = executions(db)
    assert row.input_data == {"body": ""}
    assert row.trigger_data["method"] == "GET" and row.trigger_data["query"] == {"x": "1"}


def test_wrong_method_is_405_naming_the_allowed_one(db, hook) -> None:
    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            return await call(
                client, "PUT", "/webhooks/orders/new", b"{}", headers=signed(hook["secret"], b"{}")
            )

    status, answer, headers = asyncio.run(scenario())
    assert status == 405
    assert answer == {"error": "the webhook at /webhooks/orders/new accepts POST, not PUT"}
    assert headers["Allow"] == "POST"
    assert executions(db) == []


def test_unknown_paths_are_404_with_a_json_body(db, hook) -> None:
    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            unknown = await call(
                client, "POST", "/webhooks/orders/old", b"{}", headers=signed(hook["secret"], b"{}")
            )
            outside = await call(client, "POST", "/elsewhere", b"")
            return unknown, outside

    unknown, outside = asyncio.run(scenario())
    assert unknown[:2] == (404, {"error": "no webhook is registered at /webhooks/orders/old"})
    assert outside[:2] == (404, {"error": "no webhook is registered at /elsewhere"})


def test_inactive_webhook_or_workflow_is_404(db, user_id, hook) -> None:
    body = b"{}"

    async def attempt():
        async with serving(db, clock=fixed(T0)) as client:
            return await call(
                client, "POST", "/webhooks/orders/new", body, headers=signed(hook["secret"], body)
            )

    with db.session() as session:
        WebhookRepository(session, user_id).set_active(hook["id"], False)
    assert asyncio.run(attempt())[:2] == (
        404,
        {"error": "the webhook at /webhooks/orders/new is disabled"},
    )
    with db.session() as session:
        WebhookRepository(session, user_id).set_active(hook["id"], True)
        WorkflowRepository(session, user_id).set_active(hook["workflow_id"], False)
    status, answer, _ = asyncio.run(attempt())
    assert (status, answer) == (
        404,
        {"error": "the workflow of the webhook at /webhooks/orders/new is disabled"},
    )
    assert executions(db) == [] and webhook_row(db, hook["id"]).trigger_count == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "the request has no X-Glyphic-Signature header"),
        ("v1=abc", "the X-Glyphic-Signature header is malformed"),
        ("t=soon,v1=abc", "the X-Glyphic-Signature header is malformed"),
        ("garbage", "the X-Glyphic-Signature header is malformed"),
        (f"t={T0},v1=" + "0" * 64, "the signature does not match"),
        (sign("another-secret", b'{"a":1}', T0, "POST", HOOK), "the signature does not match"),
        # body tampered
        (sign("SECRET", b'{"a":2}', T0, "POST", HOOK), "the signature does not match"),
        # the scheme before 0006 on a webhook that wants the full one
        (sign("SECRET", b'{"a":1}', T0), "the signature does not match"),
        # the right signature over another method, path or query
        (sign("SECRET", b'{"a":1}', T0, "PUT", HOOK), "the signature does not match"),
        (sign("SECRET", b'{"a":1}', T0, "POST", "/webhooks/orders"), "the signature does not"),
        (sign("SECRET", b'{"a":1}', T0, "POST", HOOK + "?x=1"), "the signature does not match"),
    ],
)
def test_missing_malformed_or_wrong_signature_is_401(db, hook, header, message) -> None:
    body = b'{"a":1}'
    if header is not None:
        for made in (
            (b'{"a":2}', T0, "POST", HOOK),
            (b'{"a":1}', T0),
            (b'{"a":1}', T0, "PUT", HOOK),
            (b'{"a":1}', T0, "POST", "/webhooks/orders"),
            (b'{"a":1}', T0, "POST", HOOK + "?x=1"),
        ):
            header = header.replace(sign("SECRET", *made), sign(hook["secret"], *made))

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            headers = {SIGNATURE_HEADER: header} if header is not None else {}
            return await call(client, "POST", "/webhooks/orders/new", body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 401
    assert answer["error"].startswith(message)
    assert executions(db) == []


@pytest.mark.parametrize("skew", [301, -301, 100_000])
def test_a_timestamp_outside_the_replay_window_is_401(db, hook, skew: int) -> None:
    body = b"{}"

    async def scenario():
        async with serving(db, clock=fixed(T0 + skew)) as client:
            return await call(
                client, "POST", "/webhooks/orders/new", body, headers=signed(hook["secret"], body)
            )

    status, answer, _ = asyncio.run(scenario())
    assert status == 401
    assert answer["error"].startswith(
        "the signature timestamp is outside the 300-second replay window"
    )
    assert executions(db) == []


def test_the_edge_of_the_window_is_accepted_and_the_window_is_configurable(db, hook) -> None:
    body = b"{}"

    async def scenario(now: float, window: int):
        async with serving(db, clock=fixed(now), replay_window=window) as client:
            return await call(
                client, "POST", "/webhooks/orders/new", body, headers=signed(hook["secret"], body)
            )

    assert asyncio.run(scenario(T0 + 300, 300))[0] == 202
    assert asyncio.run(scenario(T0 + 31, 30))[0] == 401


def test_a_request_replayed_later_with_its_old_t_is_401(db, hook) -> None:
    body = b'{"pay": 10}'
    headers = signed(hook["secret"], body, T0, **{"Content-Type": "application/json"})
    now = [float(T0)]

    async def scenario():
        async with serving(db, clock=lambda: now[0]) as client:
            first = await call(client, "POST", "/webhooks/orders/new", body, headers=headers)
            now[0] = T0 + 3600  # an hour later, the captured request is sent again
            again = await call(client, "POST", "/webhooks/orders/new", body, headers=headers)
            return first, again

    first, again = asyncio.run(scenario())
    assert first[0] == 202
    assert again[0] == 401 and "replay window" in again[1]["error"]
    assert len(executions(db)) == 1


def test_the_same_signed_request_sent_twice_inside_the_window_is_401(db, hook) -> None:
    body = b'{"pay": 10}'
    headers = signed(hook["secret"], body, T0, **{"Content-Type": "application/json"})
    now = [float(T0)]

    async def scenario():
        async with serving(db, clock=lambda: now[0]) as client:
            first = await call(client, "POST", "/webhooks/orders/new", body, headers=headers)
            now[0] = T0 + 20  # seconds later, inside the window: a captured copy resent
            again = await call(client, "POST", "/webhooks/orders/new", body, headers=headers)
            fresh = signed(hook["secret"], body, T0 + 21, **{"Content-Type": "application/json"})
            resigned = await call(client, "POST", "/webhooks/orders/new", body, headers=fresh)
            return first, again, resigned

    first, again, resigned = asyncio.run(scenario())
    assert first[0] == 202 and resigned[0] == 202  # a request signed anew is a new request
    assert again[0] == 401 and "already received" in again[1]["error"]
    assert len(executions(db)) == 2


def test_the_guard_stores_the_hmac_that_matched_and_expired_rows_are_pruned(db, hook) -> None:
    from glyphic_desktop.store.repositories.webhooks import prune_replays

    body = b'{"n": 1}'
    headers = signed(hook["secret"], body)

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            return await call(client, "POST", HOOK, body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 202
    with db.session() as session:
        row = session.execute(
            text(
                "SELECT webhook_id, signature, t AS stamp, execution_id, expires_at "
                "FROM webhook_replays"
            )
        ).one()
        # an expired row of another (deleted) webhook
        session.execute(
            text(
                "INSERT INTO webhook_replays VALUES (gen_random_uuid(), :sig, 1, "
                "gen_random_uuid(), now() - interval '1 second')"
            ),
            {"sig": b"x" * 32},
        )
    digest = bytes.fromhex(headers[SIGNATURE_HEADER].partition("v1=")[2])
    assert (row.webhook_id, bytes(row.signature), row.stamp) == (hook["id"], digest, T0)
    assert str(row.execution_id) == answer["execution_id"]
    assert row.expires_at.timestamp() == T0 + 300 + listener.CLOCK_MARGIN

    async def prune() -> int:
        import psycopg

        from glyphic_desktop.store.async_pool import connect_kwargs

        async with await psycopg.AsyncConnection.connect(
            autocommit=True, **connect_kwargs(db.url)
        ) as conn:
            return await prune_replays(conn, batch=1)

    assert asyncio.run(prune()) == 1  # the expired one; the live one stays
    with db.session() as session:
        assert session.execute(text("SELECT t FROM webhook_replays")).scalars().all() == [T0]


def test_the_real_clock_is_the_default(db, hook) -> None:
    body = b"{}"

    async def scenario():
        async with serving(db) as client:
            return await call(
                client,
                "POST",
                "/webhooks/orders/new",
                body,
                headers=signed(hook["secret"], body, int(time.time())),
            )

    assert asyncio.run(scenario())[0] == 202


def test_the_digest_is_compared_with_hmac_compare_digest(db, hook, monkeypatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(listener.hmac, "compare_digest", spy)
    body = b"{}"
    good = signed(hook["secret"], body)
    bad = {SIGNATURE_HEADER: f"t={T0},v1=" + "ab" * 32}

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            ok = await call(client, "POST", "/webhooks/orders/new", body, headers=good)
            refused = await call(client, "POST", "/webhooks/orders/new", body, headers=bad)
            return ok[0], refused[0]

    assert asyncio.run(scenario()) == (202, 401)
    digest = bytes.fromhex(good[SIGNATURE_HEADER].partition("v1=")[2])
    # the refused one is compared again after the webhook is read afresh (a rotated secret)
    assert calls == [(digest, digest), (digest, b"\xab" * 32), (digest, b"\xab" * 32)]


def test_a_declared_content_length_over_the_limit_is_413_before_reading(db, hook) -> None:
    async def scenario():
        runner = await serve_webhooks(db, "127.0.0.1", 0, max_body=1000, clock=fixed(T0))
        port = runner.addresses[0][1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # the body is never sent: the answer must come from the header alone
            writer.write(
                b"POST /webhooks/orders/new HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                + f"{SIGNATURE_HEADER}: {sign(hook['secret'], b'', T0)}\r\n\r\n".encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            payload = await asyncio.wait_for(reader.readexactly(length), 10)
            writer.close()
            return head, json.loads(payload)
        finally:
            await runner.cleanup()

    head, answer = asyncio.run(scenario())
    assert head.startswith(b"HTTP/1.1 413 ")
    assert answer == {"error": "the request body is larger than the 1000-byte limit"}


def test_a_sized_body_over_the_limit_is_413(db, hook) -> None:
    body = b"x" * 1001

    async def scenario():
        async with serving(db, max_body=1000, clock=fixed(T0)) as client:
            return await call(
                client, "POST", "/webhooks/orders/new", body, headers=signed(hook["secret"], body)
            )

    status, answer, _ = asyncio.run(scenario())
    assert (status, answer) == (
        413,
        {"error": "the request body is larger than the 1000-byte limit"},
    )
    assert executions(db) == []


def test_a_chunked_body_over_the_limit_is_413_while_reading(db, hook) -> None:
    body = b"y" * 1500

    async def chunks():
        for start in range(0, len(body), 300):
            yield body[start : start + 300]
            await asyncio.sleep(0)

    async def scenario():
        async with (
            serving(db, max_body=1000, clock=fixed(T0)) as client,
            client.post(
                "/webhooks/orders/new", data=chunks(), headers=signed(hook["secret"], body)
            ) as response,
        ):
            sent_chunked = response.request_info.headers.get("Transfer-Encoding")
            return response.status, await response.json(), sent_chunked

    status, answer, sent_chunked = asyncio.run(scenario())
    assert sent_chunked == "chunked"
    assert (status, answer) == (
        413,
        {"error": "the request body is larger than the 1000-byte limit"},
    )
    assert executions(db) == []


def test_a_chunked_body_under_the_limit_is_accepted(db, hook) -> None:
    body = b'{"k": "' + b"z" * 700 + b'"}'

    async def chunks():
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    async def scenario():
        async with serving(db, max_body=1000, clock=fixed(T0)) as client:
            headers = signed(hook["secret"], body, **{"Content-Type": "application/json"})
            async with client.post(
                "/webhooks/orders/new", data=chunks(), headers=headers
            ) as response:
                return response.status

    assert asyncio.run(scenario()) == 202
    assert executions(db)[0].input_data == {"k": "z" * 700}


def test_malformed_json_under_a_json_content_type_is_400(db, hook) -> None:
    body = b'{"a": 1,'

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            headers = signed(hook["secret"], body, **{"Content-Type": "application/vnd.api+json"})
            return await call(client, "POST", "/webhooks/orders/new", body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 400
    assert answer["error"].startswith("the body is not valid JSON (line 1, column")
    assert executions(db) == [] and webhook_row(db, hook["id"]).trigger_count == 0


def test_a_body_the_database_cannot_store_is_400(db, hook) -> None:
    body = b'{"text": "nul \\u0000 here"}'

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            headers = signed(hook["secret"], body, **{"Content-Type": "application/json"})
            return await call(client, "POST", "/webhooks/orders/new", body, headers=headers)

    status, answer, _ = asyncio.run(scenario())
    assert status == 400 and answer["error"].startswith("the request cannot be stored: ")
    assert executions(db) == [] and webhook_row(db, hook["id"]).trigger_count == 0


def test_a_secret_that_cannot_be_decrypted_is_500_without_details(db, hook) -> None:
    with db.session() as session:
        session.execute(
            text("UPDATE webhooks SET secret = 'gcm1:AAAA' WHERE id = :id"), {"id": hook["id"]}
        )

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            return await call(
                client, "POST", "/webhooks/orders/new", b"{}", headers=signed(hook["secret"], b"{}")
            )

    status, answer, _ = asyncio.run(scenario())
    assert (status, answer) == (
        500,
        {"error": "the webhook's secret cannot be read with this server's master key"},
    )


def test_each_request_queues_its_own_execution(db, hook) -> None:
    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            results = await asyncio.gather(
                *(
                    call(
                        client,
                        "POST",
                        "/webhooks/orders/new",
                        body,
                        headers=signed(hook["secret"], body),
                    )
                    for body in (f'{{"n": {i}}}'.encode() for i in range(5))
                )
            )
            return [status for status, _, _ in results], [a["execution_id"] for _, a, _ in results]

    statuses, ids = asyncio.run(scenario())
    assert statuses == [202] * 5 and len({uuid.UUID(i) for i in ids}) == 5
    assert webhook_row(db, hook["id"]).trigger_count == 5


def test_a_burst_on_a_cold_path_reads_and_decrypts_the_webhook_once(db, hook, monkeypatch) -> None:
    from glyphic_desktop.agent import webhooks

    reads, decrypts = [], []
    real_fetch, real_decrypt = webhooks.fetch_serving_row, webhooks.Intake._decrypt

    async def counted_fetch(conn, path):
        reads.append(path)
        return await real_fetch(conn, path)

    def counted_decrypt(self, row):
        decrypts.append(row["id"])
        return real_decrypt(self, row)

    monkeypatch.setattr(webhooks, "fetch_serving_row", counted_fetch)
    monkeypatch.setattr(webhooks.Intake, "_decrypt", counted_decrypt)

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            bodies = [f'{{"n": {i}}}'.encode() for i in range(30)]
            results = await asyncio.gather(
                *(
                    call(client, "POST", HOOK, body, headers=signed(hook["secret"], body))
                    for body in bodies
                )
            )
            return [status for status, _, _ in results]

    assert asyncio.run(scenario()) == [202] * 30
    assert len(reads) == 1 and len(decrypts) == 1
    assert len(executions(db)) == 30
