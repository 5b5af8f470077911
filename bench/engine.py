"""Engine figures, one JSON line per case (keys: case, nodes, us_per_node, runs_per_s,
log_lines_per_s, peak_mb, where they apply; the database cases add the median and
this process's CPU time per node, cpu_us_per_node, steadier on a shared machine).

    python bench/engine.py                 # engine-only cases
    GLYPHIC_DATABASE_URL=postgresql://... python bench/engine.py   # plus the database cases

Cases: ``chain`` (a Manual trigger then N Set nodes in a line; 100 and 1,000, so growth
with length shows), ``fanout`` (one source, 1,000 Set nodes in parallel, one node all
1,000 edges enter), each without and (when a database is given) with the database
sink, i.e. the full ``run_workflow`` (preflight, execution row, log rows, outputs);
``execution_logs`` throughput of the database sink; ``run_from_here`` (issue 12): "run
from here" on the middle node of the 1,000-node chain (500 nodes run, the rest re-used
from the recorded run), its time per node run against the full run's time per node,
without and with the database (records loaded, plan made, partial run recorded); and
``memory``: 100 MB of items moved through 10 nodes (peak RSS growth, in a child process).

Targets (issue 5): ≤ 50 µs per node without the database sink and ≤ 130 µs with it on
the 1,000-node chain, not growing with length; ≥ 50,000 log lines/s; peak memory under
3x the data size. Targets (issue 12): ``run_from_here`` runs only 500 nodes, each about
as fast as in the full run (``us_per_node_run`` near ``full_us_per_node``), and the
recorded 1,000-node chain stays near 80 µs per node with the per-node records written.
Uses the built-in ``set`` node when the catalog has it, else a minimal Set-like node
defined here.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from glyphic_desktop.document.model import WorkflowDocument  # noqa: E402
from glyphic_desktop.engine.events import EventBus  # noqa: E402
from glyphic_desktop.engine.executor import Executor  # noqa: E402
from glyphic_desktop.nodes.base import NodeContext, NodeType  # noqa: E402
from glyphic_desktop.nodes.registry import NodeRegistry, default_registry  # noqa: E402


class _SetFields(BaseModel):
    values: dict[str, Any] = {}


class BenchSet(NodeType):
    """A minimal Set-like node (used when the catalog's ``set`` is missing)."""

    key = "bench.set"
    title = "Bench set"
    category = "Data"
    Fields = _SetFields

    async def run(self, ctx: NodeContext):
        base = ctx.input if isinstance(ctx.input, dict) else {}
        return {"output": {**base, **ctx.fields.values}}


class BenchStart(NodeType):
    key = "bench.start"
    title = "Bench start"
    category = "Triggers"
    inputs = ()
    is_trigger = True

    async def run(self, ctx: NodeContext):
        return {"output": ctx.run_input if ctx.run_input is not None else {}}


class BenchJoin(NodeType):
    key = "bench.join"
    title = "Bench join"
    category = "Flow"

    async def run(self, ctx: NodeContext):
        value = ctx.input
        return {"output": len(value) if isinstance(value, list) else 1}


class _GenFields(BaseModel):
    items: int = 100_000
    size: int = 1000


class BenchGenerate(NodeType):
    key = "bench.generate"
    title = "Bench generate"
    category = "Data"
    inputs = ()
    Fields = _GenFields

    async def run(self, ctx: NodeContext):
        size, count = ctx.fields.size, ctx.fields.items
        return {"output": [{"id": i, "payload": "x" * size} for i in range(count)]}


class BenchMap(NodeType):
    key = "bench.map"
    title = "Bench map"
    category = "Data"

    async def run(self, ctx: NodeContext):
        return {"output": [{**item, "step": ctx.node.id} for item in ctx.input]}


def make_registry() -> tuple[NodeRegistry, str, str]:
    """(registry, set key, start key): the catalog's set/manual when present."""
    registry = NodeRegistry()
    for cls in (BenchSet, BenchStart, BenchJoin, BenchGenerate, BenchMap):
        registry.register(cls)
    try:
        catalog = default_registry()
        set_cls, manual_cls = catalog.get("set"), catalog.get("manual")
    except Exception:
        set_cls = manual_cls = None
    set_key, start_key = "bench.set", "bench.start"
    if set_cls is not None:
        registry.register(set_cls)
        set_key = "set"
    if manual_cls is not None:
        registry.register(manual_cls)
        start_key = "manual"
    return registry, set_key, start_key


def set_fields(key: str, index: int) -> dict[str, Any]:
    if key == "set":
        return {"fields": [{"name": "k", "value": index}]}
    return {"values": {"k": index}}


def node(node_id: str, node_type: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": "", "fields": fields or {}}}


def chain_document(n: int, set_key: str, start_key: str) -> WorkflowDocument:
    nodes = [node("start", start_key)]
    edges = []
    previous = "start"
    for i in range(n):
        nodes.append(node(f"n{i}", set_key, set_fields(set_key, i)))
        edges.append({"id": i + 1, "source": previous, "target": f"n{i}"})
        previous = f"n{i}"
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def fanout_document(n: int, set_key: str, start_key: str) -> WorkflowDocument:
    nodes = [node("start", start_key)]
    edges = []
    for i in range(n):
        nodes.append(node(f"n{i}", set_key, set_fields(set_key, i)))
        edges.append({"id": 2 * i + 1, "source": "start", "target": f"n{i}"})
        edges.append({"id": 2 * i + 2, "source": f"n{i}", "target": "join"})
    nodes.append(node("join", "bench.join"))
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def bench_engine(case: str, document: WorkflowDocument, registry: NodeRegistry, repeat: int):
    """Executor only (plan + run, every event built and delivered to one listener)."""
    count = [0]

    def listener(event: Any) -> None:
        count[0] += 1

    async def once() -> float:
        started = time.perf_counter()
        outcome = await Executor(document, registry, bus=EventBus([listener]), run_input={}).run()
        elapsed = time.perf_counter() - started
        assert outcome.status == "completed", outcome.error
        return elapsed

    async def main() -> list[float]:
        await once()  # warm-up
        return [await once() for _ in range(repeat)]

    times = asyncio.run(main())
    best = min(times)
    nodes = len(document.nodes)
    emit(
        case=case,
        nodes=nodes,
        us_per_node=round(best / nodes * 1e6, 2),
        runs_per_s=round(1 / best, 1),
        db_sink=False,
    )


def bench_recorded(case: str, document: WorkflowDocument, registry: NodeRegistry, db, repeat: int):
    """The full run_workflow: preflight, execution row, log rows, recorded outputs."""
    from glyphic_desktop.engine.runner import run_workflow
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    user_id = current_user_id(db)
    name = f"bench {case} {time.time_ns()}"
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(name, document)
    times, cpu_times = [], []
    rows = 0
    for attempt in range(repeat + 1):
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_workflow(db, user_id, record, registry=registry, input={})
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        assert result.status == "completed", result.error
        rows = result.log_rows
        if attempt:
            times.append(elapsed)
            cpu_times.append(cpu)
    _drop_workflow(db, record.id)
    best = min(times)
    nodes = len(document.nodes)
    emit(
        case=case,
        nodes=nodes,
        us_per_node=round(best / nodes * 1e6, 2),
        median_us_per_node=round(statistics.median(times) / nodes * 1e6, 2),
        # this process's CPU time (all its threads), steadier than wall time on a busy machine
        cpu_us_per_node=round(min(cpu_times) / nodes * 1e6, 2),
        median_cpu_us_per_node=round(statistics.median(cpu_times) / nodes * 1e6, 2),
        runs_per_s=round(1 / best, 1),
        log_lines_per_s=round(rows / best),
        db_sink=True,
    )


def _drop_workflow(db, workflow_id) -> None:
    """Delete what a case stored (its runs and log rows go with it), keeping the database small."""
    from sqlalchemy import text

    with db.session() as session:
        session.execute(text("DELETE FROM workflows WHERE id = :id"), {"id": workflow_id})


def bench_log_throughput(db, lines: int = 200_000) -> None:
    """Lines/s through the database sink into execution_logs (events built and masked)."""
    from glyphic_desktop.engine.events import LogLine
    from glyphic_desktop.engine.sinks import DatabaseLogSink, default_masker
    from glyphic_desktop.store.repositories.executions import ExecutionRepository
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    user_id = current_user_id(db)
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(
            f"bench logs {time.time_ns()}", WorkflowDocument()
        )
        execution_id = ExecutionRepository(session, user_id).create_pending(record.id)
    sink = DatabaseLogSink(db, execution_id, masker=default_masker())
    started = time.perf_counter()
    for i in range(lines):
        sink(
            LogLine(
                str(execution_id), f"n{i % 50}", "set", "Set", level="info", message=f"line {i}"
            )
        )
    sink.close()
    elapsed = time.perf_counter() - started
    assert sink.errors == 0 and sink.rows_written == lines
    _drop_workflow(db, record.id)
    emit(case="execution_logs", nodes=None, log_lines_per_s=round(lines / elapsed))


def _records_of(document: WorkflowDocument, registry: NodeRegistry) -> dict[str, Any]:
    """The node records a full run leaves (as the store gives them back), built in memory."""
    from glyphic_desktop.engine.node_data import NodeDataRecorder
    from glyphic_desktop.engine.records import OutputRecorder
    from glyphic_desktop.store.repositories.node_data import NodeRecord

    outputs, nodes = OutputRecorder(), NodeDataRecorder()
    outcome = asyncio.run(
        Executor(document, registry, bus=EventBus([outputs, nodes]), run_input={}).run()
    )
    assert outcome.status == "completed", outcome.error
    return {
        row["node_id"]: NodeRecord(
            row["node_id"],
            row["status"],
            inputs=row["inputs"] or {},
            outputs=outputs.outputs.get(row["node_id"], {}),
        )
        for row in nodes.rows()
    }


def bench_run_from_here(document: WorkflowDocument, registry: NodeRegistry, repeat: int) -> None:
    """ "Run from here" on the middle node of a chain against a full run (executor only).

    Both runs build their plan (a partial one compiles only the nodes it needs) and deliver
    every event to one listener, as ``bench_engine`` does.
    """
    from glyphic_desktop.engine.partial import plan_partial_run

    middle = document.nodes[len(document.nodes) // 2 + 1].id  # n500: n500..n999 run
    records = _records_of(document, registry)
    started = time.perf_counter()
    plan = plan_partial_run(document, "from", middle, records, registry=registry)
    planning_ms = (time.perf_counter() - started) * 1000

    def listener(event: Any) -> None:
        pass

    async def once(**options: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        executor = Executor(document, registry, bus=EventBus([listener]), run_input={}, **options)
        outcome = await executor.run()
        assert outcome.status == "completed", outcome.error
        return time.perf_counter() - started, outcome

    async def main() -> tuple[float, float, Any]:
        await once()
        await once(**plan.executor_options())
        full = min([(await once())[0] for _ in range(repeat)])
        partial = [await once(**plan.executor_options()) for _ in range(repeat)]
        return full, min(t for t, _ in partial), partial[0][1]

    full, partial, outcome = asyncio.run(main())
    nodes = len(document.nodes)
    emit(
        case="run_from_here",
        nodes=nodes,
        nodes_run=outcome.nodes_run,
        nodes_reused=outcome.nodes_reused,
        us_per_node_run=round(partial / outcome.nodes_run * 1e6, 2),
        full_us_per_node=round(full / nodes * 1e6, 2),
        partial_ms=round(partial * 1000, 2),
        full_ms=round(full * 1000, 2),
        planning_ms=round(planning_ms, 2),
        db_sink=False,
    )


def bench_run_from_here_recorded(
    document: WorkflowDocument, registry: NodeRegistry, db: Any, repeat: int
) -> None:
    """The same with the database: the full run_workflow, then "run from here" on the
    middle node planned from the stored records (``latest_node_records``) and recorded."""
    from glyphic_desktop.engine.partial import plan_partial_run, run_partial
    from glyphic_desktop.engine.runner import run_workflow
    from glyphic_desktop.store.repositories.node_data import latest_node_records
    from glyphic_desktop.store.repositories.users import current_user_id
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    user_id = current_user_id(db)
    with db.session() as session:
        record = WorkflowRepository(session, user_id).create(
            f"bench from-here {time.time_ns()}", document
        )
    middle = document.nodes[len(document.nodes) // 2 + 1].id  # n500: n500..n999 run
    full_times, partial_times, load_times = [], [], []
    result = None
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        full = run_workflow(db, user_id, record, registry=registry, input={})
        full_elapsed = time.perf_counter() - started
        assert full.status == "completed", full.error
        started = time.perf_counter()
        latest = latest_node_records(db, record.id, user_id=user_id)
        plan = plan_partial_run(
            document,
            "from",
            middle,
            latest.records,
            registry=registry,
            source_execution=latest.execution_id,
        )
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        result = run_partial(db, user_id, record, plan, registry=registry)
        partial_elapsed = time.perf_counter() - started
        assert result.status == "completed", result.error
        if attempt:
            full_times.append(full_elapsed)
            partial_times.append(partial_elapsed)
            load_times.append(loaded)
    _drop_workflow(db, record.id)
    nodes = len(document.nodes)
    emit(
        case="run_from_here",
        nodes=nodes,
        nodes_run=result.nodes_run,
        nodes_reused=result.nodes_reused,
        us_per_node_run=round(min(partial_times) / result.nodes_run * 1e6, 2),
        full_us_per_node=round(min(full_times) / nodes * 1e6, 2),
        partial_ms=round(min(partial_times) * 1000, 2),
        full_ms=round(min(full_times) * 1000, 2),
        records_load_and_plan_ms=round(min(load_times) * 1000, 2),
        db_sink=True,
    )


MEMORY_CHILD = r"""
import asyncio, json, os, sys, threading, time
import psutil
sys.path.insert(0, {root!r})
from bench.engine import make_registry, node
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.executor import Executor
from glyphic_desktop.engine.events import EventBus
from glyphic_desktop.engine.records import OutputRecorder

registry, _, _ = make_registry()
items, size = {items}, {size}
nodes = [node("gen", "bench.generate", {{"items": items, "size": size}})]
edges = []
previous = "gen"
for i in range(9):
    nodes.append(node(f"m{{i}}", "bench.map"))
    edges.append({{"id": i + 1, "source": previous, "target": f"m{{i}}"}})
    previous = f"m{{i}}"
document = WorkflowDocument.model_validate({{"nodes": nodes, "edges": edges}})
proc = psutil.Process()
base = proc.memory_info().rss
peak = [base]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.005)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
recorder = OutputRecorder()
outcome = asyncio.run(Executor(document, registry, bus=EventBus([recorder])).run())
stop.set(); thread.join()
peak[0] = max(peak[0], proc.memory_info().rss)
assert outcome.status == "completed", outcome.error
print(json.dumps({{"peak_growth": peak[0] - base}}))
"""


def bench_memory(items: int = 100_000, size: int = 1000) -> None:
    data_mb = items * (size + 40) / 1e6  # payload plus the JSON of each item's other keys
    code = MEMORY_CHILD.format(root=str(ROOT), items=items, size=size)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    growth = json.loads(out.stdout.strip().splitlines()[-1])["peak_growth"] / 1e6
    emit(
        case="memory",
        nodes=10,
        data_mb=round(data_mb, 1),
        peak_mb=round(growth, 1),
        ratio=round(growth / data_mb, 2),
    )


def main() -> None:
    gc.collect()
    registry, set_key, start_key = make_registry()
    emit(case="info", set_node=set_key, python=sys.version.split()[0])
    documents = [
        ("chain", chain_document(100, set_key, start_key), 30),
        ("chain", chain_document(1000, set_key, start_key), 10),
        ("fanout", fanout_document(1000, set_key, start_key), 10),
    ]
    for case, document, repeat in documents:
        bench_engine(case, document, registry, repeat)
    bench_run_from_here(documents[1][1], registry, 10)
    if os.environ.get("GLYPHIC_DATABASE_URL"):
        from glyphic_desktop.store.database import open_database

        db = open_database()
        try:
            for case, document, repeat in documents:
                bench_recorded(case, document, registry, db, max(3, repeat // 3))
            bench_run_from_here_recorded(documents[1][1], registry, db, 3)
            bench_log_throughput(db)
        finally:
            db.dispose()
    else:
        emit(case="database", skipped="set GLYPHIC_DATABASE_URL for the database cases")
    bench_memory()


if __name__ == "__main__":
    main()
