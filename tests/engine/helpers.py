"""Test-only node types and a small document builder (no dependency on the built-in catalog)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from pydantic import BaseModel, ConfigDict
from support.documents import edge_dicts

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.registry import NodeRegistry

# Shared by tests that need to see what nodes did (reset by make_registry()).
STATE: dict[str, Any] = {}


class Start(NodeType):
    key = "t.start"
    title = "Start"
    category = "Triggers"
    inputs = ()
    is_trigger = True

    async def run(self, ctx: NodeContext):
        return {"output": ctx.run_input}


class SetFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = {}


class SetNode(NodeType):
    key = "t.set"
    title = "Set"
    category = "Data"
    Fields = SetFields

    async def run(self, ctx: NodeContext):
        base = ctx.input if isinstance(ctx.input, dict) else {}
        return {"output": {**base, **ctx.fields.values}}


class EchoFields(BaseModel):
    value: Any = None


class Echo(NodeType):
    key = "t.echo"
    title = "Echo"
    category = "Data"
    Fields = EchoFields

    async def run(self, ctx: NodeContext):
        return {"output": ctx.fields.value}


class Collect(NodeType):
    key = "t.collect"
    title = "Collect"
    category = "Data"
    inputs = (PortSpec("input"), PortSpec("other"))

    async def run(self, ctx: NodeContext):
        STATE.setdefault("collected", {})[ctx.node.id] = dict(ctx.inputs)
        return {"output": dict(ctx.inputs)}


class IfFields(BaseModel):
    condition: bool


class If(NodeType):
    key = "t.if"
    title = "If"
    category = "Flow"
    outputs = (PortSpec("true"), PortSpec("false"))
    Fields = IfFields

    async def run(self, ctx: NodeContext):
        return {"true" if ctx.fields.condition else "false": ctx.input}


class Merge(NodeType):
    key = "t.merge"
    title = "Merge"
    category = "Flow"
    inputs = (PortSpec("a"), PortSpec("b"))
    runs_on_partial_skip = True

    async def run(self, ctx: NodeContext):
        return {"output": dict(ctx.inputs)}


class SleepFields(BaseModel):
    seconds: float = 0.05


class Sleep(NodeType):
    key = "t.sleep"
    title = "Sleep"
    category = "Flow"
    Fields = SleepFields

    async def run(self, ctx: NodeContext):
        active = STATE.setdefault("active", [0])
        active[0] += 1
        STATE.setdefault("peak", [0])
        STATE["peak"][0] = max(STATE["peak"][0], active[0])
        try:
            await asyncio.sleep(ctx.fields.seconds)
        finally:
            active[0] -= 1
        STATE.setdefault("order", []).append(ctx.node.id)
        return {"output": ctx.input}


class FailFields(BaseModel):
    failures: int = 1_000_000
    message: str = "boom"


class Fail(NodeType):
    key = "t.fail"
    title = "Fail"
    category = "Flow"
    Fields = FailFields

    async def run(self, ctx: NodeContext):
        attempts = STATE.setdefault("attempts", {})
        attempts.setdefault(ctx.node.id, []).append(time.monotonic())
        if len(attempts[ctx.node.id]) <= ctx.fields.failures:
            raise NodeError(ctx.fields.message)
        return {"output": {"ok": True, "attempt": len(attempts[ctx.node.id])}}


class Crash(NodeType):
    key = "t.crash"
    title = "Crash"
    category = "Flow"

    async def run(self, ctx: NodeContext):
        return {"output": 1 / 0}


class Proc(NodeType):
    key = "t.proc"
    title = "Process"
    category = "Data"

    async def run(self, ctx: NodeContext):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(60)"
        )
        ctx.services.track_process(proc)
        STATE.setdefault("pids", []).append(proc.pid)
        await proc.wait()
        return {"output": proc.returncode}


class LogNode(NodeType):
    key = "t.log"
    title = "Log"
    category = "Data"

    async def run(self, ctx: NodeContext):
        ctx.log("info", f"got {ctx.input!r}", {"value": ctx.input})
        ctx.log("warning", "careful")
        return {"output": ctx.input}


class LoopFields(BaseModel):
    concurrency: int = 1


class Loop(NodeType):
    key = "t.loop"
    title = "Loop"
    category = "Flow"
    outputs = (PortSpec("item"), PortSpec("done"))
    body_ports = ("item",)
    Fields = LoopFields

    async def run(self, ctx: NodeContext):
        sem = asyncio.Semaphore(ctx.fields.concurrency)

        async def one(item):
            async with sem:
                return (await ctx.services.run_subgraph("item", item)).value

        results = await asyncio.gather(*(one(i) for i in ctx.input or []))
        return {"done": list(results)}


class SubFields(BaseModel):
    workflow: Any = None


class Sub(NodeType):
    key = "t.sub"
    title = "Sub-workflow"
    category = "Flow"
    Fields = SubFields

    async def run(self, ctx: NodeContext):
        return {"output": await ctx.services.run_workflow(ctx.fields.workflow, ctx.input)}


class NeedsCred(NodeType):
    key = "t.cred"
    title = "Needs credential"
    category = "Integrations"
    credential_type = "token"

    async def run(self, ctx: NodeContext):
        return {"output": dict(ctx.credential or {})}


class Typed(NodeType):
    key = "t.typed"
    title = "Typed"
    category = "Data"
    inputs = (PortSpec("text", "string", required=True),)
    outputs = (PortSpec("number", "number"),)

    async def run(self, ctx: NodeContext):
        return {"number": len(ctx.inputs["text"])}


ALL = (
    Start,
    SetNode,
    Echo,
    Collect,
    If,
    Merge,
    Sleep,
    Fail,
    Crash,
    Proc,
    LogNode,
    Loop,
    Sub,
    NeedsCred,
    Typed,
)


def make_registry() -> NodeRegistry:
    """A fresh registry of the test node types (and a clean STATE)."""
    STATE.clear()
    registry = NodeRegistry()
    for cls in ALL:
        registry.register(cls)
    return registry


def doc(nodes: list[Any], edges: list[Any] = (), config: dict | None = None) -> WorkflowDocument:
    """A document from ``(id, type, fields, data-extra)`` tuples and ``"a:port->b:port"`` edges."""
    node_dicts = []
    for entry in nodes:
        node_id, node_type, *rest = entry
        fields = rest[0] if rest else {}
        extra = rest[1] if len(rest) > 1 else {}
        node_dicts.append(
            {
                "id": node_id,
                "type": node_type,
                "data": {"label": extra.pop("label", ""), "fields": fields, **extra},
            }
        )
    return WorkflowDocument.model_validate(
        {"nodes": node_dicts, "edges": edge_dicts(edges), "config": config or {}}
    )


class Recorder:
    """A listener keeping every event."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    def kinds(self, node_id: str | None = None) -> list[str]:
        return [
            e.kind for e in self.events if node_id is None or getattr(e, "node_id", None) == node_id
        ]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.kind == kind]


def plugin(registry: NodeRegistry) -> tuple[type[NodeType], ...]:
    """Entry-point callable (``glyphic.nodes``) used by the CLI tests' plugin."""
    return ALL


def run(document: WorkflowDocument, registry: NodeRegistry, **options: Any):
    """Run ``document`` with the executor (no database) and return the outcome."""
    from glyphic_desktop.engine.executor import execute

    return asyncio.run(execute(document, registry, **options))
