"""Agent figures: one JSON line per case.

- ``webhook``: signed POSTs to the agent's listener on 127.0.0.1, each queuing a run
  (202): latency per request (median, p95) and requests per second with ``--clients``
  concurrent clients, in this process. The figure issue 11 asks for (50 clients against
  a real agent process, its CPU per request, the database check) is ``bench/webhooks.py``.
- ``queue``: ``--runs`` queued executions of a three-node workflow run by the queue
  runner at the default concurrency, in this process: runs per second. The figure
  issue 11 asks for (real agent processes, one and two, their CPU per run, the database
  check; claims from a backlog; firing delay) is ``bench/agent_queue.py``.
- ``scheduler``: one ``fire_due_schedules`` pass over ``--schedules`` due schedules
  (each creating its pending execution), in ms.

The figures are taken in a scratch database on ``GLYPHIC_DATABASE_URL``'s server or the
embedded one (``bench/scratch.py``).

    python bench/agent.py [--requests 300] [--clients 8] [--runs 200] [--schedules 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp
from scratch import (
    Scratch,
    bench_home,
    emit,
    percentile,
    scratch_database,
    three_node_workflow,
)
from sqlalchemy import text

from glyphic_desktop.agent.queue import QueueRunner
from glyphic_desktop.agent.scheduler import fire_due_schedules
from glyphic_desktop.agent.webhooks import SIGNATURE_HEADER, serve_webhooks, sign
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.webhooks import WebhookRepository


async def bench_webhook(scratch: Scratch, requests: int, clients: int) -> None:
    """Signed POSTs through the real listener; each queues a pending execution."""
    workflow_id = three_node_workflow(scratch, "hooked")
    with scratch.db.session() as session:
        _record, secret = WebhookRepository(session, scratch.user_id).add(workflow_id, "bench")
    runner = await serve_webhooks(scratch.db, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/webhooks/bench"
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client(session: aiohttp.ClientSession) -> None:
        for number in counter:
            body = json.dumps({"n": number}).encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, int(time.time()), "POST", "/webhooks/bench"),
            }
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 202, response.status
            latencies.append((time.perf_counter() - start) * 1000)

    try:
        async with aiohttp.ClientSession() as session:
            began = time.perf_counter()
            await asyncio.gather(*(client(session) for _ in range(clients)))
            elapsed = time.perf_counter() - began
    finally:
        await runner.cleanup()
    emit(
        "webhook",
        requests=requests,
        clients=clients,
        median_ms=round(statistics.median(latencies), 2),
        p95_ms=round(percentile(latencies, 0.95), 2),
        requests_per_s=round(requests / elapsed, 1),
    )


async def bench_queue(scratch: Scratch, runs: int) -> None:
    """Queued runs of a three-node workflow through the queue runner."""
    workflow_id = three_node_workflow(scratch, "queued")
    with scratch.db.session() as session:
        repo = ExecutionRepository(session, scratch.user_id)
        ids = [repo.create_pending(workflow_id) for _ in range(runs)]
    runner = QueueRunner(scratch.db, agent="bench", poll_interval=0.05)
    began = time.perf_counter()
    started = await runner.run_pending()
    elapsed = time.perf_counter() - began
    with scratch.db.session() as session:
        statuses = session.execute(
            text("SELECT status FROM executions WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalars()
        assert started == runs and set(statuses) == {"completed"}, runner.outcomes
    emit(
        "queue",
        runs=runs,
        concurrency=runner.concurrency,
        seconds=round(elapsed, 2),
        runs_per_s=round(runs / elapsed, 1),
    )


def bench_scheduler(scratch: Scratch, schedules: int) -> None:
    """One scheduler pass over ``schedules`` due schedules."""
    workflow_id = three_node_workflow(scratch, "scheduled")
    with scratch.db.session() as session:
        session.execute(
            text(
                "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, timezone, "
                "next_run_at) SELECT :wid, :uid, 's' || g, '* * * * *', 'Europe/Berlin', "
                "date_trunc('minute', now()) FROM generate_series(1, :n) g"
            ),
            {"wid": workflow_id, "uid": scratch.user_id, "n": schedules},
        )
    began = time.perf_counter()
    created = fire_due_schedules(scratch.db, agent="bench", batch=schedules)
    elapsed_ms = (time.perf_counter() - began) * 1000
    assert len(created) == schedules, len(created)
    emit(
        "scheduler",
        schedules=schedules,
        ms=round(elapsed_ms, 1),
        per_schedule_ms=round(elapsed_ms / schedules, 3),
    )


def main() -> int:
    """Run every case and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--schedules", type=int, default=1000)
    args = parser.parse_args()
    # A temporary home unless one is given: its own key file (webhook secrets) and, with
    # no GLYPHIC_DATABASE_URL, its own embedded server, stopped at the end.
    with bench_home():
        with scratch_database() as scratch:
            asyncio.run(bench_webhook(scratch, args.requests, args.clients))
        with scratch_database() as scratch:
            asyncio.run(bench_queue(scratch, args.runs))
        with scratch_database() as scratch:
            bench_scheduler(scratch, args.schedules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
