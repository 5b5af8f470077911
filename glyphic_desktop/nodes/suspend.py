"""Suspending a run: what a Wait node raises when its wait is too long to hold in memory.

The engine (``engine/executor.py``) catches :class:`RunSuspended`, stops the run and
ends it as ``waiting``; ``engine/waits.py`` stores what it needs to resume.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

#: Waits up to this many seconds sleep in memory; longer ones are stored (``waiting``).
DEFAULT_PERSIST_AFTER = 60.0


def persist_after() -> float:
    """Seconds after which a wait is stored instead of slept (``GLYPHIC_WAIT_PERSIST_AFTER``)."""
    raw = os.environ.get("GLYPHIC_WAIT_PERSIST_AFTER", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_PERSIST_AFTER
    except ValueError:
        return DEFAULT_PERSIST_AFTER


class RunSuspended(Exception):
    """Raised by a node to store the run as ``waiting`` and resume it later.

    ``resume_at``: when it is due (None: only a resume call or ``max_at`` ends it);
    ``max_at``: the latest end of the wait; ``outputs``: the node's outputs on resume.
    """

    def __init__(
        self,
        *,
        resume_at: datetime | None,
        max_at: datetime | None,
        outputs: dict[str, Any],
        resumable: bool = False,
    ) -> None:
        super().__init__("the run waits")
        self.resume_at = resume_at
        self.max_at = max_at
        self.outputs = outputs
        self.resumable = resumable
