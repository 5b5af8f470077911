"""The webhook listener's guard and intake in one process: the strict header, what the
signature covers, the cache noticing rotations and setting changes, failed inserts that
stay retryable, and lost connections."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from agent.test_webhooks import HOOK, T0, call, executions, fixed, serving, signed
from glyphic_desktop.agent.webhooks import (
    MAX_DIGESTS,
    SIGNATURE_HEADER,
    check_signature,
    parse_signature,
    sign,
)
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.webhooks import WebhookRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

pytestmark = pytest.mark.usefixtures("no_os_keyring")

DIGEST = "ab" * 32


@pytest.fixture
def hook(db, user_id) -> dict[str, Any]:
    """A workflow 'Flow' with a POST webhook at 'orders/new': its id, secret and path."""
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Flow", WorkflowDocument())
        record, secret = WebhookRepository(session, user_id).add("Flow", "orders/new")
    return {"id": record.id, "secret": secret}


@pytest.mark.parametrize(
    "header",
    [
        f"t={T0}, v1={DIGEST}",  # a space after the comma
        f" t={T0},v1={DIGEST}",
        f"t={T0},v1={DIGEST} ",
        f"t=0{T0},v1={DIGEST}",  # a leading zero
        f"t=+{T0},v1={DIGEST}",
        f"t=-{T0},v1={DIGEST}",
        f"t={T0},v1={DIGEST},x=1",  # an unknown key
        f"x=1,t={T0},v1={DIGEST}",
        f"v1={DIGEST},t={T0}",  # v1 before t
        f"t={T0},t={T0},v1={DIGEST}",
        f"t={T0},v1={DIGEST},v1={DIGEST}",  # the same digest twice
        f"t={T0},v1={DIGEST},v1={DIGEST.upper()}",  # the same digest in another case
        f"t={T0},v1=00",  # not a SHA-256 digest
        f"t={T0},v1={DIGEST}00",
        f"t={T0},v1={'zz' * 32}",
        f"t={T0},v1={DIGEST},",
        f"t={T0}",
        f"t={T0},v1=",
        f"t=,v1={DIGEST}",
        "t=1234567890123,v1=" + DIGEST,  # 13 digits
        f"t={T0}," + ",".join(f"v1={n:064x}" for n in range(MAX_DIGESTS + 1)),
        f"t={T0},v1={'ab' * 31}é",
        "",
    ],
)
def test_anything_but_the_canonical_header_is_malformed(header: str) -> None:
    assert parse_signature(header) is None
    verdict = check_signature(header, "s", b"", T0, 300, method="POST", target=HOOK)
    assert (isinstance(verdict, str) and "malformed" in verdict) or header == ""


def test_the_canonical_header_parses_and_hex_case_does_not_matter() -> None:
    other = "cd" * 32
    parsed = parse_signature(f"t={T0},v1={DIGEST.upper()},v1={other}")
    assert parsed is not None
    assert parsed.t == T0 and parsed.digests == (bytes.fromhex(DIGEST), bytes.fromhex(other))
    assert parse_signature(f"t=0,v1={DIGEST}").t == 0  # type: ignore[union-attr]


def test_the_guard_key_is_the_hmac_that_matched_however_the_header_is_spelled() -> None:
    body = b'{"x": 1}'
    header = sign("s", body, T0, "POST", HOOK)
    digest = header.partition("v1=")[2]
    spellings = [
        header,
        header.replace(digest, digest.upper()),
        f"t={T0},v1={'00' * 32},v1={digest}",
        f"t={T0},v1={digest},v1={'11' * 32}",
    ]
    keys = set()
    for spelling in spellings:
        verdict = check_signature(spelling, "s", body, T0, 300, method="POST", target=HOOK)
        assert not isinstance(verdict, str), verdict
        keys.add((verdict.t, verdict.key))
    assert keys == {(T0, bytes.fromhex(digest))}


def test_a_legacy_webhook_keys_both_schemes_on_the_legacy_hmac() -> None:
    body = b"{}"
    legacy = check_signature(
        sign("s", body, T0), "s", body, T0, 300, method="POST", target=HOOK, legacy=True
    )
    full = check_signature(
        sign("s", body, T0, "POST", HOOK),
        "s",
        body,
        T0,
        300,
        method="POST",
        target=HOOK,
        legacy=True,
    )
    expected = hmac.new(b"s", f"{T0}.".encode() + body, hashlib.sha256).digest()
    assert not isinstance(legacy, str) and not isinstance(full, str)
    assert legacy.key == full.key == expected
    refused = check_signature(sign("s", body, T0), "s", body, T0, 300, method="POST", target=HOOK)
    assert isinstance(refused, str) and refused.startswith("the signature does not match")


@pytest.mark.parametrize("skew", [300, -300])
def test_five_minutes_either_way_is_the_edge(skew: int) -> None:
    header = sign("s", b"", T0, "POST", HOOK)
    assert not isinstance(
        check_signature(header, "s", b"", T0 + skew, 300, method="POST", target=HOOK), str
    )
    late = check_signature(
        header, "s", b"", T0 + skew + (1 if skew > 0 else -1), 300, method="POST", target=HOOK
    )
    assert isinstance(late, str) and "replay window" in late


def test_the_signature_covers_method_path_and_query_on_the_wire(db, user_id, hook) -> None:
    with db.session() as session:
        _record, secret = WebhookRepository(session, user_id).add("Flow", "any", "PUT")
    body = b"{}"
    target = "/webhooks/any?b=2&a=%20x"

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            wrong = []
            for method, signed_target in (
                ("POST", target),  # another method
                ("PUT", "/webhooks/other?b=2&a=%20x"),  # another path
                ("PUT", "/webhooks/any?b=2"),  # another query
                ("PUT", "/webhooks/any?a=%20x&b=2"),  # the query reordered
                ("PUT", "/webhooks/any"),  # no query
            ):
                headers = {SIGNATURE_HEADER: sign(secret, body, T0, method, signed_target)}
                wrong.append(await call(client, "PUT", target, body, headers=headers))
            headers = {SIGNATURE_HEADER: sign(secret, body, T0, "PUT", target)}
            right = await call(client, "PUT", target, body, headers=headers)
            return wrong, right

    wrong, right = asyncio.run(scenario())
    assert [status for status, _, _ in wrong] == [401] * 5
    assert all(answer["error"].startswith("the signature does not match") for _, answer, _ in wrong)
    assert right[0] == 202, right
    assert len(executions(db)) == 1


def test_rotation_and_setting_changes_are_seen_by_a_running_listener(db, user_id, hook) -> None:
    """The listener caches each webhook's secret: a rotated secret, a disabled webhook and a
    changed scheme must still count from the next request on."""
    old = hook["secret"]
    results: dict[str, int] = {}

    def change(action) -> Any:
        with db.session() as session:
            return action(WebhookRepository(session, user_id))

    async def send(client, name: str, secret: str, legacy: bool = False, t: int = T0) -> None:
        body = json.dumps({"step": name}).encode()
        header = sign(secret, body, t) if legacy else sign(secret, body, t, "POST", HOOK)
        status, _, _ = await call(client, "POST", HOOK, body, headers={SIGNATURE_HEADER: header})
        results[name] = status

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            await send(client, "old secret", old)
            new = await asyncio.to_thread(change, lambda repo: repo.rotate_secret("orders/new"))
            await send(client, "old secret after rotate", old)
            await send(client, "new secret", new)
            await asyncio.to_thread(change, lambda repo: repo.set_active("orders/new", False))
            await send(client, "disabled", new)
            await asyncio.to_thread(change, lambda repo: repo.set_active("orders/new", True))
            await send(client, "enabled", new)
            await send(client, "legacy while full", new, legacy=True)
            await asyncio.to_thread(
                change, lambda repo: repo.set_signature_scheme("orders/new", "legacy")
            )
            await send(client, "legacy while legacy", new, legacy=True)
            await asyncio.to_thread(
                change, lambda repo: repo.set_signature_scheme("orders/new", "full")
            )
            await send(client, "legacy after full again", new, legacy=True, t=T0 + 1)

    asyncio.run(scenario())
    assert results == {
        "old secret": 202,
        "old secret after rotate": 401,
        "new secret": 202,
        "disabled": 404,
        "enabled": 202,
        "legacy while full": 401,
        "legacy while legacy": 202,
        "legacy after full again": 401,
    }
    assert len(executions(db)) == 4


def test_a_failed_insert_is_a_json_500_and_the_same_request_can_be_retried(db, hook) -> None:
    with db.session() as session:
        session.execute(
            text(
                "CREATE TABLE fail_inserts (reason text);"
                "INSERT INTO fail_inserts VALUES ('disk on fire');"
                "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF EXISTS (SELECT 1 FROM fail_inserts) THEN RAISE EXCEPTION 'disk on fire'; "
                "END IF; RETURN NEW; END $$;"
                "CREATE TRIGGER fail_insert BEFORE INSERT ON executions FOR EACH ROW "
                "EXECUTE FUNCTION fail_insert();"
            )
        )
    body = b'{"order": 7}'
    headers = signed(hook["secret"], body, **{"Content-Type": "application/json"})

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            async with client.post(HOOK, data=body, headers=headers) as response:
                first = response.status, response.content_type, await response.json()
            with db.session() as session:
                session.execute(text("DELETE FROM fail_inserts"))
            retry = await call(client, "POST", HOOK, body, headers=headers)
            again = await call(client, "POST", HOOK, body, headers=headers)
            return first, retry, again

    first, retry, again = asyncio.run(scenario())
    assert first == (
        500,
        "application/json",
        {"error": "the request failed inside the agent; it was not stored"},
    )
    assert retry[0] == 202, retry
    assert again[0] == 401 and "already received" in again[1]["error"]
    [row] = executions(db)
    assert str(row.id) == retry[1]["execution_id"] and row.input_data == {"order": 7}


def test_a_lost_connection_is_replaced_without_failing_the_request(db, hook) -> None:
    async def post(client, n: int) -> int:
        body = json.dumps({"n": n}).encode()
        return (await call(client, "POST", HOOK, body, headers=signed(hook["secret"], body)))[0]

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            first = await post(client, 1)
            with db.session() as session:  # the listener's pooled connections die
                killed = session.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            second = await post(client, 2)
            return first, killed, second

    first, killed, second = asyncio.run(scenario())
    assert (first, second) == (202, 202) and killed >= 1
    assert len(executions(db)) == 2


def test_a_batch_stores_each_request_once_and_a_bad_row_stores_nothing(db, hook) -> None:
    import psycopg

    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.store.async_pool import connect_kwargs
    from glyphic_desktop.store.repositories.webhooks import (
        PendingRequest,
        fetch_serving_row,
        serving_webhook,
        store_requests,
    )

    def request(hook_state, n: int, key: bytes, body: str = "{}") -> PendingRequest:
        return PendingRequest(
            webhook=hook_state,
            signature=key,
            t=T0,
            expires=T0 + 600,
            execution_id=uuid.uuid4(),
            trigger_json=json.dumps({"n": n}),
            input_json=body,
        )

    async def scenario():
        async with await psycopg.AsyncConnection.connect(
            autocommit=True, **connect_kwargs(db.url)
        ) as conn:
            state = serving_webhook(await fetch_serving_row(conn, "orders/new"), require_keyset())
            stale = state.__class__(**{**state.__dict__, "stored_secret": "gcm1:old"})
            bad = [request(state, 9, b"\x09" * 32), request(state, 8, b"\x08" * 32, '"\\u0000"')]
            with pytest.raises(psycopg.DataError):
                await store_requests(conn, bad)
            batch = [
                request(state, 1, b"\x01" * 32),
                request(state, 2, b"\x01" * 32),  # the same request again
                request(state, 3, b"\x03" * 32),
                request(stale, 4, b"\x04" * 32),  # read before a rotation
            ]
            return await store_requests(conn, batch), batch

    results, batch = asyncio.run(scenario())
    # one of the two copies is stored (which one is the database's choice)
    assert sorted(results[:2]) == [(True, False), (True, True)]
    assert results[2:] == [(True, True), (False, False)]
    kept = batch[0] if results[0][1] else batch[1]
    stored = {row.id for row in executions(db)}
    assert stored == {kept.execution_id, batch[2].execution_id}
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM webhook_replays")).scalar_one() == 2


def test_concurrent_requests_each_get_their_own_answer(db, hook) -> None:
    """Requests that arrive together are stored together: a bad one, copies of one and
    good ones each get the answer they would get alone."""
    good = [json.dumps({"n": n}).encode() for n in range(30)]
    bad = b'{"text": "nul \\u0000 here"}'
    copy = b'{"copy": true}'

    async def send(client, body: bytes):
        headers = signed(hook["secret"], body, **{"Content-Type": "application/json"})
        return body, (await call(client, "POST", HOOK, body, headers=headers))[0]

    async def scenario():
        async with serving(db, clock=fixed(T0)) as client:
            bodies = [*good[:15], bad, copy, copy, copy, *good[15:]]
            return await asyncio.gather(*(send(client, body) for body in bodies))

    answers = asyncio.run(scenario())
    assert [status for body, status in answers if body in good] == [202] * 30
    assert [status for body, status in answers if body == bad] == [400]
    assert sorted(status for body, status in answers if body == copy) == [202, 401, 401]
    assert len(executions(db)) == 31
