"""Webhook intake throughput: one real agent process, a load generator in another process.

Prints one JSON line per case:

- ``webhook_agent``: ``glyphic agent --headless --webhook-port P`` (its queue runner runs
  the queued executions meanwhile, on the same CPU);
- ``webhook_listener``: the listener alone (``serve_webhooks`` in its own process), the
  intake path without the runner's work;
- ``webhook_respond`` (``--case respond``): the agent with a ``when_finished`` webhook on a
  trivial workflow (Webhook -> Respond to webhook): latency from request to the Respond
  node's answer (200), p50/p99, with ``--clients`` concurrent clients (issue 16 item 3).

Each case runs ``--clients`` concurrent clients (aiohttp, keep-alive, one process of its
own so it never shares the agent's CPU accounting) for ``--seconds``; every request is
signed anew (fresh ``t``, distinct body). With ``--rate R`` the clients send R requests/s
in all on a fixed schedule (open loop) and latency counts from when each request was
due, so a stall shows in the figures rather than slowing the clients down. Figures:
accepted requests/s; p50/p99 latency of accepted requests, and ``p99_after_1s_ms`` over
the requests due after the first second (the first second holds the cold start: 50 new
connections, the first look-up of the webhook); the agent's CPU ms per accepted request
(psutil, user + system, over the load window), the same for the load generator and for
the PostgreSQL backends serving the agent (when the server runs here); the machine's
load average; and the database check: executions stored == requests accepted, each
accepted id stored once. ``webhook_agent`` also gives ``runs_completed_during_load``:
how many of the accepted runs the agent had finished when the load stopped.
``--agent-concurrency N`` passes ``--concurrency N`` to the agent.

The figures are taken in a scratch database on ``GLYPHIC_DATABASE_URL``'s server or the
embedded one (``bench/scratch.py``).

    python bench/webhooks.py [--clients 50] [--seconds 10] [--rate R]
        [--case agent|listener|both|respond]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve()
ROOT = BENCH.parent.parent
HEADER = "X-Glyphic-Signature"


def emit(case: str, **figures: Any) -> None:
    """Print one JSON line."""
    print(json.dumps({"case": case, **figures}), flush=True)


def signature(secret: str, t: int, method: str, target: str, body: bytes, legacy: bool) -> str:
    """The header value, made here (not imported) so the bench runs against any version."""
    message = f"{t}.".encode() + body if legacy else f"{t}.{method}.{target}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


# -- the load generator (its own process) ------------------------------------------------


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    target = f"/webhooks/{args.path}"
    url = f"http://127.0.0.1:{args.port}{target}"
    latencies: list[float] = []
    steady: list[float] = []  # requests due after the first second
    statuses: dict[str, int] = {}
    ids: list[str] = []
    counter = iter(range(10**9))
    deadline = time.monotonic() + args.seconds

    # --rate: each client sends on a fixed schedule (open loop) and a request's latency
    # counts from when it was due, so a stall is not hidden by the clients waiting on it
    interval = args.clients / args.rate if args.rate else 0.0
    began_at = time.perf_counter()

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        due = began_at + number * interval / args.clients
        while time.monotonic() < deadline:
            if interval:
                ahead = due - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            body = json.dumps({"client": number, "n": next(counter)}).encode()
            headers = {
                "Content-Type": "application/json",
                HEADER: signature(
                    args.secret, int(time.time()), "POST", target, body, args.legacy_signature
                ),
            }
            start = due if interval else time.perf_counter()
            due += interval
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                took = (time.perf_counter() - start) * 1000
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
            if response.status == 202 and not args.respond:
                latencies.append(took)
                if start - began_at > 1.0:
                    steady.append(took)
                ids.append(json.loads(payload)["execution_id"])
            elif response.status == 200 and args.respond:
                latencies.append(took)  # the Respond node's answer
                if start - began_at > 1.0:
                    steady.append(took)

    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(session, n) for n in range(args.clients)))
        elapsed = time.perf_counter() - began
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "elapsed_s": elapsed,
        "accepted": len(latencies),
        "statuses": statuses,
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "p99_after_1s_ms": _percentile(steady, 0.99),
        "ids": ids,
    }


def load_main(args: argparse.Namespace) -> int:
    """``--load``: run the clients and print one JSON object (with every accepted id)."""
    print(json.dumps(asyncio.run(_load(args))), flush=True)
    return 0


# -- a listener-only process ---------------------------------------------------------------


def listener_main(args: argparse.Namespace) -> int:
    """``--serve-listener PORT``: serve webhooks only, until SIGTERM."""
    from glyphic_desktop.agent.webhooks import serve_webhooks
    from glyphic_desktop.store.database import open_database

    db = open_database(upgrade=False)

    async def serve() -> None:
        runner = await serve_webhooks(db, "127.0.0.1", args.serve_listener)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    profile_path = os.environ.get("GLYPHIC_BENCH_PROFILE")
    if profile_path:  # python bench/webhooks.py --case listener --profile FILE
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, serve())
        profiler.dump_stats(profile_path)
    else:
        asyncio.run(serve())
    db.dispose()
    return 0


# -- the driver ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server process exited with {proc.returncode}")
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _setup(scratch: Any, legacy: bool, respond: bool = False) -> str:
    """A one-node workflow with a POST webhook at 'bench'; returns the secret. With
    ``respond``: Webhook -> Respond to webhook, and the webhook waits for the answer."""
    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    document = WorkflowDocument.model_validate(
        {"nodes": [{"id": "start", "type": "manual", "data": {"label": "Start"}}]}
    )
    if respond:
        document = WorkflowDocument.model_validate(
            {
                "nodes": [
                    {"id": "hook", "type": "webhook", "data": {"label": "Hook"}},
                    {
                        "id": "answer",
                        "type": "respond_webhook",
                        "pos": [300, 0],
                        "data": {"label": "Answer", "fields": {"body": {"ok": True}}},
                    },
                ],
                "edges": [
                    {
                        "id": 1,
                        "source": "hook",
                        "sourceHandle": "output",
                        "target": "answer",
                        "targetHandle": "input",
                    }
                ],
            }
        )
    with scratch.db.session() as session:
        WorkflowRepository(session, scratch.user_id).create("hooked", document)
        repo = WebhookRepository(session, scratch.user_id)
        if respond:
            _record, secret = repo.add("hooked", "bench", response_mode="when_finished")
        else:
            _record, secret = repo.add("hooked", "bench")
        if legacy and hasattr(repo, "set_signature_scheme"):
            repo.set_signature_scheme("bench", "legacy")
    return secret


def _backend_cpu(scratch: Any) -> float | None:
    """CPU seconds of the server processes serving the scratch database's other sessions
    (the agent's connections), when they run on this machine and can be read."""
    import psutil
    from sqlalchemy import text

    with scratch.db.session() as session:
        pids = session.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return None
            total += times.user + times.system
    return total


def run_case(case: str, args: argparse.Namespace) -> None:
    """Start the server process, load it from another process, check the database."""
    import psutil
    from scratch import scratch_database
    from sqlalchemy import text

    respond = case == "webhook_respond"
    with scratch_database() as scratch:
        secret = _setup(scratch, args.legacy_signature, respond)
        port = _free_port()
        env = {**os.environ, "GLYPHIC_DATABASE_URL": scratch.url}
        if case in ("webhook_agent", "webhook_respond"):
            command = [
                str(Path(sys.executable).parent / "glyphic"),
                "agent",
                "--headless",
                "--webhook-port",
                str(port),
                *(["--concurrency", str(args.agent_concurrency)] if args.agent_concurrency else []),
            ]
        else:
            command = [sys.executable, str(BENCH), "--serve-listener", str(port)]
        # a file, not a pipe: a full pipe would stall an agent that logs per request
        server_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed at the end)
        server = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stderr=server_log, cwd=ROOT
        )
        try:
            _wait_listening(port, server)
            time.sleep(1.0)  # let start-up work (recovery, first tick) settle
            agent = psutil.Process(server.pid)
            cpu_before = agent.cpu_times()
            load_before = os.getloadavg()[0]
            loader = subprocess.run(
                [
                    sys.executable,
                    str(BENCH),
                    "--load",
                    "--port",
                    str(port),
                    "--path",
                    "bench",
                    "--secret",
                    secret,
                    "--clients",
                    str(args.clients),
                    "--seconds",
                    str(args.seconds),
                    *(["--legacy-signature"] if args.legacy_signature else []),
                    *(["--respond"] if respond else []),
                    *(["--rate", str(args.rate)] if args.rate else []),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            cpu_after = agent.cpu_times()
            load_after = os.getloadavg()[0]
            with scratch.db.session() as session:  # how far the runs kept up with intake
                ran_during_load = session.execute(
                    text("SELECT count(*) FROM executions WHERE status = 'completed'")
                ).scalar_one()
            postgres_cpu_s = _backend_cpu(scratch)
        finally:
            if server.poll() is None:
                server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        result = json.loads(loader.stdout)
        ids = result.pop("ids")
        with scratch.db.session() as session:
            rows = session.execute(
                text("SELECT id::text FROM executions WHERE trigger_type = 'webhook'")
            ).scalars()
            stored = list(rows)
            completed = session.execute(
                text("SELECT count(*) FROM executions WHERE status = 'completed'")
            ).scalar_one()
        accepted = result["accepted"]
        if respond:  # answers carry no id: every answered request is one completed run
            ids = stored if len(stored) == accepted == completed else []
        cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        emit(
            case,
            clients=args.clients,
            **({"offered_per_s": args.rate} if args.rate else {}),
            seconds=round(result["elapsed_s"], 2),
            accepted=accepted,
            accepted_per_s=round(accepted / result["elapsed_s"], 1),
            p50_ms=round(result["p50_ms"], 2),
            p99_ms=round(result["p99_ms"], 2),
            p99_after_1s_ms=round(result["p99_after_1s_ms"], 2),
            agent_cpu_ms_per_request=round(cpu_s * 1000 / max(accepted, 1), 3),
            load_generator_cpu_ms_per_request=round(result["cpu_s"] * 1000 / max(accepted, 1), 3),
            postgres_backends_cpu_ms_per_request=(
                round(postgres_cpu_s * 1000 / max(accepted, 1), 3)
                if postgres_cpu_s is not None
                else None
            ),
            statuses=result["statuses"],
            rows=len(stored),
            db_check=len(stored) == accepted == len(set(ids)) and set(stored) == set(ids),
            load_avg_1m=[round(load_before, 2), round(load_after, 2)],
            signature="legacy" if args.legacy_signature else "full",
            **({"response_mode": "when_finished", "completed_runs": completed} if respond else {}),
            **({"runs_completed_during_load": ran_during_load} if case == "webhook_agent" else {}),
        )
        if server.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            server_log.seek(0)
            print(server_log.read().decode(errors="replace")[-2000:], file=sys.stderr)
        server_log.close()


def main() -> int:
    """Parse arguments; run the load generator, a listener, or the cases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="send this many requests/s in all, on a fixed schedule (default: as fast as "
        "the clients get answers)",
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--case", choices=("agent", "listener", "both", "respond"), default="both")
    parser.add_argument(
        "--agent-concurrency", type=int, default=0, help="the agent's --concurrency (its default)"
    )
    parser.add_argument(
        "--legacy-signature",
        action="store_true",
        help="sign '<t>.<body>' (the scheme before 0006; for a before/after comparison)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the listener process into FILE (pstats)"
    )
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--respond", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    parser.add_argument("--serve-listener", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        return load_main(args)
    sys.path.insert(0, str(ROOT))
    if args.serve_listener:
        return listener_main(args)
    if args.profile:
        os.environ["GLYPHIC_BENCH_PROFILE"] = str(Path(args.profile).resolve())
    cases = {
        "agent": ["webhook_agent"],
        "listener": ["webhook_listener"],
        "respond": ["webhook_respond"],
    }.get(args.case, ["webhook_agent", "webhook_listener"])
    from scratch import bench_home  # not at the top: the load generator stays light

    with bench_home():
        for case in cases:
            run_case(case, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
