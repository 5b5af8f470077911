"""Per-webhook authentication (issue 16 item 4): each mode on the listener served on
127.0.0.1, over real HTTP and the real database: a good request is stored, a bad one gets
401 JSON, a replay is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from glyphic_desktop.agent.webhook_auth import check_github, parse_stripe
from glyphic_desktop.agent.webhooks import serve_webhooks, sign
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import UsageError
from glyphic_desktop.store.repositories.webhooks import WebhookRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = pytest.mark.usefixtures("no_os_keyring")

T0 = 1_800_000_000
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_EXPECTED = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def add_hook(db, user_id, path: str, **kw: Any) -> tuple[Any, str]:
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        if not any(w.name == "Flow" for w in repo.list()):
            repo.create("Flow", WorkflowDocument())
        return WebhookRepository(session, user_id).add("Flow", path, **kw)


def count_runs(db) -> int:
    with db.session() as session:
        return session.execute(text("SELECT count(*) FROM executions")).scalar_one()


@asynccontextmanager
async def serving(db, now: float = T0) -> AsyncIterator[aiohttp.ClientSession]:
    runner = await serve_webhooks(db, "127.0.0.1", 0, clock=lambda: now)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await runner.cleanup()


async def post(client, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
    async with client.post(path, data=body, headers=headers) as response:
        return response.status, await response.json(), response.headers


def github_headers(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": delivery}


def stripe_headers(secret: str, body: bytes, t: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={digest},v0=00"}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_github_signature_matches_the_documented_example() -> None:
    body = b"Hello, World!"
    headers = {
        "X-Hub-Signature-256": f"sha256={GITHUB_EXPECTED}",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    assert github_headers(GITHUB_SECRET, body, "x")["X-Hub-Signature-256"].endswith(GITHUB_EXPECTED)
    guard = check_github(headers, GITHUB_SECRET, body, T0)
    assert not isinstance(guard, str) and len(guard.key) == 32
    wrong = check_github(headers, GITHUB_SECRET, b"Hello, World?", T0)
    assert isinstance(wrong, str) and "does not match" in wrong
    upper = {**headers, "X-Hub-Signature-256": f"SHA256={GITHUB_EXPECTED}"}
    assert "malformed" in check_github(upper, GITHUB_SECRET, body, T0)


def test_stripe_header_is_parsed_strictly_where_it_matters() -> None:
    assert parse_stripe("t=5,v1=" + "a" * 64 + ",v0=zz") == (5, [bytes.fromhex("a" * 64)])
    for bad in (
        "t=5",
        "v1=" + "a" * 64,
        "t=5,t=6,v1=" + "a" * 64,
        "t=x,v1=" + "a" * 64,
        "t=5,v1=abc",
        "t=5,v1",
    ):
        assert parse_stripe(bad) is None, bad


def test_each_mode_takes_a_good_request_and_refuses_a_bad_one(db, user_id) -> None:
    github, github_secret = add_hook(db, user_id, "gh", auth_mode="github")
    stripe, _ = add_hook(db, user_id, "st", auth_mode="stripe", secret="whsec_test_0123456789")
    header, header_secret = add_hook(db, user_id, "hd", auth_mode="header", auth_header="X-Token")
    basic_hook, basic_secret = add_hook(db, user_id, "ba", auth_mode="basic", basic_user="ci")
    none_hook, _ = add_hook(db, user_id, "no", auth_mode="none")
    glyphic, glyphic_secret = add_hook(db, user_id, "gl")
    body = b'{"event": "push"}'
    json_type = {"Content-Type": "application/json"}

    async def scenario() -> dict[str, list[int]]:
        got: dict[str, list[int]] = {}
        async with serving(db) as client:
            cases = {
                "github": (
                    "/webhooks/gh",
                    github_headers(github_secret, body, "d-1"),
                    github_headers("wrong-secret", body, "d-2"),
                ),
                "stripe": (
                    "/webhooks/st",
                    stripe_headers("whsec_test_0123456789", body, T0 - 100),
                    stripe_headers("whsec_test_0123456789", body, T0 - 400),  # stale
                ),
                "header": (
                    "/webhooks/hd",
                    {"X-Token": header_secret},
                    {"X-Token": header_secret[:-1] + "x"},
                ),
                "basic": ("/webhooks/ba", basic("ci", basic_secret), basic("root", basic_secret)),
                "none": ("/webhooks/no", {}, None),
                "glyphic": (
                    "/webhooks/gl",
                    {"X-Glyphic-Signature": sign(glyphic_secret, body, T0, "POST", "/webhooks/gl")},
                    github_headers(glyphic_secret, body, "d-3"),  # another sender's header
                ),
            }
            for mode, (path, good, bad) in cases.items():
                status, answer, _ = await post(client, path, body, {**good, **json_type})
                assert status == 202, (mode, answer)
                uuid.UUID(answer["execution_id"])
                statuses = [status]
                if bad is not None:
                    status, answer, headers = await post(client, path, body, {**bad, **json_type})
                    assert status == 401 and isinstance(answer["error"], str), (mode, answer)
                    assert headers["Content-Type"].startswith("application/json")
                    if mode == "basic":
                        assert headers["WWW-Authenticate"].startswith("Basic")
                    statuses.append(status)
                    # nothing at all is refused too
                    status, answer, _ = await post(client, path, body, json_type)
                    assert status == 401, (mode, answer)
                got[mode] = statuses
        return got

    asyncio.run(scenario())
    assert count_runs(db) == 6
    with db.session() as session:
        headers = (
            session.execute(text("SELECT trigger_data->'headers' FROM executions")).scalars().all()
        )
    stored = repr(headers)
    for secret in (github_secret, header_secret, basic_secret, glyphic_secret):
        assert secret not in stored  # the headers carrying secrets are not kept
    assert "x-token" not in stored and "authorization" not in stored
    del stripe, header, basic_hook, none_hook, github, glyphic


def test_replays_are_refused_per_delivery_id_and_per_signed_timestamp(db, user_id) -> None:
    _gh, github_secret = add_hook(db, user_id, "gh", auth_mode="github")
    add_hook(db, user_id, "st", auth_mode="stripe", secret="whsec_test_0123456789")
    body = b'{"n": 1}'

    async def scenario() -> list[int]:
        async with serving(db) as client:
            first = github_headers(github_secret, body, "delivery-1")
            again = github_headers(github_secret, body, "delivery-1")
            other = github_headers(github_secret, body, "delivery-2")
            signed = stripe_headers("whsec_test_0123456789", body, T0)
            respelled = {"Stripe-Signature": signed["Stripe-Signature"].replace(",", ", ")}
            out = []
            for path, headers in (
                ("/webhooks/gh", first),
                ("/webhooks/gh", again),
                ("/webhooks/gh", other),
                ("/webhooks/st", signed),
                ("/webhooks/st", signed),
                ("/webhooks/st", respelled),
            ):
                status, answer, _ = await post(client, path, body, headers)
                if status == 401:
                    assert "already received" in answer["error"]
                out.append(status)
            return out

    assert asyncio.run(scenario()) == [202, 401, 202, 202, 401, 401]
    assert count_runs(db) == 3

    # a second listener (another agent, a restart) sees the same guard
    async def later() -> int:
        async with serving(db) as client:
            status, _, _ = await post(
                client, "/webhooks/gh", body, github_headers(github_secret, body, "delivery-1")
            )
            return status

    assert asyncio.run(later()) == 401
    assert count_runs(db) == 3


def test_auth_none_is_served_only_to_loopback(db, user_id) -> None:
    add_hook(db, user_id, "open", auth_mode="none")

    async def scenario() -> tuple[int, int]:
        # the same app on a listener that says it is not bound to a loopback address
        runner = await serve_webhooks(db, "127.0.0.1", 0, clock=lambda: T0, loopback=False)
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
                refused, answer, _ = await post(client, "/webhooks/open", b"{}", {})
                assert "127.0.0.1" in answer["error"]
        finally:
            await runner.cleanup()
        async with serving(db) as client:
            accepted, _, _ = await post(client, "/webhooks/open", b"{}", {})
        return refused, accepted

    assert asyncio.run(scenario()) == (401, 202)


def test_settings_are_checked_and_changed(db, user_id) -> None:
    with pytest.raises(UsageError, match="header name"):
        add_hook(db, user_id, "a", auth_mode="header")
    with pytest.raises(UsageError, match="user name"):
        add_hook(db, user_id, "b", auth_mode="basic", basic_user="a:b")
    with pytest.raises(UsageError, match="only for auth mode 'header'"):
        add_hook(db, user_id, "c", auth_mode="github", auth_header="X-A")
    with pytest.raises(UsageError, match="auth mode 'bogus'"):
        add_hook(db, user_id, "d", auth_mode="bogus")
    with pytest.raises(UsageError, match="timeout"):
        add_hook(db, user_id, "e", response_mode="when_finished", response_timeout=0)
    record, _ = add_hook(db, user_id, "f")
    assert (record.auth_mode, record.response_mode, record.response_timeout) == (
        "glyphic",
        "immediately",
        30,
    )
    with db.session() as session:
        changed = WebhookRepository(session, user_id).configure(
            "f", auth_mode="header", auth_header="X-Key", response_mode="when-finished"
        )
    assert (changed.auth_mode, changed.auth_header, changed.response_mode) == (
        "header",
        "X-Key",
        "when_finished",
    )
    with db.session() as session:
        changed = WebhookRepository(session, user_id).configure("f", response_timeout=5)
    assert (changed.response_mode, changed.response_timeout) == ("when_finished", 5)


def test_a_cached_webhook_switched_to_another_mode_is_seen_at_once(db, user_id) -> None:
    _record, secret = add_hook(db, user_id, "sw")
    body = b"{}"

    async def scenario() -> tuple[int, int, int]:
        async with serving(db) as client:
            first, _, _ = await post(
                client,
                "/webhooks/sw",
                body,
                {"X-Glyphic-Signature": sign(secret, body, T0, "POST", "/webhooks/sw")},
            )
            with db.session() as session:
                WebhookRepository(session, user_id).configure(
                    "sw", auth_mode="header", auth_header="X-Key"
                )
            old, _, _ = await post(
                client,
                "/webhooks/sw",
                body,
                {"X-Glyphic-Signature": sign(secret, body, T0 + 1, "POST", "/webhooks/sw")},
            )
            new, _, _ = await post(client, "/webhooks/sw", body, {"X-Key": secret})
            return first, old, new

    assert asyncio.run(scenario()) == (202, 401, 202)
