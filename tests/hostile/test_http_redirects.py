"""Issue 10 §1: a redirect to another origin never carries a credential's headers or cookies.

Two real aiohttp servers on 127.0.0.1 (different ports, so different origins); the
first redirects, the second records every header it received. Each credential type that
sets headers (bearer, http_basic, http_header) is tried; same-origin hops keep them.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import run_node
from support.servers import AppServer

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.http import HttpRequestNode
from glyphic_desktop.secrets.types import credential_types

SECRET = "s3cr3t-" + "Zq8w" * 4

#: (credential, the header it sets, that header's value)
CREDENTIALS: dict[str, tuple[dict[str, Any], str, str]] = {
    "bearer": ({"type": "bearer", "token": SECRET}, "Authorization", f"Bearer {SECRET}"),
    "http_basic": (
        {"type": "http_basic", "username": "alice", "password": SECRET},
        "Authorization",
        "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode(),
    ),
    "http_header": (
        {"type": "http_header", "name": "X-Api-Key", "value": SECRET},
        "X-Api-Key",
        SECRET,
    ),
}


def _landing_app() -> web.Application:
    """``/landing`` answers with the headers it received; ``/bounce?to=URL`` sends on."""

    async def landing(request: web.Request) -> web.Response:
        return web.json_response({"seen": dict(request.headers)})

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_route("*", "/landing", landing)
    app.router.add_get("/bounce", bounce)
    return app


@pytest.fixture(scope="module")
def target() -> Iterator[AppServer]:
    """The second origin: records what reached it."""
    with AppServer(_landing_app()) as server:
        yield server


@pytest.fixture(scope="module")
def origin(target: AppServer) -> Iterator[AppServer]:
    """The first origin: redirects elsewhere, to itself, or there and back."""
    app = _landing_app()
    holder: dict[str, AppServer] = {}

    def here(path: str) -> str:
        return holder["self"].url(path)

    async def to_other(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        response = web.Response(status=status, headers={"Location": target.url("/landing")})
        if request.query.get("cookie"):
            response.set_cookie("fromorigin", "c00kie-of-origin")
        return response

    async def to_self(request: web.Request) -> web.Response:
        raise web.HTTPFound(here("/landing"))

    async def to_other_host(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{holder['self'].port}/landing")

    async def there_and_back(request: web.Request) -> web.Response:
        raise web.HTTPFound(target.url("/bounce?to=" + here("/landing")))

    async def to_file_scheme(request: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(here("/loop"))

    app.router.add_route("*", "/to-other", to_other)
    app.router.add_get("/to-self", to_self)
    app.router.add_get("/to-other-host", to_other_host)
    app.router.add_get("/there-and-back", there_and_back)
    app.router.add_get("/to-file", to_file_scheme)
    app.router.add_get("/loop", loop)
    with AppServer(app) as server:
        holder["self"] = server
        yield server


def _seen(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in response["body"]["seen"].items()}


def _request(url: str, credential: dict[str, Any], **fields: Any) -> dict[str, Any]:
    result = run_node(
        HttpRequestNode,
        {"url": url, "headers": {"Cookie": "session=users-own", "X-Plain": "kept"}, **fields},
        credential=credential,
    )
    return result.output


def test_every_header_setting_credential_type_is_covered() -> None:
    """A new credential type usable by the HTTP node must be added to this test."""
    assert set(HttpRequestNode.credential_types) == set(CREDENTIALS)
    for key in CREDENTIALS:
        assert key in credential_types


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_cross_origin_redirect_drops_credential_headers_and_cookies(
    origin: AppServer, target: AppServer, kind: str, status: int
) -> None:
    credential, header, value = CREDENTIALS[kind]
    output = _request(origin.url(f"/to-other?status={status}&cookie=1"), credential)
    assert output["status"] == 200 and output["url"] == target.url("/landing")
    seen = _seen(output)
    assert header.lower() not in seen
    assert "authorization" not in seen
    assert "cookie" not in seen
    assert SECRET not in repr(seen)
    assert seen["x-plain"] == "kept"  # headers the user typed for the request itself stay
    # the first hop did carry them
    first = origin.requests[-1]
    assert first.headers.get(header) == value
    assert "session=users-own" in first.headers.get("Cookie", "")


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_same_origin_redirect_keeps_them(origin: AppServer, kind: str) -> None:
    credential, header, value = CREDENTIALS[kind]
    output = _request(origin.url("/to-self"), credential)
    seen = _seen(output)
    assert seen[header.lower()] == value
    assert seen["cookie"] == "session=users-own"


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_another_host_on_the_same_port_is_another_origin(origin: AppServer, kind: str) -> None:
    credential, header, _ = CREDENTIALS[kind]
    output = _request(origin.url("/to-other-host"), credential)
    assert output["url"].startswith("http://localhost:")
    seen = _seen(output)
    assert header.lower() not in seen and "cookie" not in seen


def test_a_307_post_to_another_origin_keeps_the_body_but_not_the_key(
    origin: AppServer, target: AppServer
) -> None:
    credential, header, _ = CREDENTIALS["http_header"]
    output = _request(
        origin.url("/to-other?status=307"),
        credential,
        method="POST",
        body_type="json",
        body={"order": 7},
    )
    assert header.lower() not in _seen(output)
    received = target.requests[-1]
    assert received.method == "POST" and received.json() == {"order": 7}


def test_leaving_once_means_the_credential_does_not_come_back(origin: AppServer) -> None:
    """origin -> target -> origin: the last hop is same-origin with the start, but the
    chain went through another server, which chose where it leads."""
    credential, header, _ = CREDENTIALS["http_header"]
    output = _request(origin.url("/there-and-back"), credential)
    assert output["url"] == origin.url("/landing")
    seen = _seen(output)
    assert header.lower() not in seen and "cookie" not in seen


def test_cookies_a_server_sets_go_back_only_to_it(origin: AppServer) -> None:
    output = _request(origin.url("/to-other?cookie=1"), {})
    assert "c00kie-of-origin" not in repr(_seen(output))


def test_a_redirect_to_a_non_http_scheme_fails(origin: AppServer) -> None:
    with pytest.raises(NodeError, match="not an http"):
        _request(origin.url("/to-file"), {})


def test_a_redirect_loop_stops(origin: AppServer) -> None:
    with pytest.raises(NodeError, match="stopped after 3 redirects"):
        _request(origin.url("/loop"), {}, max_redirects=3)
