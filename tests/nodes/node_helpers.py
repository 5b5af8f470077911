"""Running one node directly, as the engine would: a validated NodeContext and a fresh loop."""

from __future__ import annotations

import asyncio
from typing import Any

from support.documents import edge_dicts

from glyphic_desktop.document.model import Node, NodeData, WorkflowDocument
from glyphic_desktop.engine.events import LogLine, NodeFinished, NodeOutput, NodeSkipped
from glyphic_desktop.engine.executor import Executor
from glyphic_desktop.engine.preflight import PreflightFailed, preflight
from glyphic_desktop.nodes.base import NodeContext, NodeType
from glyphic_desktop.nodes.registry import default_registry

SLACK_TOKEN = "xoxb-test-token-123"
GITHUB_TOKEN = "ghp_testtoken456"


class NodeRun:
    """The outcome of running one node directly: its outputs and its log lines."""

    def __init__(self, outputs: Any, logs: list[tuple[str, str, Any]]) -> None:
        self.outputs = outputs
        self.logs = logs

    @property
    def output(self) -> Any:
        """The value on the ``output`` port."""
        return self.outputs["output"]

    def messages(self, level: str | None = None) -> list[str]:
        """Log messages (of one level when given)."""
        return [m for lv, m, _ in self.logs if level is None or lv == level]


def make_context(
    cls: type[NodeType],
    fields: dict[str, Any] | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    credential: dict[str, Any] | None = None,
    services: Any = None,
    run_input: Any = None,
    trigger_data: Any = None,
    trigger: str = "manual",
    logs: list[tuple[str, str, Any]] | None = None,
) -> NodeContext:
    """A NodeContext for ``cls`` with validated ``fields`` (as the engine would build it)."""
    fields = fields or {}
    model = cls.Fields.model_validate(fields)
    node = Node(id="n1", type=cls.key, data=NodeData(label=f"Test {cls.title}", fields=fields))
    sink = logs if logs is not None else []
    return NodeContext(
        node=node,
        fields=model,
        inputs=inputs or {},
        log=lambda level, message, data=None: sink.append((level, message, data)),
        credential=credential,
        services=services,
        run_input=run_input,
        trigger_data=trigger_data,
        trigger=trigger,
    )


def run_node(cls: type[NodeType], fields: dict[str, Any] | None = None, **kwargs: Any) -> NodeRun:
    """Run one node's ``run`` in a fresh event loop and return outputs + logs."""
    logs: list[tuple[str, str, Any]] = []
    ctx = make_context(cls, fields, logs=logs, **kwargs)
    outputs = asyncio.run(cls().run(ctx))
    return NodeRun(outputs, logs)


# -- whole workflows -----------------------------------------------------------------------


def workflow(
    nodes: list[dict[str, Any]], edges: list[str], *, config: dict[str, Any] | None = None
) -> WorkflowDocument:
    """A document from compact specs, ports declared from the registry.

    ``nodes``: ``{"id", "type", "label"?, "fields"?, "pos"?, "data"?}`` (``data`` holds
    engine settings such as ``onError``); ``edges``: ``"a:port -> b:port"`` (ports default
    to ``output`` / ``input``).
    """
    registry = default_registry()
    doc_nodes = []
    for index, spec in enumerate(nodes):
        cls = registry.get(spec["type"])
        assert cls is not None, spec["type"]
        doc_nodes.append(
            {
                "id": spec["id"],
                "type": spec["type"],
                "pos": spec.get("pos", [80 + 300 * index, 120]),
                "data": {
                    "label": spec.get("label", cls.title),
                    "nodeType": spec["type"],
                    "fields": spec.get("fields", {}),
                    **spec.get("data", {}),
                },
                "inputs": [{"name": p.name, "type": p.type} for p in cls.inputs],
                "outputs": [{"name": p.name, "type": p.type} for p in cls.outputs],
            }
        )
    types = {n["id"]: registry.get(n["type"]) for n in doc_nodes}
    doc_edges = edge_dicts(edges)
    for edge in doc_edges:
        port = types[edge["source"]].output_port(edge["sourceHandle"])
        edge["type"] = port.type if port else "any"
    return WorkflowDocument.model_validate(
        {
            "last_node_id": len(doc_nodes),
            "last_link_id": len(doc_edges),
            "nodes": doc_nodes,
            "edges": doc_edges,
            "config": config or {},
        }
    )


class StaticCredentials:
    """A credential store stand-in for executor-level tests: fields by integrationId or name.

    (Runs recorded in the database use the real encrypted store instead.)
    """

    def __init__(self, by_key: dict[str, dict[str, Any]]) -> None:
        self.by_key = by_key

    @staticmethod
    def _key(binding: Any) -> str | None:
        binding = binding or {}
        return binding.get("integrationId") or (binding.get("integration") or {}).get("name")

    def problem(self, binding: Any, credential_type: str) -> str | None:
        """None when the binding names a known credential."""
        key = self._key(binding)
        return None if key in self.by_key else f"no {credential_type} credential named {key!r}"

    def load(self, binding: Any, credential_type: str) -> dict[str, Any]:
        """The credential's fields."""
        return self.by_key[self._key(binding)]


class WorkflowRun:
    """The outcome of a workflow run plus every event it emitted."""

    def __init__(self, outcome: Any, events: list[Any]) -> None:
        self.outcome = outcome
        self.events = events

    @property
    def status(self) -> str:
        """completed / failed / cancelled."""
        return self.outcome.status

    @property
    def error(self) -> str | None:
        """The run's error message."""
        return self.outcome.error

    def output(self, node_id: str, port: str = "output") -> Any:
        """What ``node_id`` sent out on ``port`` (from its NodeOutput event)."""
        for event in self.events:
            if isinstance(event, NodeOutput) and event.node_id == node_id:
                return event.outputs[port]
        raise KeyError(f"{node_id} produced no output")

    def ran(self, node_id: str) -> bool:
        """Whether ``node_id`` finished."""
        return any(isinstance(e, NodeFinished) and e.node_id == node_id for e in self.events)

    def skipped(self, node_id: str) -> bool:
        """Whether ``node_id`` was skipped."""
        return any(isinstance(e, NodeSkipped) and e.node_id == node_id for e in self.events)

    def logs(self, node_id: str | None = None, level: str | None = None) -> list[str]:
        """Log messages (of one node / level when given)."""
        return [
            e.message
            for e in self.events
            if isinstance(e, LogLine)
            and (node_id is None or e.node_id == node_id)
            and (level is None or e.level == level)
        ]


def execute_doc(
    document: WorkflowDocument,
    *,
    run_input: Any = None,
    cancel_after: float | None = None,
    **options: Any,
) -> WorkflowRun:
    """Preflight ``document`` (problems raise) and run it with the real executor."""
    registry = default_registry()
    problems = preflight(document, registry, credential_resolver=options.get("credentials"))
    if problems:
        raise PreflightFailed(problems)
    events: list[Any] = []
    executor = Executor(
        document, registry, listeners=[events.append], run_input=run_input, **options
    )

    async def go() -> Any:
        if cancel_after is None:
            return await executor.run()
        task = asyncio.create_task(executor.run())
        await asyncio.sleep(cancel_after)
        executor.cancel()
        return await task

    return WorkflowRun(asyncio.run(go()), events)
