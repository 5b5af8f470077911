"""Transform and LLM node figures, one JSON line per case.

    python bench/transforms.py [--items 100000] [--tokens 2000]

Cases ``filter``, ``sort`` and ``summarize`` run the node's ``run`` over N generated
order items (two conditions; two keys, one a text in natural order; group by two fields
with count, sum, mean and count-distinct) and print ``us_per_item`` (best of 3).
``llm_stream`` runs the LLM chat node against the local OpenAI-compatible test server
streaming T one-character tokens and prints ``us_per_token`` for the node, against
``raw_us_per_token`` for the same stream read with a bare httpx client: the difference
is the node's overhead per streamed token (parsing each event, the log batching).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from glyphic_desktop.document.model import Node, NodeData  # noqa: E402
from glyphic_desktop.nodes.base import NodeContext, NodeType  # noqa: E402
from glyphic_desktop.nodes.builtin.llm import LlmChatNode  # noqa: E402
from glyphic_desktop.nodes.builtin.transforms import (  # noqa: E402
    FilterNode,
    SortNode,
    SummarizeNode,
)


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def items(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    statuses = ["paid", "open", "refunded"]
    return [
        {
            "id": i,
            "customer": f"customer{rng.randrange(500)}",
            "region": rng.choice(["north", "south", "east", "west"]),
            "status": rng.choice(statuses),
            "total": round(rng.uniform(1, 500), 2),
        }
        for i in range(n)
    ]


def context(
    cls: type[NodeType], fields: dict[str, Any], inputs: dict[str, Any], **extra: Any
) -> NodeContext:
    node = Node(id="n1", type=cls.key, data=NodeData(label=cls.title, fields=fields))
    return NodeContext(
        node=node,
        fields=cls.Fields.model_validate(fields),
        inputs=inputs,
        log=lambda *args, **kwargs: None,
        **extra,
    )


def bench_node(case: str, cls: type[NodeType], fields: dict[str, Any], data: list[Any]) -> None:
    ctx = context(cls, fields, {"input": data})
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        asyncio.run(cls().run(ctx))
        best = min(best, time.perf_counter() - started)
    emit(case=case, items=len(data), us_per_item=round(best / len(data) * 1e6, 3))


async def raw_stream(url: str, body: dict[str, Any]) -> int:
    import httpx

    count = 0
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("POST", url, json=body) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                json.loads(line[5:])
                count += 1
    return count


def bench_llm(tokens: int) -> None:
    from support.llm_server import llm_app
    from support.servers import AppServer

    model = f"tokens-{tokens}"
    with AppServer(llm_app()) as server:
        credential = {"base_url": server.url("/v1"), "api_key": ""}
        fields = {"model": model, "user": "go"}
        body = {"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}
        node_best = raw_best = float("inf")
        for _ in range(3):
            ctx = context(LlmChatNode, fields, {}, credential=credential)
            started = time.perf_counter()
            out = asyncio.run(LlmChatNode().run(ctx))
            node_best = min(node_best, time.perf_counter() - started)
            assert len(out["output"]["text"]) == tokens
            started = time.perf_counter()
            asyncio.run(raw_stream(server.url("/v1/chat/completions"), body))
            raw_best = min(raw_best, time.perf_counter() - started)
    emit(
        case="llm_stream",
        tokens=tokens,
        us_per_token=round(node_best / tokens * 1e6, 2),
        raw_us_per_token=round(raw_best / tokens * 1e6, 2),
        overhead_us_per_token=round((node_best - raw_best) / tokens * 1e6, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=2000)
    args = parser.parse_args()
    data = items(args.items)
    bench_node(
        "filter",
        FilterNode,
        {
            "conditions": [
                {"field": "status", "operator": "equals", "compare_to": "paid"},
                {"field": "total", "operator": "gt", "compare_to": 100},
            ]
        },
        data,
    )
    bench_node(
        "sort",
        SortNode,
        {"keys": [{"field": "customer"}, {"field": "total", "direction": "desc"}]},
        data,
    )
    bench_node(
        "summarize",
        SummarizeNode,
        {
            "group_by": ["region", "status"],
            "summaries": [
                {"op": "count"},
                {"op": "sum", "field": "total"},
                {"op": "mean", "field": "total"},
                {"op": "count_distinct", "field": "customer"},
            ],
        },
        data,
    )
    bench_llm(args.tokens)


if __name__ == "__main__":
    main()
