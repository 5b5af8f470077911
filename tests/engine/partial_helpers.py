"""Node types for pinned-data and partial-run tests: each records every call of its ``run``."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from engine.helpers import make_registry as base_registry
from glyphic_desktop.nodes.base import NodeContext, NodeType, PortSpec
from glyphic_desktop.nodes.registry import NodeRegistry

#: Node ids in the order their ``run`` was called (cleared by :func:`make_registry`).
CALLS: list[str] = []


class StepFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: int = 1


class Step(NodeType):
    """``{"n": input.n + add, "path": [... node ids]}``; records its call."""

    key: ClassVar[str] = "p.step"
    title: ClassVar[str] = "Step"
    category: ClassVar[str] = "Data"
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input"), PortSpec("other"))
    Fields: ClassVar[type[BaseModel]] = StepFields

    async def run(self, ctx: NodeContext) -> dict[str, Any]:
        CALLS.append(ctx.node.id)
        base = ctx.input if isinstance(ctx.input, dict) else {}
        return {
            "output": {
                "n": base.get("n", 0) + ctx.fields.add,
                "path": [*base.get("path", []), ctx.node.id],
                "other": ctx.inputs.get("other"),
            }
        }


class Source(NodeType):
    """A start node that outputs the run's input (or ``{"n": 0}``); records its call."""

    key: ClassVar[str] = "p.source"
    title: ClassVar[str] = "Source"
    category: ClassVar[str] = "Triggers"
    inputs: ClassVar[tuple[PortSpec, ...]] = ()
    is_trigger: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> dict[str, Any]:
        CALLS.append(ctx.node.id)
        return {"output": ctx.run_input if ctx.run_input is not None else {"n": 0}}


class LimitFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 1
    enabled: bool = True
    mode: Literal["first", "last"] = "first"


class Limit(NodeType):
    """Keeps ``count`` items of a list input (number, boolean and choice fields)."""

    key: ClassVar[str] = "p.limit"
    title: ClassVar[str] = "Limit"
    category: ClassVar[str] = "Data"
    Fields: ClassVar[type[BaseModel]] = LimitFields

    async def run(self, ctx: NodeContext) -> dict[str, Any]:
        CALLS.append(ctx.node.id)
        items = list(ctx.input or [])
        fields: LimitFields = ctx.fields  # type: ignore[assignment]
        if not fields.enabled:
            return {"output": items}
        kept = items[: fields.count] if fields.mode == "first" else items[-fields.count :]
        return {"output": kept}


def make_registry() -> NodeRegistry:
    """The engine test types plus these (and a clean call list)."""
    CALLS.clear()
    registry = base_registry()
    for cls in (Step, Source, Limit):
        registry.register(cls)
    return registry
