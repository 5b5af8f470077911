"""Keys a Remove Duplicates node let through in earlier runs of its workflow (0011).

:class:`SeenKeys` is what the runner offers a recorded run's nodes as
``ctx.services.seen_keys``: ``remember(node_id, hashes, keep)`` inserts the keys, returns
those that were new (atomically: two runs at once cannot both see a key as new) and
trims the node's keys to its newest ``keep``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from glyphic_desktop.store.models import DedupeKey

_BATCH = 1000
_TRIM = text(
    """
    DELETE FROM dedupe_keys
    WHERE workflow_id = :workflow_id AND node_id = :node_id AND key_hash IN (
      SELECT key_hash FROM dedupe_keys
      WHERE workflow_id = :workflow_id AND node_id = :node_id
      ORDER BY seen_at DESC, key_hash
      OFFSET :keep
    )
    """
)


class SeenKeys:
    """The ``dedupe_keys`` rows of one workflow (sync: call it from a worker thread)."""

    def __init__(self, db: Any, workflow_id: uuid.UUID | str) -> None:
        self.db = db
        self.workflow_id = uuid.UUID(str(workflow_id))

    def remember(self, node_id: str, hashes: Sequence[bytes], keep: int) -> set[bytes]:
        """Insert ``hashes`` for ``node_id``; the ones not seen before; keep the newest
        ``keep`` keys of the node."""
        new: set[bytes] = set()
        with self.db.session() as session:
            for start in range(0, len(hashes), _BATCH):
                rows = [
                    {"workflow_id": self.workflow_id, "node_id": node_id, "key_hash": h}
                    for h in hashes[start : start + _BATCH]
                ]
                statement = (
                    insert(DedupeKey)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .returning(DedupeKey.key_hash)
                )
                new.update(bytes(h) for h in session.execute(statement).scalars())
            session.execute(
                _TRIM, {"workflow_id": self.workflow_id, "node_id": node_id, "keep": keep}
            )
        return new

    def count(self, node_id: str) -> int:
        """How many keys ``node_id`` remembers."""
        with self.db.session() as session:
            return int(
                session.execute(
                    text(
                        "SELECT count(*) FROM dedupe_keys WHERE workflow_id = :w AND node_id = :n"
                    ),
                    {"w": self.workflow_id, "n": node_id},
                ).scalar_one()
            )

    def forget(self, node_id: str) -> int:
        """Delete every key of ``node_id``; how many there were."""
        with self.db.session() as session:
            result = session.execute(
                text("DELETE FROM dedupe_keys WHERE workflow_id = :w AND node_id = :n"),
                {"w": self.workflow_id, "n": node_id},
            )
            return int(result.rowcount or 0)
