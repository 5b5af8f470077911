"""Document benchmark: loading and validating workflow files of 1,000 and 10,000 nodes.

An N-node chain (each node with one input, one output and two fields, N-1 edges).
Prints one JSON line per case with the keys ``case``, ``nodes``, ``median_ms`` (median
of 9 warm runs; the loaders pause the cyclic GC themselves, the other cases run under
``gc_paused()`` too, and a full collection runs before each run, outside the timing):

- ``load_text``: JSON text -> validated document (``load_document_text``: pydantic's JSON
  parser plus the structural checks) - what opening a stored or exported file costs;
- ``structure_checks``: the structural checks alone on a validated document;
- ``parse_data``: already-parsed JSON -> validated document (``parse_document_data``);
- ``read_workflow_text``: the import path (``json.loads`` + format detection + validation);
- ``json_loads``: plain ``json.loads`` of the same text, for reference;
- ``convert_n8n``: an n8n export of the same graph converted and validated.

Usage: ``python bench/document.py`` (both sizes) or ``python bench/document.py --n 10000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from glyphic_desktop.document.io import (
    load_document_text,
    parse_document_data,
    read_workflow_data,
    read_workflow_text,
)
from glyphic_desktop.document.validation import document_problems
from glyphic_desktop.perf import gc_paused

RUNS = 9


def glyphic_document(n: int) -> dict[str, Any]:
    """An n-node chain in the Glyphic shape."""
    nodes = [
        {
            "id": str(i),
            "type": "set",
            "pos": [(i % 40) * 260.0, (i // 40) * 160.0],
            "size": [220.0, 90.0],
            "data": {"label": f"Node {i}", "nodeType": "set", "fields": {"key": f"k{i}", "n": i}},
            "inputs": [{"name": "input", "type": "any", "link": i - 1 if i > 1 else None}],
            "outputs": [{"name": "output", "type": "any", "links": [i] if i < n else []}],
        }
        for i in range(1, n + 1)
    ]
    edges = [
        {"id": i, "source": str(i), "sourceHandle": "output", "target": str(i + 1),
         "targetHandle": "input", "type": "any"}
        for i in range(1, n)
    ]  # fmt: skip
    return {"id": None, "revision": 0, "last_node_id": n, "last_link_id": n - 1, "nodes": nodes,
            "edges": edges, "groups": [], "config": {}, "metadata": {}}  # fmt: skip


def n8n_export(n: int) -> dict[str, Any]:
    """The same chain as an n8n export."""
    nodes = [
        {"parameters": {"values": {"string": [{"name": "k", "value": str(i)}]}},
         "id": f"00000000-0000-4000-8000-{i:012d}", "name": f"Set {i}",
         "type": "n8n-nodes-base.set", "typeVersion": 3, "position": [i * 200, 300]}
        for i in range(1, n + 1)
    ]  # fmt: skip
    connections = {
        f"Set {i}": {"main": [[{"node": f"Set {i + 1}", "type": "main", "index": 0}]]}
        for i in range(1, n)
    }
    return {"name": "bench", "nodes": nodes, "connections": connections}


def median_ms(work: Callable[[], object]) -> float:
    """Median wall time of RUNS calls after one warm-up call, in ms."""
    work()
    times = []
    for _ in range(RUNS):
        gc.collect()
        start = time.perf_counter()
        with gc_paused():
            work()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def run(n: int) -> None:
    """Print the cases for an n-node document."""
    data = glyphic_document(n)
    text = json.dumps(data)
    document = load_document_text(text)
    n8n = n8n_export(n)
    cases: dict[str, Callable[[], object]] = {
        "load_text": lambda: load_document_text(text),
        "structure_checks": lambda: document_problems(document),
        "parse_data": lambda: parse_document_data(data),
        "read_workflow_text": lambda: read_workflow_text(text),
        "json_loads": lambda: json.loads(text),
        "convert_n8n": lambda: read_workflow_data(n8n),
    }
    for case, work in cases.items():
        print(json.dumps({"case": case, "nodes": n, "median_ms": median_ms(work)}), flush=True)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="node count (repeatable)")
    for n in parser.parse_args().n or [1000, 10000]:
        run(n)


if __name__ == "__main__":
    main()
