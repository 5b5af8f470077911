"""``/resume/<execution id>?token=...`` on the agent's webhook listener: resume a waiting run.

A Wait node in resume mode (or any stored wait) logs its run's resume URL; a GET or POST
with the right token makes the run due now (``engine/waits.py``) and this agent takes it
at once. Answers (JSON): 200 resumed, 401 wrong or missing token, 404 no such run,
409 the run is not waiting (any more).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)

#: Base URLs of this process's webhook listeners (``serve_webhooks`` adds them).
LISTENING: list[str] = []


def resume_url(path: str) -> str:
    """A resume path as a full URL on this process's listener, if it has one."""
    if LISTENING:
        return LISTENING[-1] + path
    return f"{path} on the agent's webhook listener (glyphic agent --webhook-port)"


_ANSWERS = {
    "bad_token": (401, "wrong or missing resume token"),
    "not_found": (404, "no such execution"),
    "not_waiting": (409, "the execution is not waiting"),
}


def resume_handler(
    db: Database, on_queued: Callable[[uuid.UUID], None] | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler of ``/resume/{execution}`` for ``db``."""
    from glyphic_desktop.engine.waits import promote_due, resume_now

    async def handle(request: web.Request) -> web.Response:
        execution = request.match_info["execution"]
        token = request.query.get("token", "")
        outcome = await asyncio.to_thread(resume_now, db, execution, token)
        if outcome != "resumed":
            status, message = _ANSWERS[outcome]
            return web.json_response({"error": message}, status=status)
        log.info("execution %s resumed by its resume URL", execution)
        try:
            for each in await asyncio.to_thread(promote_due, db):
                if on_queued is not None:
                    on_queued(each)
        except Exception as exc:  # the next poll of any agent promotes it
            log.warning("could not queue resumed execution %s now: %s", execution, exc)
        return web.json_response({"execution": execution, "status": "resumed"})

    return handle
