"""Building workflow documents in tests: the compact ``"a:port -> b:port"`` edge notation."""

from __future__ import annotations

from collections.abc import Iterable
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
