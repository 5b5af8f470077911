"""Flow nodes that run other graphs through engine services: Loop over items, Run sub-workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import maybe_await, require_service, service
from glyphic_desktop.nodes.registry import register_node

LOOP_MAX_CONCURRENCY = 32


class LoopFields(BaseModel):
    """Fields of the Loop over items node."""

    model_config = ConfigDict(extra="forbid")

    items: Any = Field(
        default=None,
        description="The list to loop over, e.g. {{ input.rows }}; empty means the node's input.",
        json_schema_extra={"widget": "json"},
    )
    concurrency: int = Field(
        default=1,
        ge=1,
        le=LOOP_MAX_CONCURRENCY,
        description="How many items run through the body at the same time.",
    )


def as_items(value: Any) -> list[Any]:
    """A list of items: a list as is, None as no items, anything else as one item."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


@register_node
class LoopNode(NodeType):
    """Runs the nodes behind ``item`` once per item; ``done`` gets the list of results.

    The body is everything downstream of the ``item`` output (the engine hands it to
    this node through ``ctx.services.run_subgraph``). Each item's result is the body's
    result value (see ``SubgraphResult.value``); an item whose body produced nothing
    (every leaf skipped, e.g. filtered out by an If) adds nothing to ``done``. Results
    keep the order of the items whatever the concurrency.
    """

    key: ClassVar[str] = "loop"
    title: ClassVar[str] = "Loop over items"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "repeat"
    description: ClassVar[str] = (
        "Runs the nodes connected to 'item' once per item of a list, then sends the "
        "collected results to 'done'."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Items"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("item", "any", "Each item (loop body)"),
        PortSpec("done", "array", "Results"),
    )
    Fields: ClassVar[type[BaseModel]] = LoopFields
    body_ports: ClassVar[tuple[str, ...]] = ("item",)

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Run the body per item, ``concurrency`` at a time, and collect the results."""
        fields: LoopFields = ctx.fields  # type: ignore[assignment]
        items = as_items(fields.items if fields.items is not None else ctx.input)
        run_subgraph = require_service(ctx, "run_subgraph", "Loop over items")
        results: list[Any] = [None] * len(items)
        produced = [False] * len(items)
        gate = asyncio.Semaphore(fields.concurrency)

        async def one(index: int, item: Any) -> None:
            async with gate:
                try:
                    outcome = await run_subgraph("item", item)
                except NodeError as exc:
                    raise NodeError(f"item {index}: {exc}", field=exc.field) from None
            leaves = getattr(outcome, "leaves", None)
            produced[index] = bool(leaves) if leaves is not None else outcome is not None
            results[index] = getattr(outcome, "value", outcome)

        tasks = [asyncio.ensure_future(one(index, item)) for index, item in enumerate(items)]
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                failed = next(
                    (t for t in tasks if t.done() and not t.cancelled() and t.exception()), None
                )
                if failed is not None:
                    raise failed.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        done = [value for value, ok in zip(results, produced, strict=True) if ok]
        ctx.log("info", f"looped over {len(items)} items, {len(done)} results")
        return {"done": done}


class SubworkflowFields(BaseModel):
    """Fields of the Run sub-workflow node."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, description="The stored workflow to run, by id or by name.")
    input: Any = Field(
        default=None,
        description="The sub-workflow's input; empty means this node's input.",
        json_schema_extra={"widget": "json"},
    )
    max_depth: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Fail instead of nesting sub-workflows deeper than this (recursion guard).",
    )


@register_node
class SubworkflowNode(NodeType):
    """Runs another stored workflow with an input and outputs its result."""

    key: ClassVar[str] = "subworkflow"
    title: ClassVar[str] = "Run sub-workflow"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "workflow"
    description: ClassVar[str] = (
        "Runs another workflow (by id or name) with this node's input and outputs its result."
    )
    Fields: ClassVar[type[BaseModel]] = SubworkflowFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Check the depth limit, then run the workflow through the engine."""
        fields: SubworkflowFields = ctx.fields  # type: ignore[assignment]
        run_workflow = require_service(ctx, "run_workflow", "Run sub-workflow")
        depth = service(ctx, "depth") or 0
        if depth >= fields.max_depth:
            raise NodeError(
                f"sub-workflow {fields.workflow!r} not started: nesting depth {depth + 1} "
                f"exceeds max_depth {fields.max_depth} (does a workflow call itself?)",
                field="max_depth",
            )
        payload = fields.input if fields.input is not None else ctx.input
        result = await maybe_await(run_workflow(fields.workflow, payload))
        return {"output": result}
