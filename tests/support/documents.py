"""Building workflow documents in tests: the compact ``"a:port -> b:port"`` edge notation,
workflow files of nodes wired one after the other."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any


def edge_dicts(edges: Iterable[str]) -> list[dict[str, Any]]:
    """Edges numbered from 1 from ``"a:port -> b:port"`` specs (ports default to output / input)."""
    found = []
    for number, spec in enumerate(edges, start=1):
        left, right = (part.strip() for part in spec.split("->"))
        source, _, source_port = left.partition(":")
        target, _, target_port = right.partition(":")
        found.append(
            {
                "id": number,
                "source": source,
                "sourceHandle": source_port or "output",
                "target": target,
                "targetHandle": target_port or "input",
            }
        )
    return found


def write_chain_file(
    path: Path, *nodes: tuple[str, str, dict[str, Any], str], name: str | None = None
) -> Path:
    """Write a workflow file at ``path``: ``nodes`` = (id, type, fields, label), each wired
    (output -> input) to the next; named ``name`` (default: the file's stem). The path."""
    data = {
        "nodes": [
            {"id": nid, "type": kind, "data": {"label": label, "fields": fields}}
            for nid, kind, fields, label in nodes
        ],
        "edges": edge_dicts(f"{a[0]} -> {b[0]}" for a, b in pairwise(nodes)),
        "metadata": {"name": path.stem if name is None else name},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
