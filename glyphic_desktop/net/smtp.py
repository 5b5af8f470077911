"""Opening an SMTP session the way an ``smtp`` credential describes it.

Used by the Email node (to send) and by the ``smtp`` credential's connection test, so
both speak to the server the same way; each maps the errors to its own messages.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class SmtpAccount(Protocol):
    """What an SMTP session needs: the fields of an ``smtp`` credential."""

    host: str
    port: int
    security: str
    user: str | None
    password: str | None


@contextmanager
def smtp_session(account: SmtpAccount, timeout: float) -> Iterator[smtplib.SMTP]:
    """An SMTP client after EHLO, STARTTLS (``security="starttls"``) and login (with a user).

    ``security="tls"`` connects with TLS from the start; ``"none"`` stays in plain text.
    The session is closed (QUIT) when the ``with`` block ends; errors are raised as
    smtplib, ssl and OS errors for the caller to word.
    """
    context = ssl.create_default_context()
    if account.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            account.host, account.port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(account.host, account.port, timeout=timeout)
    with client:
        client.ehlo()
        if account.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if account.user:
            client.login(account.user, account.password or "")
        yield client
