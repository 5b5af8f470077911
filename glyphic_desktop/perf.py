"""Small performance helpers shared by the document, store and engine."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or dumping large object trees.

    Validating a 10,000-node document allocates hundreds of thousands of containers;
    the generational collector would otherwise rescan them repeatedly (measured: 5x slower).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
