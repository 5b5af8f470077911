"""The agent process freezes its start-up heap (service.settle_startup_heap): a full
garbage collection under webhook load no longer walks modules and caches (the 40–80 ms
pauses that were the agent's p99). Run in a child process: a freeze pins the heap of
whoever calls it, so the test process must not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import asyncio, gc, sys
from glyphic_desktop.agent.service import Agent
from glyphic_desktop.store.database import open_database

async def main(settle):
    db = open_database()
    agent = Agent(db, name="heap", settle_heap=settle, poll_interval=0.1, tick_interval=1)
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    while agent.runner.process_id is None or not agent.ticks:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    frozen = gc.get_freeze_count()
    stop.set()
    await running
    db.dispose()
    print(frozen)

asyncio.run(main(sys.argv[1] == "settle"))
"""


@pytest.mark.parametrize("mode", ["settle", "plain"])
def test_only_the_agent_process_freezes_its_start_up_heap(database_url, mode):
    env = {**os.environ, "GLYPHIC_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    frozen = int(done.stdout.strip().splitlines()[-1])
    if mode == "settle":
        # modules, the node catalog, pydantic and SQLAlchemy: well over 10,000 objects
        assert frozen > 10_000
    else:
        assert frozen == 0
