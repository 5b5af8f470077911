"""Following HTTP redirects by hand, so that secrets never travel to another origin.

httpx only strips ``Authorization`` when a redirect leaves the origin; a credential's
``X-Api-Key`` (or a ``Cookie``) would reach the next server. :func:`redirect_request`
builds the next hop's request itself:

- to a different scheme, host or port (an *origin*), every header a credential set,
  ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` are dropped, and stay dropped
  for the rest of the chain (even if it comes back);
- same-origin hops keep them;
- 303 (and 301/302 after a POST) turn into a GET without a body, as browsers do;
  307/308 repeat the method and body.

Cookies a response sets (``Set-Cookie``) are sent back only to that exact origin within
the chain (:class:`OriginCookies`); the client's own cookie jar is never used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Headers that never cross to another origin, whatever set them.
ORIGIN_BOUND_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding", "content-encoding")


class RedirectError(Exception):
    """A redirect that cannot be followed (no Location, a non-http(s) target)."""


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def is_redirect(response: httpx.Response) -> bool:
    """Whether ``response`` is a redirect the node would follow."""
    return response.status_code in REDIRECT_STATUSES and "location" in response.headers


@dataclass
class OriginCookies:
    """Cookies of one redirect chain, kept per exact origin (scheme, host and port)."""

    jar: dict[tuple[str, str, int | None], dict[str, str]] = field(default_factory=dict)

    def take(self, response: httpx.Response) -> None:
        """Remember the cookies ``response`` sets, for its own origin only."""
        found = response.cookies
        if found:
            place = self.jar.setdefault(origin(response.url), {})
            for name, value in found.items():
                place[name] = value

    def header(self, url: httpx.URL) -> str | None:
        """The ``Cookie`` value for a request to ``url`` (None when there is none)."""
        place = self.jar.get(origin(url))
        if not place:
            return None
        return "; ".join(f"{name}={value}" for name, value in place.items())


@dataclass
class RedirectState:
    """What a chain of hops carries along: which headers are secret, and whether they left."""

    secret_headers: frozenset[str]
    start: tuple[str, str, int | None]
    user_cookie: str | None = None
    stripped: bool = False
    hops: int = 0
    cookies: OriginCookies = field(default_factory=OriginCookies)

    @classmethod
    def begin(cls, request: httpx.Request, secret_headers: Iterable[str]) -> RedirectState:
        """The state of a chain starting with ``request``."""
        return cls(
            secret_headers=frozenset(name.lower() for name in secret_headers),
            start=origin(request.url),
            user_cookie=request.headers.get("cookie"),
        )


def redirect_request(
    request: httpx.Request, response: httpx.Response, state: RedirectState
) -> httpx.Request:
    """The request of the next hop after ``response`` (a redirect) to ``request``."""
    location = response.headers.get("location", "").strip()
    if not location:
        raise RedirectError(f"{response.status_code} redirect without a Location header")
    try:
        target = response.url.join(location)
    except httpx.InvalidURL as exc:
        raise RedirectError(f"redirect to an invalid URL {location!r}: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise RedirectError(f"redirect to {str(target)!r}, which is not an http(s) URL")
    method = request.method
    status = response.status_code
    keep_body = True
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
        keep_body = False
    if origin(target) != state.start:
        state.stripped = True
    drop = {"host", "cookie"}
    if state.stripped:
        drop |= state.secret_headers | ORIGIN_BOUND_HEADERS
    if not keep_body:
        drop.update(_BODY_HEADERS)
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in drop]
    cookie_parts = []
    if state.user_cookie and not state.stripped:
        cookie_parts.append(state.user_cookie)
    from_server = state.cookies.header(target)
    if from_server:
        cookie_parts.append(from_server)
    if cookie_parts:
        headers.append(("Cookie", "; ".join(cookie_parts)))
    content = request.content if keep_body else None
    state.hops += 1
    return httpx.Request(method, target, headers=headers, content=content)
