"""How a webhook request is authenticated, per webhook (``webhooks.auth_mode``, 0009).

- ``glyphic`` (default): ``X-Glyphic-Signature`` (see :mod:`glyphic_desktop.agent.webhooks`).
- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` keyed with the
  webhook's secret; ``X-GitHub-Delivery`` (required) is the replay key.
- ``stripe``: ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=...]`` where ``v1`` is the
  HMAC-SHA256 of ``"<t>.<body>"``; other keys (Stripe's ``v0``) are ignored; ``t`` within
  the replay window (five minutes) either way; the HMAC that matched plus ``t`` is the
  replay key.
- ``header``: the header named ``auth_header`` carries the secret (constant-time compare).
- ``basic``: HTTP basic with ``basic_user`` and the secret as the password.
- ``none``: no check; served only by a listener bound to a loopback address, to loopback
  peers.

:func:`authenticate` returns a :class:`Guard` (the replay-guard row the request stores
with its execution) or why the request is refused (one line, answered 401). Modes with
neither a delivery id nor a timestamp (header, basic, none) get a guard row with a random
key that expires at once: the request is stored by the same statement as every other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

AUTH_MODES = ("glyphic", "github", "stripe", "header", "basic", "none")
GITHUB_HEADER = "X-Hub-Signature-256"
GITHUB_DELIVERY = "X-GitHub-Delivery"
STRIPE_HEADER = "Stripe-Signature"
#: How long a GitHub delivery id is remembered (GitHub's requests carry no timestamp).
DELIVERY_TTL = 3 * 24 * 3600
#: A guard row outlives its window by this much (clocks of agents and database differ).
CLOCK_MARGIN = 300
_MAX_DELIVERY = 200
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Guard:
    """The replay-guard row of an accepted request: a 32-byte key, its ``t``, and when
    the row may be pruned (unix seconds)."""

    key: bytes
    t: int
    expires: float


@dataclass(frozen=True)
class AuthSettings:
    """What :func:`authenticate` needs of a webhook besides its secret."""

    mode: str = "glyphic"
    legacy: bool = False
    auth_header: str | None = None
    basic_user: str | None = None


def secret_headers(settings: AuthSettings) -> frozenset[str]:
    """Lower-case names of the headers that carry a secret or a signature: never stored."""
    names = {"x-glyphic-signature", "x-hub-signature-256", "x-hub-signature", "stripe-signature"}
    names.add("authorization")
    if settings.auth_header:
        names.add(settings.auth_header.lower())
    return frozenset(names)


def _unguarded(now: float) -> Guard:
    return Guard(os.urandom(32), 0, now)


def _hex_digest(value: str) -> bytes | None:
    if len(value) != 64 or not _HEX.issuperset(value):
        return None
    return bytes.fromhex(value)


def check_github(headers: Mapping[str, str], secret: str, body: bytes, now: float) -> Guard | str:
    """GitHub's ``X-Hub-Signature-256`` and ``X-GitHub-Delivery``."""
    value = headers.get(GITHUB_HEADER)
    if not value:
        return f"the request has no {GITHUB_HEADER} header"
    prefix, sep, hexdigest = value.partition("=")
    digest = _hex_digest(hexdigest) if sep and prefix == "sha256" else None
    if digest is None:
        return f"the {GITHUB_HEADER} header is malformed; expected 'sha256=<64 hex digits>'"
    delivery = headers.get(GITHUB_DELIVERY, "")
    if not delivery or len(delivery) > _MAX_DELIVERY or not delivery.isascii():
        return f"the request has no usable {GITHUB_DELIVERY} header (the replay key)"
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, digest):
        return "the signature does not match the body and the webhook's secret"
    key = hashlib.sha256(b"x-github-delivery\0" + delivery.encode("ascii")).digest()
    return Guard(key, 0, now + DELIVERY_TTL)


def parse_stripe(value: str) -> tuple[int, list[bytes]] | None:
    """(t, v1 digests) of a ``Stripe-Signature`` value, or None when malformed: exactly
    one ``t`` (digits), one or more ``v1`` of 64 hex digits; other keys are ignored."""
    if not value.isascii():
        return None
    stamp: str | None = None
    digests: list[bytes] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if stamp is not None or not item.isdigit() or len(item) > 12:
                return None
            stamp = item
        elif key == "v1":
            digest = _hex_digest(item)
            if digest is None:
                return None
            digests.append(digest)
    if stamp is None or not digests:
        return None
    return int(stamp), digests


def check_stripe(
    headers: Mapping[str, str], secret: str, body: bytes, now: float, window: int
) -> Guard | str:
    """Stripe's ``Stripe-Signature: t=...,v1=...`` over ``"<t>.<body>"``."""
    value = headers.get(STRIPE_HEADER)
    if not value:
        return f"the request has no {STRIPE_HEADER} header"
    parsed = parse_stripe(value)
    if parsed is None:
        return f"the {STRIPE_HEADER} header is malformed; expected 't=<unix seconds>,v1=<hex>'"
    t, digests = parsed
    if abs(now - t) > window:
        return f"the signature timestamp is outside the {window}-second tolerance"
    expected = hmac.new(
        secret.encode("utf-8"), f"{t}.".encode("ascii") + body, hashlib.sha256
    ).digest()
    matched = False
    for digest in digests:
        if hmac.compare_digest(expected, digest):
            matched = True
    if not matched:
        return "the signature does not match the body and the webhook's secret"
    return Guard(expected, t, t + window + CLOCK_MARGIN)


def check_header(
    headers: Mapping[str, str], secret: str, name: str | None, now: float
) -> Guard | str:
    """A shared secret in the header ``name``, compared in constant time."""
    if not name:
        return "the webhook has no header name for its shared secret"
    value = headers.get(name)
    if value is None:
        return f"the request has no {name} header"
    if not hmac.compare_digest(value.encode("utf-8"), secret.encode("utf-8")):
        return f"the {name} header does not hold the webhook's secret"
    return _unguarded(now)


def check_basic(
    headers: Mapping[str, str], secret: str, user: str | None, now: float
) -> Guard | str:
    """HTTP basic: ``basic_user`` and the secret as the password (constant time)."""
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return "the request has no HTTP basic Authorization header"
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "the HTTP basic Authorization header is malformed"
    name, sep, password = decoded.partition(":")
    if not sep:
        return "the HTTP basic Authorization header is malformed"
    good_user = hmac.compare_digest(name.encode("utf-8"), (user or "").encode("utf-8"))
    good_password = hmac.compare_digest(password.encode("utf-8"), secret.encode("utf-8"))
    if not (good_user and good_password and user):
        return "wrong user name or password"
    return _unguarded(now)


def authenticate(
    settings: AuthSettings,
    headers: Mapping[str, str],
    secret: str,
    body: bytes,
    now: float,
    window: int,
    *,
    method: str,
    target: str,
    loopback: bool,
) -> Guard | str:
    """The guard row of an authenticated request, or why it is refused (one line).

    ``loopback`` says whether the listener is bound to, and the peer is, a loopback
    address: ``none`` is refused otherwise.
    """
    mode = settings.mode
    if mode == "glyphic":
        from glyphic_desktop.agent.webhooks import check_signature  # (imports this module)

        verdict = check_signature(
            headers.get("X-Glyphic-Signature"),
            secret,
            body,
            now,
            window,
            method=method,
            target=target,
            legacy=settings.legacy,
        )
        if isinstance(verdict, str):
            return verdict
        return Guard(verdict.key, verdict.t, verdict.t + window + CLOCK_MARGIN)
    if mode == "github":
        return check_github(headers, secret, body, now)
    if mode == "stripe":
        return check_stripe(headers, secret, body, now, window)
    if mode == "header":
        return check_header(headers, secret, settings.auth_header, now)
    if mode == "basic":
        return check_basic(headers, secret, settings.basic_user, now)
    if mode == "none":
        if not loopback:
            return "this webhook takes unauthenticated requests only on 127.0.0.1"
        return _unguarded(now)
    return f"unknown authentication mode {mode!r}"
