"""Running a few coroutines together under a deadline, leaving no exception unretrieved.

``asyncio.wait_for(asyncio.gather(...))`` cancelled from outside (a node timeout, a run's
cancellation) leaves the gathering future finished with a ``CancelledError`` nobody
retrieves, and asyncio prints "_GatheringFuture exception was never retrieved" with a
traceback. :func:`run_all` uses plain tasks instead and retrieves every outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from typing import Any


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (it is raised elsewhere, or not needed)."""
    if not task.cancelled():
        task.exception()


def _cancel(tasks: Iterable[asyncio.Future[Any]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()


async def run_all(awaitables: Iterable[Awaitable[Any]], timeout: float | None) -> list[Any]:
    """Run ``awaitables`` concurrently; return their results in order.

    The first exception cancels the others and is raised; past ``timeout`` seconds every
    one still running is cancelled and ``TimeoutError`` is raised; when the caller is
    cancelled, they are cancelled too. No outcome is left unretrieved.
    """
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    for task in tasks:
        task.add_done_callback(_retrieve)
    try:
        done, pending = await asyncio.wait(
            tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION
        )
    except BaseException:
        _cancel(tasks)
        raise
    failed = next((t for t in tasks if t in done and not t.cancelled() and t.exception()), None)
    if failed is not None or pending:
        _cancel(tasks)
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, timeout=5)
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        raise TimeoutError
    return [task.result() for task in tasks]
