"""Master-key rotation: new key id, every row re-encrypted in one transaction, old keys retired.

Order (so an interruption at any point loses nothing):

1. check every stored row is under a key the keyset holds (else stop, nothing changed);
2. add a new current key to the stored keyset, keeping the old ones readable;
3. re-encrypt every row (all users: the master key belongs to the installation) under
   the new key in ONE transaction, the table locked against concurrent writes;
   webhook secrets (``webhooks.secret``) are checked and re-encrypted alongside;
4. after the commit, retire the keys no row uses any more.

Killed during 3, the transaction rolls back: rows stay under the old key, which is
still in the keyset. Killed between 3 and 4, the old key merely lingers until the next
rotation. With ``GLYPHIC_SECRET_KEY`` (read-only), rotation re-encrypts every row under
the first key of the variable and says which other keys can now be removed.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from sqlalchemy import text

from glyphic_desktop.secrets.keys import Keyset, require_keyset
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.integrations import (
    RowHook,
    delay_hook,
    ensure_keyset_matches,
    reencrypt_rows,
    referenced_key_ids,
)
from glyphic_desktop.store.repositories.webhooks import (
    ensure_webhook_keys_match,
    reencrypt_webhook_secrets,
    webhook_key_ids,
)

# Test hook: seconds to sleep before each row (progress goes to stderr), so a test can
# kill the rotation between rows.
ROW_DELAY_ENV = "GLYPHIC_ROTATION_ROW_DELAY"


@dataclass
class RotationResult:
    """What a rotation did."""

    new_key_id: str
    rows: int
    retired: list[str] = field(default_factory=list)
    still_listed: list[str] = field(default_factory=list)
    source: str = ""
    seconds: float = 0.0
    webhooks: int = 0


def _env_hook() -> RowHook | None:
    raw = os.environ.get(ROW_DELAY_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return delay_hook(seconds, report)


def rotate_master_key(
    db: Database, keyset: Keyset | None = None, *, before_row: RowHook | None = None
) -> RotationResult:
    """Rotate the master key (see the module doc); returns what changed."""
    started = time.perf_counter()
    keyset = keyset or require_keyset()
    before_row = before_row or _env_hook()
    with db.session() as session:
        ensure_keyset_matches(session, keyset)
        ensure_webhook_keys_match(session, keyset)
    writable = keyset.store is not None and keyset.store.writable
    if writable:
        target = keyset.with_new_current()
        target.save()  # the new key is stored before any row uses it
    else:
        target = keyset
    with db.session() as session:
        session.execute(text("LOCK TABLE integrations, webhooks IN EXCLUSIVE MODE"))
        ensure_keyset_matches(session, target)
        ensure_webhook_keys_match(session, target)
        rows = reencrypt_rows(session, target, before_row=before_row)
        webhook_rows = reencrypt_webhook_secrets(session, target)
    with db.session() as session:
        session.execute(text("LOCK TABLE integrations, webhooks IN SHARE MODE"))
        used = referenced_key_ids(session) | webhook_key_ids(session)
    final = target.retaining(used)
    retired: list[str] = []
    still: list[str] = []
    unused = sorted(set(target.keys) - set(final.keys))
    if writable:
        if unused:
            final.save()
        retired = unused
    else:
        still = unused
    return RotationResult(
        new_key_id=target.current_id,
        rows=rows,
        retired=retired,
        still_listed=still,
        source=target.describe_source(),
        seconds=time.perf_counter() - started,
        webhooks=webhook_rows,
    )
