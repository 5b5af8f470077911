"""Expression figures, one JSON line per case (keys: case, us_per_render or us_per_node).

    python bench/expressions.py

Cases: ``render_light`` (``{{ input.x }}``, rendered in place), ``render_template``
(text around two lookups), ``render_loop`` (a ten-step ``{% for %}``), each through
``render_string``; ``chain_light`` and ``chain_heavy``: a Manual trigger then 1,000 Set
nodes whose field is ``{{ input.v + 1 }}`` (rendered on the event loop) or
``{{ [input.v, 1]|sum }}`` (a filter outside the cheap set: rendered on a worker thread),
run by the executor. Target (issue 10): bounding expressions leaves ``render_light`` and
``chain_light`` within noise of the unbounded sandbox; the worker-thread hop costs tens
of microseconds, paid only by heavy templates.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from glyphic_desktop.document.model import WorkflowDocument  # noqa: E402
from glyphic_desktop.engine.executor import Executor  # noqa: E402
from glyphic_desktop.engine.expressions import render_string  # noqa: E402
from glyphic_desktop.nodes.registry import default_registry  # noqa: E402


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def bench_render(case: str, text: str, repeat: int = 20000) -> None:
    context = {"input": {"x": 1, "name": "Ada", "list": list(range(10))}}
    render_string(text, context, "f")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            render_string(text, context, "f")
        best = min(best, time.perf_counter() - started)
    emit(case=case, us_per_render=round(best / repeat * 1e6, 2))


def chain(n: int, value: str) -> WorkflowDocument:
    nodes = [{"id": "start", "type": "manual", "data": {"label": "", "fields": {}}}]
    edges = []
    previous = "start"
    for i in range(n):
        fields = {"fields": [{"name": "v", "value": value}], "keep_other_fields": False}
        nodes.append({"id": f"n{i}", "type": "set", "data": {"label": "", "fields": fields}})
        edges.append({"id": i + 1, "source": previous, "target": f"n{i}"})
        previous = f"n{i}"
    return WorkflowDocument.model_validate({"nodes": nodes, "edges": edges})


def bench_chain(case: str, value: str, n: int = 1000, repeat: int = 5) -> None:
    document = chain(n, value)
    registry = default_registry()

    async def once() -> float:
        started = time.perf_counter()
        outcome = await Executor(document, registry, run_input={"v": 0}).run()
        elapsed = time.perf_counter() - started
        assert outcome.status == "completed", outcome.error
        return elapsed

    async def main() -> list[float]:
        await once()
        return [await once() for _ in range(repeat)]

    best = min(asyncio.run(main()))
    emit(case=case, nodes=n + 1, us_per_node=round(best / (n + 1) * 1e6, 2))


def main() -> None:
    emit(case="info", python=sys.version.split()[0])
    bench_render("render_light", "{{ input.x }}")
    bench_render("render_template", "Hello {{ input.name }}, you have {{ input.x }} items")
    bench_render("render_loop", "{% for i in input.list %}{{ i }},{% endfor %}", 5000)
    bench_chain("chain_light", "{{ input.v + 1 }}")
    bench_chain("chain_heavy", "{{ [input.v, 1]|sum }}")


if __name__ == "__main__":
    main()
