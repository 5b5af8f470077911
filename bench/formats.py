"""Import of large foreign files: conversion time vs the whole `glyphic import` process.

Generates a 5,000-node ComfyUI workflow (a chain of linked nodes with widgets), a
1,000-node n8n workflow (a chain with expressions, a schedule trigger) and a 1,000-node
Node-RED flow file (five tabs, wired chains), then for each prints one JSON line:

- ``convert_s``: reading the file in process (JSON parse, conversion, layout when
  needed, validation, the grouped report), best of three;
- ``import_s``: a whole ``glyphic import FILE`` child process (interpreter start,
  imports, conversion, the database transaction), into a scratch database on
  ``GLYPHIC_DATABASE_URL``'s server or the embedded one (``bench/scratch.py``);
- ``report_lines``: how many lines the report has (grouped, not one per node).

    python bench/formats.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import bench_home, scratch_database

from glyphic_desktop.document.io import read_workflow_file

ROOT = Path(__file__).resolve().parent.parent


def comfyui(count: int) -> dict[str, Any]:
    """A ComfyUI UI-format chain of ``count`` nodes, each linked to the next."""
    nodes = []
    links = []
    for i in range(1, count + 1):
        nodes.append(
            {
                "id": i,
                "type": f"Node{i % 40}",
                "pos": [(i % 100) * 300, (i // 100) * 200],
                "size": [270, 120],
                "flags": {},
                "order": i,
                "mode": 0,
                "inputs": [{"name": "in", "type": "LATENT", "link": i - 1 if i > 1 else None}],
                "outputs": [{"name": "out", "type": "LATENT", "links": [i] if i < count else []}],
                "properties": {"Node name for S&R": f"Node{i % 40}"},
                "widgets_values": [i, "euler", 20, 7.5],
            }
        )
        if i < count:
            links.append([i, i, 0, i + 1, 0, "LATENT"])
    return {
        "last_node_id": count,
        "last_link_id": count - 1,
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def n8n(count: int) -> dict[str, Any]:
    """An n8n chain: a schedule trigger, then Set / HTTP / placeholder nodes with expressions."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "n0",
            "name": "Every hour",
            "type": "n8n-nodes-base.scheduleTrigger",
            "typeVersion": 1.2,
            "position": [0, 0],
            "parameters": {"rule": {"interval": [{"field": "hours", "hoursInterval": 1}]}},
        }
    ]
    kinds = ["n8n-nodes-base.set", "n8n-nodes-base.httpRequest", "n8n-nodes-base.airtable"]
    for i in range(1, count):
        nodes.append(
            {
                "id": f"n{i}",
                "name": f"Step {i}",
                "type": kinds[i % 3],
                "typeVersion": 1,
                "position": [i * 220, (i % 7) * 120],
                "parameters": {
                    "url": "={{ $json.url }}",
                    "value": f"={{{{ $('Step {max(i - 1, 1)}').item.json.id }}}}",
                    "text": "={{ $json.name.toUpperCase() }}",
                },
            }
        )
    connections = {
        nodes[i]["name"]: {"main": [[{"node": nodes[i + 1]["name"], "type": "main", "index": 0}]]}
        for i in range(count - 1)
    }
    return {
        "name": "Bench n8n",
        "nodes": nodes,
        "connections": connections,
        "settings": {"timezone": "Europe/Berlin"},
    }


def nodered(count: int, tabs: int = 5) -> list[dict[str, Any]]:
    """A Node-RED flow file: ``tabs`` tabs, each a wired chain, and one config node."""
    items: list[dict[str, Any]] = [{"id": "broker", "type": "mqtt-broker", "broker": "localhost"}]
    per_tab = count // tabs
    kinds = ["change", "function", "debug", "mqtt out", "switch"]
    for t in range(tabs):
        tab = f"tab{t}"
        items.append({"id": tab, "type": "tab", "label": f"Flow {t}"})
        ids = [f"{tab}-n{i}" for i in range(per_tab)]
        for i, node_id in enumerate(ids):
            kind = "inject" if i == 0 else kinds[i % len(kinds)]
            node: dict[str, Any] = {
                "id": node_id,
                "type": kind,
                "z": tab,
                "name": f"{kind} {i}",
                "x": 100 + (i % 20) * 160,
                "y": 60 + (i // 20) * 80,
                "wires": [[ids[i + 1]]] if i + 1 < per_tab else [],
            }
            if kind == "inject":
                node["repeat"] = "300"
            if kind == "function":
                node["func"] = "return msg;"
            if kind == "switch":
                node.update(property="payload", rules=[{"t": "eq", "v": "a"}, {"t": "else"}])
                node["wires"] = [[ids[i + 1]], []] if i + 1 < per_tab else [[], []]
            if kind == "mqtt out":
                node["broker"] = "broker"
            items.append(node)
    return items


def _convert_seconds(path: Path) -> tuple[float, int, int]:
    best = float("inf")
    result = None
    for _ in range(3):
        start = time.perf_counter()
        result = read_workflow_file(path)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, len(result.notes), len(result.document.nodes)


def _import_seconds(path: Path, url: str, name: str) -> float:
    env = {**os.environ, "GLYPHIC_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "glyphic_desktop.cli.main", "import", str(path)]
    start = time.perf_counter()
    subprocess.run([*command, "--name", name], check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> int:
    """Print one JSON line per generated file."""
    with bench_home():
        cases = [
            ("comfyui", 5000, comfyui(5000)),
            ("n8n", 1000, n8n(1000)),
            ("nodered", 1000, nodered(1000)),
        ]
        with tempfile.TemporaryDirectory() as folder, scratch_database() as scratch:
            for fmt, count, data in cases:
                path = Path(folder) / f"{fmt}-{count}.json"
                path.write_text(json.dumps(data), encoding="utf-8")
                convert_s, lines, nodes = _convert_seconds(path)
                import_s = _import_seconds(path, scratch.url, f"bench {fmt}")
                print(
                    json.dumps(
                        {
                            "case": f"import {fmt}",
                            "nodes": nodes,
                            "file_kb": round(path.stat().st_size / 1024),
                            "convert_s": round(convert_s, 3),
                            "import_s": round(import_s, 3),
                            "report_lines": lines,
                        }
                    ),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
