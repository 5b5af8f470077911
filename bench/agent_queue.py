"""Queue and scheduler figures: one JSON line per case (issue 11, item 8).

- ``drain``: ``--runs`` trivial queued runs (Start, Log, Set) drained by one agent process,
  then by two (``--concurrency`` each, default the agent's), then by one at 4 (the
  default before): runs per second from "go" until every row is
  ``completed``, and the agents' CPU per run. Each agent is a real child process with a
  registered ``run_processes`` row, like ``glyphic agent``.
- ``claims``: claims per second from a ``--backlog`` of pending rows (10,000), with the
  runner's claim-and-start (batches of ``--claim-batch``) and with the two-step
  ``claim_pending`` (batches of 4, what the runner did before).
- ``firing``: ``--schedules`` every-minute schedules over ``--boundaries`` minute
  boundaries: the delay from each due time to its execution row being visible
  (p50 / p99 / max), with the agent's scheduler (sleeps until the next due time) and
  with a fixed one-second tick (what the agent did before).

Scratch databases on ``GLYPHIC_DATABASE_URL``'s server or the embedded one
(``bench/scratch.py``). The machine may be shared: figures are noisy.

    python bench/agent_queue.py [--runs 2000] [--concurrency 10] [--backlog 10000]
                          [--schedules 20] [--boundaries 1] [--cases drain,claims,firing]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from scratch import (
    Scratch,
    bench_home,
    emit,
    percentile,
    scratch_database,
    three_node_workflow,
)
from sqlalchemy import text

from glyphic_desktop.agent import DEFAULT_CONCURRENCY


def _backlog(scratch: Scratch, workflow_id: uuid.UUID, count: int) -> None:
    with scratch.db.session() as session:
        session.execute(
            text(
                "INSERT INTO executions (workflow_id, user_id, status, trigger_type, "
                "created_at) SELECT :w, :u, 'pending', 'manual', "
                "now() + make_interval(secs => g / 1000000.0) FROM generate_series(1, :n) g"
            ),
            {"w": workflow_id, "u": scratch.user_id, "n": count},
        )


# -- drain: real agent processes ----------------------------------------------------------


def child(url: str, name: str, concurrency: int) -> int:
    """A child agent: register, say ready, wait for "go", drain the queue, print figures."""
    from glyphic_desktop.agent.processes import ProcessHeartbeat
    from glyphic_desktop.agent.queue import QueueRunner
    from glyphic_desktop.store.database import Database

    db = Database(url)
    heartbeat = ProcessHeartbeat(db, "agent", name=name)
    process_id = heartbeat.start()
    runner = QueueRunner(
        db, agent=name, concurrency=concurrency, process_id=process_id, poll_interval=0.05
    )
    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    started = asyncio.run(runner.run_pending())
    cpu = time.process_time() - cpu
    heartbeat.stop()
    db.dispose()
    print(
        json.dumps(
            {
                "started": started,
                "cpu_s": cpu,
                "claims": runner.claims,
                "flushes": runner.flushes,
                "outcomes": runner.outcomes,
            }
        ),
        flush=True,
    )
    return 0


def _drain(scratch: Scratch, runs: int, agents: int, concurrency: int) -> None:
    workflow_id = three_node_workflow(scratch, f"drained by {agents}")
    _backlog(scratch, workflow_id, runs)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    kids = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", scratch.url, f"bench-{n}", str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(agents)
    ]
    for kid in kids:
        assert kid.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    for kid in kids:
        kid.stdin.write("go\n")
        kid.stdin.flush()
    reports = [json.loads(kid.stdout.readline()) for kid in kids]
    elapsed = time.perf_counter() - began
    for kid in kids:
        kid.wait(30)
    with scratch.db.session() as session:
        statuses = dict(
            session.execute(
                text("SELECT status, count(*) FROM executions WHERE workflow_id = :w GROUP BY 1"),
                {"w": workflow_id},
            ).all()
        )
        logs = session.execute(
            text(
                "SELECT count(*) FROM execution_logs l JOIN executions e "
                "ON e.id = l.execution_id WHERE e.workflow_id = :w"
            ),
            {"w": workflow_id},
        ).scalar_one()
        counted = session.execute(
            text("SELECT execution_count FROM workflows WHERE id = :w"), {"w": workflow_id}
        ).scalar_one()
    assert statuses == {"completed": runs}, statuses
    assert counted == runs and sum(r["started"] for r in reports) == runs
    emit(
        "drain",
        agents=agents,
        concurrency=concurrency,
        runs=runs,
        seconds=round(elapsed, 2),
        runs_per_s=round(runs / elapsed, 1),
        agent_cpu_ms_per_run=round(sum(r["cpu_s"] for r in reports) * 1000 / runs, 2),
        transactions_per_run=round(sum(r["claims"] + r["flushes"] for r in reports) / runs, 3),
        log_rows=logs,
    )


# -- claims ------------------------------------------------------------------------------


def _claims(scratch: Scratch, backlog: int, batch: int) -> None:
    from glyphic_desktop.agent.processes import register_process
    from glyphic_desktop.agent.queue import claim_and_start, claim_pending

    for how, size in (("claim_and_start", batch), ("claim_pending (before)", 4)):
        workflow_id = three_node_workflow(scratch, f"claimed {how}")
        _backlog(scratch, workflow_id, backlog)
        process_id = register_process(scratch.db, "agent", name=f"claims {how}")
        claimed = 0
        began = time.perf_counter()
        while True:
            if how == "claim_and_start":
                got, _docs = claim_and_start(
                    scratch.db, agent="claims", process_id=process_id, limit=size
                )
            else:
                got = claim_pending(scratch.db, agent="claims", limit=size)
            if not got:
                break
            claimed += len(got)
        elapsed = time.perf_counter() - began
        assert claimed == backlog, claimed
        emit(
            "claims",
            how=how,
            backlog=backlog,
            batch=size,
            seconds=round(elapsed, 2),
            claims_per_s=round(claimed / elapsed, 1),
        )
        with scratch.db.session() as session:  # leave nothing pending for the next one
            session.execute(
                text("UPDATE executions SET status = 'cancelled' WHERE workflow_id = :w"),
                {"w": workflow_id},
            )


# -- firing delay ----------------------------------------------------------------------


def fixed_tick(url: str) -> int:
    """A child: fire due schedules every second, the way the agent did before."""
    from glyphic_desktop.agent.scheduler import fire_due_schedules
    from glyphic_desktop.store.database import Database

    db = Database(url)
    print("ready", flush=True)
    while True:
        fire_due_schedules(db, agent="fixed")
        time.sleep(1.0)


def _firing(scratch: Scratch, schedules: int, boundaries: int, aligned: bool) -> None:
    """The scheduler runs in a process of its own (a real ``glyphic agent`` when aligned);
    this process watches for the rows."""
    workflow_id = three_node_workflow(scratch, f"fired {'aligned' if aligned else 'fixed'}")
    with scratch.db.session() as session:
        session.execute(
            text(
                "INSERT INTO schedules (workflow_id, user_id, name, cron_expression, timezone, "
                "next_run_at, overlap_policy) SELECT :w, :u, 's' || g, '* * * * *', 'UTC', "
                "date_trunc('minute', now()) + interval '1 minute', 'allow' "
                "FROM generate_series(1, :n) g"
            ),
            {"w": workflow_id, "u": scratch.user_id, "n": schedules},
        )
        first_due = session.execute(
            text("SELECT date_trunc('minute', now()) + interval '1 minute'")
        ).scalar_one()
    env = {
        **os.environ,
        "GLYPHIC_DATABASE_URL": scratch.url,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    if aligned:
        command = [sys.executable, "-m", "glyphic_desktop.cli.main", "agent", "--headless"]
    else:
        command = [sys.executable, __file__, "--fixed-tick", scratch.url]
    kid = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    seen: dict[uuid.UUID, float] = {}  # execution id -> seconds after its due time
    wanted = schedules * boundaries
    deadline = time.monotonic() + 65 * boundaries + 30
    try:
        while len(seen) < wanted and time.monotonic() < deadline:
            with scratch.db.session() as session:
                rows = session.execute(
                    text(
                        "SELECT id, extract(epoch FROM clock_timestamp() - scheduled_for) "
                        "FROM executions WHERE schedule_id IS NOT NULL AND workflow_id = :w "
                        "AND NOT (id = ANY(:known))"
                    ),
                    {"w": workflow_id, "known": list(seen)},
                ).all()
            for execution_id, delay in rows:
                seen[execution_id] = float(delay)
            time.sleep(0.005)
    finally:
        kid.send_signal(signal.SIGTERM)
        try:
            kid.wait(60)
        except subprocess.TimeoutExpired:
            kid.kill()
    assert len(seen) == wanted, (len(seen), wanted)
    delays = [value * 1000 for value in seen.values()]
    emit(
        "firing",
        scheduler="sleeps until the next due time" if aligned else "fixed 1 s tick (before)",
        schedules=schedules,
        boundaries=boundaries,
        first_due=first_due.isoformat(),
        p50_ms=round(percentile(delays, 0.5), 1),
        p99_ms=round(percentile(delays, 0.99), 1),
        max_ms=round(max(delays), 1),
    )


def main() -> int:
    """Run the chosen cases and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--claim-batch", type=int, default=50)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--boundaries", type=int, default=1)
    parser.add_argument("--cases", default="drain,claims,firing")
    parser.add_argument("--child", nargs=3, metavar=("URL", "NAME", "CONCURRENCY"))
    parser.add_argument("--fixed-tick", metavar="URL")
    args = parser.parse_args()
    if args.fixed_tick:
        return fixed_tick(args.fixed_tick)
    if args.child:
        url, name, concurrency = args.child
        return child(url, name, int(concurrency))
    with bench_home():
        cases = set(args.cases.split(","))
        if "drain" in cases:
            for agents in (1, 2):
                with scratch_database() as scratch:
                    _drain(scratch, args.runs, agents, args.concurrency)
            if args.concurrency != 4:
                with scratch_database() as scratch:  # the default before this version
                    _drain(scratch, args.runs // 2, 1, 4)
        if "claims" in cases:
            with scratch_database() as scratch:
                _claims(scratch, args.backlog, args.claim_batch)
        if "firing" in cases:
            for aligned in (True, False):
                with scratch_database() as scratch:
                    _firing(scratch, args.schedules, args.boundaries, aligned)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
