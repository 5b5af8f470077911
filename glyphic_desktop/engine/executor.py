"""The asyncio executor: runs a (preflighted) workflow document node by node.

This docstring is the one place that says how data and skips move through a graph.

**When a node runs.** A node runs once every edge entering it has delivered: either a
value or a *skip*. A node with no incoming edge (a trigger, or any other start node)
runs at once. Independent branches run concurrently, at most ``concurrency`` node
``run`` calls at a time (workflow ``config.concurrency``, default 8).

**What a node receives** (``ctx.inputs``, by input port name):

- one edge into a port: the value that edge carried;
- several edges into one port: a *list* of the values, in edge-id order (the order the
  edges were drawn), whatever arrived; edges whose source was skipped are left out of
  the list. The port is a list as soon as several edges are connected, even when only
  one of them delivered, so a node always sees the same shape;
- a port with no edge is absent from ``ctx.inputs``.

``ctx.run_input`` is the run's input (``glyphic run --input``, a webhook request, a
schedule's data); in expressions, ``input`` is the ``input`` port's value, or the run's
input for a node without incoming edges.

**Skips.** An output port left out of the mapping ``run`` returns is *not taken*: every
edge leaving it carries a skip. A port all of whose edges carried a skip is *skipped*.
A normal node with a skipped input port is skipped, and its own outputs all carry skips
(so skipping propagates down the branch). A Merge-like node (``runs_on_partial_skip =
True``) runs when at least one input port received a value, the skipped ports simply
absent from ``ctx.inputs``; it is skipped only when all its ports were skipped. So the
two branches of an If can meet again either in one input port (which then holds a
one-element list) or in a Merge.

**Per-node settings** (``node.data``):

- ``disabled``: ``run`` is not called; the ``input`` port's value (or the first input
  present, or the run's input for a start node) goes out on the primary output
  (``output``, else the first declared output); other outputs are not taken.
- ``retries`` / ``retryDelay``: a failed ``run`` is tried again up to ``retries`` more
  times, waiting ``retryDelay * 2**(attempt-1)`` seconds (capped at 300 s) in between.
  Expression and field errors are not retried (they would fail the same way).
- ``timeout``: seconds per attempt; an attempt over time is cancelled and fails with
  "timed out after N s" (and its tracked child processes are killed). Rendering the
  node's expressions is bounded by it too, or by the workflow's expression budget
  (``config.expressionTimeout``, default 2 s) when that is shorter; expressions beyond
  lookups, operators and a few O(1) filters render on a worker thread, so a busy one
  never blocks the loop and cancelling the run stops it (``engine/expressions.py``).
- ``onError``: ``stop`` (default) fails the run, cancelling what is still running;
  ``continue`` sends the error as data (``{"error": {"message", "type", "node",
  "label"}}``) out on the primary output so the nodes behind it run; ``error_output``
  sends that error object out on the node's ``error`` output (every type has one) and
  takes no other output.

**Cancellation** (:meth:`Executor.cancel`, thread-safe, or a ``cancel_event`` with
``is_set()``, polled every 50 ms): every running node is cancelled at once and every
tracked child process (``ctx.services.track_process``) and its children are killed;
the run ends as ``cancelled`` within a second. Processes still alive when the run ends
are killed too.

**Bodies and sub-workflows.** A node type with ``body_ports`` (Loop over items) owns the
nodes reachable from those outputs; the engine does not run them on its own. Each
``await ctx.services.run_subgraph(port, value)`` runs that body once, with ``value``
leaving ``port``; edges into the body from nodes outside it deliver those nodes'
outputs (or a skip when they have not run). A body's result is the primary output of
its leaf nodes (see :class:`~glyphic_desktop.nodes.base.SubgraphResult`). A failed body
node with ``onError: stop`` fails the ``run_subgraph`` call (so the loop node fails
with that message, unless its own ``onError`` says otherwise).
``ctx.services.run_workflow(ref, input)`` preflights and runs another workflow in the
same run (its node events appear with node ids ``"<caller id>/<node id>"``), up to
``max_depth`` levels deep. A node that waits in ``run_subgraph`` or ``run_workflow``
gives its concurrency slot back while it waits, so nested bodies cannot deadlock.

**Produced files.** ``ctx.services.record_file(path, mime_type, size)`` notes a file a
node wrote (Write file, an HTTP download, a Code node's bytes) in ``Executor.files``
(shared with sub-workflows); ``engine/runner.py`` stores them as ``files`` rows with the
execution when the run finishes, whatever its status.

**Pinned data and partial runs.** A node with ``data.pinnedData`` (``{port: value}``) is
reached like any other (it waits for its inputs; a skipped input skips it), but its
``run`` is never called: its pinned outputs flow on (ports left out are not taken). A
partial run (``Executor(..., only=..., start_outputs=..., start_inputs=...)``, planned by
``engine/partial.py``) compiles only the nodes it needs: ``start_outputs`` nodes act
like pinned ones and start at once, ``start_inputs`` nodes start with the inputs given.
Every node reached emits ``node_inputs`` (with its ``origin``: run / pinned / reused)
before it runs; ``RunOutcome.nodes_reused`` counts the nodes whose run was not called.

Costs stay per node: no per-node scan of the graph, no copy of outputs (listeners and
later nodes see the same objects: nodes must not mutate their inputs), no recursion
proportional to the graph's size. Outputs of nodes nothing can look up again (no
expression mentions ``nodes``; not a leaf) are dropped as soon as they are delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import traceback
from collections import ChainMap
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from glyphic_desktop.engine.events import (
    EventBus,
    LogLine,
    NodeFailed,
    NodeFinished,
    NodeInputs,
    NodeOutput,
    NodeSkipped,
    NodeStarted,
    RunEvent,
    RunFinished,
    RunStarted,
)
from glyphic_desktop.engine.expressions import (
    ExpressionError,
    NodesView,
    has_expression,
    iter_expressions,
    needs_thread,
    render_fields,
    render_fields_async,
)
from glyphic_desktop.engine.field_check import rendered_fields_message
from glyphic_desktop.engine.limits import ExpressionLimits, MoveOffLoop
from glyphic_desktop.engine.preflight import resolve_type
from glyphic_desktop.nodes.base import ERROR_PORT, NodeContext, NodeError, SubgraphResult
from glyphic_desktop.nodes.suspend import RunSuspended

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node, WorkflowDocument
    from glyphic_desktop.nodes.base import NodeType
    from glyphic_desktop.nodes.registry import NodeRegistry

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_DEPTH = 10
MAX_RETRY_DELAY = 300.0
_YIELD_EVERY = 64  # inline continuations before giving the event loop a turn


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


class _FieldsError(NodeError):
    """Fields failing the type's model after rendering (not retried)."""


class _StopScope(Exception):
    """Raised inside a driver once its scope has failed (the failure is already recorded)."""


@dataclass(slots=True)
class Failure:
    """Why a run (or a body) stopped."""

    message: str
    stack: str | None = None
    node_id: str | None = None


@dataclass(slots=True)
class ProducedFile:
    """A file a node produced during the run (``ctx.services.record_file``)."""

    path: str  # absolute
    mime_type: str | None = None
    size: int | None = None
    node_id: str | None = None
    node_type: str | None = None
    node_label: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when recorded

    def as_row(self) -> dict[str, Any]:
        """The ``FileRepository.record_many`` spec of this file."""
        return {
            "path": self.path,
            "created_at": self.created_at,
            "mime_type": self.mime_type,
            "size_bytes": self.size,
            "metadata": {
                "node_id": self.node_id,
                "node_type": self.node_type,
                "node_label": self.node_label,
            },
        }


@dataclass(slots=True)
class RunOutcome:
    """What :meth:`Executor.run` returns."""

    status: str  # completed / failed / cancelled
    error: str | None = None
    error_stack: str | None = None
    error_node: str | None = None
    result: Any = None
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    leaves: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    nodes_run: int = 0
    nodes_skipped: int = 0
    nodes_failed: int = 0
    nodes_reused: int = 0  # pinned, or outputs re-used by a partial run: not run

    def __repr__(self) -> str:  # never format the outputs (they may be huge)
        return (
            f"RunOutcome(status={self.status!r}, error={self.error!r}, "
            f"nodes_run={self.nodes_run}, nodes_skipped={self.nodes_skipped}, "
            f"nodes_failed={self.nodes_failed}, duration_ms={self.duration_ms:.1f})"
        )


# --------------------------------------------------------------------------- plan


_TYPE_FACTS: dict[type, tuple[str | None, bool, frozenset[str]]] = {}


class _NodePlan:
    """Everything about one node that does not change between runs."""

    __slots__ = (
        "binding",
        "cls",
        "credential_type",
        "disabled",
        "external_in",
        "fed",
        "fields",
        "given",
        "has_expr",
        "has_input_port",
        "heavy",
        "id",
        "impl",
        "in_ports",
        "is_leaf",
        "keep",
        "key",
        "label",
        "multi",
        "n_in",
        "node",
        "on_error",
        "origin",
        "out",
        "out_names",
        "owner",
        "partial",
        "pos",
        "primary",
        "retries",
        "retry_delay",
        "static",
        "static_error",
        "timeout",
        "unused_with",
    )

    def __init__(
        self,
        node: Node,
        cls: type[NodeType],
        impl: NodeType,
        validated: BaseModel | None = None,
    ) -> None:
        data = node.data
        self.node = node
        self.id = node.id
        self.label = node.label
        self.cls = cls
        self.key = cls.key
        self.impl = impl
        self.fields = data.fields
        self.has_expr = has_expression(data.fields)
        # expressions beyond lookups and operators render on a worker thread
        self.heavy = self.has_expr and needs_thread(data.fields)
        self.static: BaseModel | None = None
        self.static_error: NodeError | None = None
        self.disabled = data.disabled
        self.retries = data.retries
        self.retry_delay = data.retryDelay
        self.timeout = data.timeout
        self.on_error = data.onError
        # Pinned data (or, in a partial run, outputs re-used from an earlier run) stands
        # in for the node's run; ``fed`` are the inputs a partial run starts it with.
        self.given: Mapping[str, Any] | None = data.pinnedData
        self.origin = "run" if self.given is None else "pinned"
        self.fed: dict[str, Any] | None = None
        facts = _TYPE_FACTS.get(cls)
        if facts is None:
            facts = _TYPE_FACTS[cls] = (
                cls.primary_output(),
                cls.input_port("input") is not None,
                frozenset([p.name for p in cls.outputs] + [ERROR_PORT]),
            )
        self.primary, self.has_input_port, self.out_names = facts
        self.partial = cls.runs_on_partial_skip
        # Inputs that, when they receive a value, make the fields unused (If's condition).
        self.unused_with = frozenset(getattr(cls, "fields_unused_with", ()))
        self.credential_type = cls.credential_type
        optional_types = getattr(cls, "credential_types", ())  # optional, any of (HTTP request)
        if not self.credential_type and optional_types and data.credential:
            ref = (data.credential.get("integration") or {}).get("type")
            self.credential_type = ref if ref in optional_types else optional_types[0]
        self.binding = data.credential
        self.in_ports: dict[str, int] = {}
        self.multi: frozenset[str] = frozenset()
        self.n_in = 0
        self.out: dict[str, list[tuple[_NodePlan, str, int, bool]]] = {}
        self.external_in: list[tuple[str, str, str, int, bool]] = []
        self.owner: tuple[str, str] | None = None
        self.pos = 0
        self.is_leaf = True
        self.keep = False
        if not self.has_expr and isinstance(validated, cls.Fields):
            self.static = validated
        elif not self.has_expr:
            try:
                self.static = cls.Fields.model_validate(data.fields)
            except ValidationError as exc:
                self.static_error = _FieldsError(_validation_message(exc))


class _ScopePlan:
    """The nodes one scope runs: the whole workflow, or one body."""

    __slots__ = ("external", "key", "leaves", "n_in", "nodes", "roots")

    def __init__(self, key: tuple[str, str] | None) -> None:
        self.key = key
        self.nodes: list[_NodePlan] = []
        self.roots: list[_NodePlan] = []
        self.leaves: list[_NodePlan] = []
        self.n_in: list[int] = []
        # (target, port, position, multi, source id, source port) for edges from outside
        self.external: list[tuple[_NodePlan, str, int, bool, str, str]] = []


class Plan:
    """A document compiled for execution (build once, run many times).

    A *partial* plan (any of ``only``, ``start_outputs``, ``start_inputs`` given) compiles
    just the part of the document a partial run needs (see ``engine/partial.py``):

    - ``only``: the nodes that run (None: every node not in ``start_outputs``);
    - ``start_outputs``: ``{node_id: {port: value}}``, nodes whose outputs are known (a
      recorded run's, or pinned data): they do not run and their outputs flow on; the
      edges into them are ignored. A node outside ``only`` with an edge into it becomes
      such a node with no output (its edges carry a skip);
    - ``start_inputs``: ``{node_id: {port: value}}``, nodes that start with these inputs
      (the ones they received in a recorded run) instead of waiting for their edges.
    """

    def __init__(
        self,
        document: WorkflowDocument,
        registry: NodeRegistry,
        validated: Mapping[str, BaseModel] | None = None,
        *,
        only: Collection[str] | None = None,
        start_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        start_inputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Compile ``document``; ``validated`` are field models preflight already built."""
        self.document = document
        self.partial = only is not None or bool(start_outputs) or bool(start_inputs)
        starts: dict[str, Mapping[str, Any]] = {}
        if self.partial:
            from glyphic_desktop.engine.partial import restrict_document

            document, starts = restrict_document(
                document, only=only, start_outputs=start_outputs, start_inputs=start_inputs
            )
        validated = validated or {}
        self.nodes: list[_NodePlan] = []
        self.by_id: dict[str, _NodePlan] = {}
        self.by_label: dict[str, str] = {}
        for node in document.nodes:
            cls = resolve_type(registry, node)
            if cls is None:
                raise NodeError(f"{node.describe()}: unknown node type {node.type!r}")
            plan = _NodePlan(node, cls, registry.instance(cls), validated.get(node.id))
            self.nodes.append(plan)
            self.by_id[node.id] = plan
            if node.data.label:
                self.by_label.setdefault(node.data.label, node.id)
        config = document.config or {}
        self.uses_nodes = any(
            "nodes" in text
            for n in self.nodes
            if n.has_expr
            for _, text in iter_expressions(n.fields, "")
        )
        edges = sorted(document.edges, key=lambda e: e.id)
        for edge in edges:
            source = self.by_id.get(edge.source)
            target = self.by_id.get(edge.target)
            if source is None or target is None:
                raise NodeError(f"edge {edge.id} is dangling")
            target.in_ports[edge.targetHandle] = target.in_ports.get(edge.targetHandle, 0) + 1
            target.n_in += 1
        self._assign_owners(edges)
        positions: dict[str, dict[str, int]] = {}
        for edge in edges:
            source = self.by_id[edge.source]
            target = self.by_id[edge.target]
            port = edge.targetHandle
            multi = target.in_ports[port] > 1
            counter = positions.setdefault(target.id, {})
            pos = counter.get(port, 0)
            counter[port] = pos + 1
            if source.owner == target.owner:
                source.out.setdefault(edge.sourceHandle, []).append((target, port, pos, multi))
                source.is_leaf = False
            else:
                target.external_in.append((edge.source, edge.sourceHandle, port, pos, multi))
                source.keep = True
        self.scopes: dict[tuple[str, str] | None, _ScopePlan] = {}
        for plan in self.nodes:
            plan.multi = frozenset(p for p, count in plan.in_ports.items() if count > 1)
            scope = self.scopes.get(plan.owner)
            if scope is None:
                scope = self.scopes[plan.owner] = _ScopePlan(plan.owner)
            plan.pos = len(scope.nodes)
            scope.nodes.append(plan)
            scope.n_in.append(plan.n_in)
            if plan.n_in == 0:
                scope.roots.append(plan)
            if plan.is_leaf:
                scope.leaves.append(plan)
                plan.keep = True
            if self.uses_nodes:
                plan.keep = True
            for source_id, source_port, port, pos, multi in plan.external_in:
                scope.external.append((plan, port, pos, multi, source_id, source_port))
        self.scopes.setdefault(None, _ScopePlan(None))
        for node_id, outs in starts.items():
            plan = self.by_id[node_id]
            plan.origin = "pinned" if plan.given is not None else "reused"
            plan.given = outs if plan.given is None else plan.given
        for node_id, values in (start_inputs or {}).items():
            if node_id in self.by_id:
                self.by_id[node_id].fed = dict(values)
        self.concurrency = _int_setting(config.get("concurrency"), DEFAULT_CONCURRENCY)
        self.expression_limits = ExpressionLimits.from_config(config)
        allowed = config.get("allowedEnv") or []
        self.allowed_env = [name for name in allowed if isinstance(name, str)]

    def _assign_owners(self, edges: list[Any]) -> None:
        """Give each node inside a body the innermost body (loop id, port) that holds it."""
        succ: dict[str, list[str]] = {}
        starts: dict[tuple[str, str], list[str]] = {}
        body_ports = {n.id: set(n.cls.body_ports) for n in self.nodes if n.cls.body_ports}
        for edge in edges:
            succ.setdefault(edge.source, []).append(edge.target)
            if edge.sourceHandle in body_ports.get(edge.source, ()):
                starts.setdefault((edge.source, edge.sourceHandle), []).append(edge.target)
        if not starts:
            return
        members: dict[tuple[str, str], set[str]] = {}
        for key, first in starts.items():
            seen: set[str] = set()
            stack = list(first)
            while stack:
                node_id = stack.pop()
                if node_id in seen or node_id == key[0]:
                    continue
                seen.add(node_id)
                stack.extend(succ.get(node_id, ()))
            members[key] = seen
        for key in sorted(members, key=lambda k: -len(members[k])):
            for node_id in members[key]:
                self.by_id[node_id].owner = key  # smaller (inner) bodies overwrite


def _int_setting(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error.get("loc", ())) or "(fields)"
        if error.get("type") == "missing":
            parts.append(f"field {loc!r} is required")
        else:
            parts.append(f"field {loc!r}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def error_text(exc: BaseException) -> str:
    """The user-facing text of a node's exception."""
    if isinstance(exc, NodeError):
        return str(exc) or exc.__class__.__name__
    message = str(exc)
    return f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__


def kill_process_tree(proc: Any) -> None:
    """Kill a tracked process (and its children) unless it already exited."""
    import psutil

    if isinstance(proc, int):
        pid = proc
    else:
        if getattr(proc, "returncode", None) is not None:  # asyncio / Popen (after poll)
            return
        poll = getattr(proc, "poll", None)
        if callable(poll) and poll() is not None:
            return
        if getattr(proc, "exitcode", None) is not None:  # multiprocessing
            return
        pid = getattr(proc, "pid", None)
    if not pid:
        return
    try:
        parent = psutil.Process(pid)
        victims = [*parent.children(recursive=True), parent]
    except psutil.Error:
        return
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.kill()


# --------------------------------------------------------------------------- runtime


class _Scope:
    """The state of one run of a scope plan (the workflow, or one pass of a body)."""

    __slots__ = (
        "done",
        "failure",
        "outputs",
        "parent",
        "plan",
        "remaining",
        "slots",
        "tasks",
        "unresolved",
        "view",
    )

    def __init__(self, plan: _ScopePlan, parent: _Scope | None, executor: Executor) -> None:
        self.plan = plan
        self.parent = parent
        self.remaining = list(plan.n_in)
        self.slots: list[dict[str, Any] | None] = [None] * len(plan.nodes)
        self.unresolved = len(plan.nodes)
        self.outputs: dict[str, Mapping[str, Any]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failure: Failure | None = None
        self.done: asyncio.Future[None] = executor._loop.create_future()
        chain = self.outputs if parent is None else ChainMap(self.outputs, parent.view._outputs)
        self.view = NodesView(chain, executor.plan.by_label)

    def lookup(self, node_id: str) -> Mapping[str, Any] | None:
        return self.view._outputs.get(node_id)

    def finish_one(self) -> None:
        self.unresolved -= 1
        if self.unresolved == 0 and not self.done.done():
            self.done.set_result(None)


class _Services:
    """``ctx.services`` for one attempt of one node."""

    __slots__ = ("_ex", "_node", "_procs", "_scope", "holding")

    def __init__(self, executor: Executor, scope: _Scope, node: _NodePlan) -> None:
        self._ex = executor
        self._scope = scope
        self._node = node
        self._procs: list[Any] | None = None
        self.holding = False

    @property
    def depth(self) -> int:
        return self._ex.depth

    @property
    def max_depth(self) -> int:
        return self._ex.max_depth

    @property
    def cancelled(self) -> bool:
        return self._ex._cancelled

    @property
    def execution_id(self) -> str | None:
        return self._ex.execution_id

    @property
    def workflow_id(self) -> str | None:
        return self._ex.workflow_id

    @property
    def seen_keys(self) -> Any:
        """Keys Remove Duplicates nodes let through in earlier runs of the workflow
        (``store/repositories/dedupe_keys.SeenKeys``): set by the recorded runner, else None."""
        return self._ex.seen_keys

    @property
    def allowed_env(self) -> list[str]:
        """The workflow's ``config.allowedEnv``: variables child processes may inherit."""
        return self._ex.plan.allowed_env

    @property
    def masker(self) -> Any:
        """The run's secret masker (the credential store's), or None."""
        return getattr(self._ex.credentials, "masker", None)

    def track_process(self, proc: Any) -> None:
        """Kill ``proc`` (and its children) if the node fails, times out or is cancelled."""
        if self._procs is None:
            self._procs = []
        self._procs.append(proc)
        self._ex._procs.append(proc)
        if self._ex._cancelled:
            kill_process_tree(proc)

    def kill_processes(self) -> None:
        for proc in self._procs or ():
            kill_process_tree(proc)

    async def _released(self, awaitable: Any) -> Any:
        sem = self._ex._sem
        if self.holding:
            sem.release()
            self.holding = False
        try:
            return await awaitable
        finally:
            await sem.acquire()
            self.holding = True

    async def run_subgraph(self, port: str, value: Any) -> SubgraphResult:
        """Run the body behind output ``port`` once with ``value``."""
        return await self._released(self._ex._run_body(self._scope, self._node, port, value))

    async def run_workflow(self, ref: Any, input: Any = None) -> Any:
        """Run another workflow as a sub-workflow and return its result value."""
        return await self._released(self._ex._run_child(self._node, ref, input))

    def record_file(self, path: Any, mime_type: str | None = None, size: int | None = None) -> None:
        """Record a file this node produced; the runner stores it with the execution.

        ``path`` is made absolute; ``size`` defaults to the size on disk. Recording the
        same path again in one run (a loop rewriting it) keeps one entry, the latest.
        """
        text = os.path.abspath(os.fspath(path))
        if size is None:
            with contextlib.suppress(OSError):
                size = os.stat(text).st_size
        node = self._node
        produced = ProducedFile(text, mime_type, size, node.id, node.key, node.label)
        files = self._ex.files
        for index, earlier in enumerate(files):
            if earlier.path == text:
                del files[index]
                break
        files.append(produced)


class Executor:
    """Runs one workflow document once. Build it, ``await run()``, read the outcome."""

    def __init__(
        self,
        document: WorkflowDocument,
        registry: NodeRegistry,
        *,
        plan: Plan | None = None,
        listeners: list[Callable[[RunEvent], Any]] | tuple[Any, ...] = (),
        bus: EventBus | None = None,
        execution_id: str | None = None,
        workflow_id: str | None = None,
        trigger: str = "manual",
        trigger_data: Any = None,
        run_input: Any = None,
        concurrency: int | None = None,
        credentials: Any = None,
        workflow_loader: Callable[[str], WorkflowDocument] | None = None,
        cancel_event: Any = None,
        depth: int = 0,
        max_depth: int = DEFAULT_MAX_DEPTH,
        semaphore: asyncio.Semaphore | None = None,
        started_at: datetime | None = None,
        files: list[ProducedFile] | None = None,
        only: Collection[str] | None = None,
        start_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        start_inputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``only`` / ``start_outputs`` / ``start_inputs`` make a partial run (see
        :class:`Plan`; ``engine/partial.py`` plans them); give them here or to ``plan``."""
        self.document = document
        #: Files nodes recorded (``ctx.services.record_file``); shared with sub-workflows.
        self.files: list[ProducedFile] = files if files is not None else []
        self.registry = registry
        partial = only is not None or bool(start_outputs) or bool(start_inputs)
        if plan is not None and partial:
            raise ValueError("give the partial run's nodes to the Plan or to the Executor")
        self.plan = plan or Plan(
            document,
            registry,
            only=only,
            start_outputs=start_outputs,
            start_inputs=start_inputs,
        )
        self.bus = bus if bus is not None else EventBus(listeners)
        self.execution_id = execution_id
        self.workflow_id = workflow_id
        #: ``ctx.services.seen_keys`` (the recorded runner sets it; see dedupe_keys.py).
        self.seen_keys: Any = None
        self.trigger = trigger
        self.trigger_data = trigger_data
        self.run_input = run_input
        self.concurrency = concurrency or self.plan.concurrency
        self.credentials = credentials
        self.workflow_loader = workflow_loader
        self.cancel_event = cancel_event
        self.depth = depth
        self.max_depth = max_depth
        self.started_at = started_at or datetime.now(UTC)
        self._sem_given = semaphore
        self._sem: asyncio.Semaphore = semaphore  # type: ignore[assignment]
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._cancelled = False
        # A Wait node's RunSuspended (nodes/suspend.py): (node id, the exception); the
        # outputs of the main scope's nodes so far are kept only when a Wait may suspend.
        self.suspension: tuple[str, Any] | None = None
        self.done_outputs: dict[str, Mapping[str, Any]] | None = None
        self._procs: list[Any] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: _Scope | None = None
        self._credential_cache: dict[str, Mapping[str, Any]] = {}
        self.nodes_run = 0
        self.nodes_skipped = 0
        self.nodes_failed = 0
        self.nodes_reused = 0
        self._execution_info = {
            "id": execution_id,
            "trigger": trigger,
            "started_at": self.started_at.isoformat(),
        }
        self._env = {name: os.environ[name] for name in self.plan.allowed_env if name in os.environ}

    # -- control ---------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the run (thread-safe; returns at once)."""
        loop = self._loop
        if loop is None:
            self._cancelled = True
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: the run is over
            loop.call_soon_threadsafe(self._cancel_now)

    def _cancel_now(self) -> None:
        if self._cancelled and self._main is not None and self._main.done.done():
            return
        self._cancelled = True
        for proc in self._procs:
            kill_process_tree(proc)
        for task in list(self._tasks):
            task.cancel()
        main = self._main
        if main is not None and not main.done.done():
            main.done.set_result(None)

    async def _watch(self, event: Any) -> None:
        if isinstance(event, asyncio.Event):
            await event.wait()
        else:
            while not event.is_set():
                await asyncio.sleep(0.05)
        self._cancel_now()

    # -- the run ---------------------------------------------------------------------

    async def run(self) -> RunOutcome:
        """Run the workflow to its end (completed, failed or cancelled)."""
        self._loop = asyncio.get_running_loop()
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        started = time.perf_counter()
        bus = self.bus
        if bus:
            bus.emit(
                RunStarted(
                    self.execution_id,
                    workflow_id=self.workflow_id,
                    trigger=self.trigger,
                    node_count=len(self.plan.nodes),
                )
            )
        main = self._main = _Scope(self.plan.scopes[None], None, self)
        if any(n.key == "wait" for n in self.plan.nodes):
            self.done_outputs = {}
        watcher = None
        if self.cancel_event is not None:
            watcher = self._loop.create_task(self._watch(self.cancel_event))
        try:
            if self._cancelled:
                self._cancel_now()
            else:
                ready = self._feed(main, [(n, None) for n in main.plan.roots], root=True)
                self._spawn_all(main, ready)
                if main.unresolved == 0 and not main.done.done():
                    main.done.set_result(None)
            await main.done
        except asyncio.CancelledError:
            self._cancel_now()
            await self._cleanup()
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
        await self._cleanup()
        if self.suspension is not None:
            status, failure = "waiting", None
        elif self._cancelled:
            status, failure = "cancelled", Failure("the run was cancelled")
        elif main.failure is not None:
            status, failure = "failed", main.failure
        else:
            status, failure = "completed", None
        leaves = [n.id for n in main.plan.leaves if n.id in main.outputs]
        outcome = RunOutcome(
            status=status,
            error=failure.message if failure else None,
            error_stack=failure.stack if failure else None,
            error_node=failure.node_id if failure else None,
            result=self._result_value(main, leaves),
            outputs=main.outputs,
            leaves=leaves,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            nodes_run=self.nodes_run,
            nodes_skipped=self.nodes_skipped,
            nodes_failed=self.nodes_failed,
            nodes_reused=self.nodes_reused,
        )
        if bus:
            bus.emit(
                RunFinished(
                    self.execution_id,
                    status=status,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
        return outcome

    async def _cleanup(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=0.8)
        for proc in self._procs:
            kill_process_tree(proc)

    def _result_value(self, scope: _Scope, leaves: list[str]) -> Any:
        by_id = self.plan.by_id
        if not leaves:
            return None
        if len(leaves) == 1:
            plan = by_id[leaves[0]]
            return scope.outputs[plan.id].get(plan.primary) if plan.primary else None
        result: dict[str, Any] = {}
        for node_id in leaves:
            plan = by_id[node_id]
            result[plan.label] = scope.outputs[node_id].get(plan.primary) if plan.primary else None
        return result

    # -- scheduling ------------------------------------------------------------------

    def _spawn_all(self, scope: _Scope, ready: list[tuple[_NodePlan, dict[str, Any]]]) -> None:
        for node, inputs in ready:
            task = self._loop.create_task(self._drive(scope, node, inputs))
            self._tasks.add(task)
            scope.tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(scope.tasks.discard)

    def _feed(
        self,
        scope: _Scope,
        items: list[tuple[Any, Any]],
        *,
        root: bool = False,
    ) -> list[tuple[_NodePlan, dict[str, Any]]]:
        """Deliver values/skips and return the nodes that became ready to run.

        ``items`` are ``(node, outputs)`` pairs whose outputs go out on their edges
        (``outputs`` None = every port skipped), or, with ``root``, start nodes.
        Skipped nodes are resolved here, iteratively, and their skips pushed on.
        """
        ready: list[tuple[_NodePlan, dict[str, Any]]] = []
        if root:
            ready = [(node, {} if node.fed is None else dict(node.fed)) for node, _ in items]
            return ready
        remaining = scope.remaining
        all_slots = scope.slots
        bus = self.bus
        stack = items
        while stack:
            source, outs = stack.pop()
            for port, targets in source.out.items():
                value = SKIP if outs is None else outs.get(port, SKIP)
                for target, tport, pos, multi in targets:
                    tpos = target.pos
                    slots = all_slots[tpos]
                    if slots is None:
                        slots = all_slots[tpos] = {}
                    if multi:
                        values = slots.get(tport)
                        if values is None:
                            values = slots[tport] = [SKIP] * target.in_ports[tport]
                        values[pos] = value
                    else:
                        slots[tport] = value
                    left = remaining[tpos] - 1
                    remaining[tpos] = left
                    if left:
                        continue
                    all_slots[tpos] = None
                    inputs = self._resolve_inputs(target, slots)
                    if inputs is None:
                        self.nodes_skipped += 1
                        if bus:
                            bus.emit(
                                NodeSkipped(
                                    self.execution_id,
                                    target.id,
                                    target.key,
                                    target.label,
                                    reason="branch not taken"
                                    if outs is not None
                                    else "input skipped",
                                )
                            )
                        scope.finish_one()
                        stack.append((target, None))
                    else:
                        ready.append((target, inputs))
        return ready

    @staticmethod
    def _resolve_inputs(node: _NodePlan, slots: dict[str, Any]) -> dict[str, Any] | None:
        inputs: dict[str, Any] = {}
        skipped = False
        multi = node.multi
        for port, value in slots.items():
            if port in multi:
                values = [v for v in value if v is not SKIP]
                if values:
                    inputs[port] = values
                else:
                    skipped = True
            elif value is SKIP:
                skipped = True
            else:
                inputs[port] = value
        if node.partial:
            return inputs if inputs else None
        return None if skipped else inputs

    async def _drive(self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any]) -> None:
        """Run ``node``, then keep running one newly ready successor inline (no recursion)."""
        steps = 0
        try:
            while True:
                if self._cancelled or scope.failure is not None:
                    return
                outs = await self._run_node(scope, node, inputs)
                if node.keep:
                    scope.outputs[node.id] = outs
                if self.done_outputs is not None and scope is self._main:
                    self.done_outputs[node.id] = outs
                ready = self._feed(scope, [(node, outs)])
                scope.finish_one()
                if not ready:
                    return
                if len(ready) > 1:
                    self._spawn_all(scope, ready[1:])
                node, inputs = ready[0]
                steps += 1
                if steps % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except _StopScope:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an engine bug: fail the scope rather than hang
            self._fail_scope(
                scope,
                Failure(
                    f"{node.node.describe()}: internal engine error: {error_text(exc)}",
                    "".join(traceback.format_exception(exc)),
                    node.id,
                ),
            )

    def _fail_scope(self, scope: _Scope, failure: Failure) -> None:
        if scope.failure is not None:
            return
        scope.failure = failure
        current = asyncio.current_task()
        for task in list(scope.tasks):
            if task is not current:
                task.cancel()
        if not scope.done.done():
            scope.done.set_result(None)

    # -- one node --------------------------------------------------------------------

    def _logger(self, node: _NodePlan) -> Callable[..., None]:
        bus = self.bus
        execution_id = self.execution_id

        def log(level: str, message: str, data: Any = None) -> None:
            if bus:
                if level == "warning":
                    level = "warn"
                bus.emit(
                    LogLine(
                        execution_id,
                        node.id,
                        node.key,
                        node.label,
                        level=level,
                        message=str(message),
                        data=data,
                    )
                )

        return log

    def _fields_for(self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any]) -> BaseModel:
        if node.static is not None:
            return node.static
        if node.static_error is not None:
            raise node.static_error
        context = self._expression_context(scope, node, inputs)
        limits = self.plan.expression_limits
        rendered = render_fields(
            node.fields, context, limits=limits, timeout=node.timeout, on_loop=True
        )
        return self._validated(node, rendered)

    async def _fields_off_loop(
        self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any]
    ) -> BaseModel:
        """:meth:`_fields_for` for heavy expressions: rendered on a worker thread."""
        if node.static_error is not None:
            raise node.static_error
        context = self._expression_context(scope, node, inputs)
        if self.plan.uses_nodes:
            context["nodes"] = scope.view.snapshot()  # outputs change while it renders
        limits = self.plan.expression_limits
        rendered = await render_fields_async(
            node.fields, context, limits=limits, timeout=node.timeout
        )
        return self._validated(node, rendered)

    def _validated(self, node: _NodePlan, rendered: dict[str, Any]) -> BaseModel:
        """The rendered fields checked by the type's model (``engine/field_check.py``)."""
        try:
            return node.cls.Fields.model_validate(rendered)
        except ValidationError as exc:
            raise _FieldsError(rendered_fields_message(exc, node.fields, node.label)) from None

    def _expression_context(
        self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if node.n_in == 0 and node.fed is None:
            value = self.run_input
        elif node.has_input_port:
            value = inputs.get("input")
        else:
            value = inputs
        return {
            "input": value,
            "inputs": inputs,
            "nodes": scope.view,
            "execution": self._execution_info,
            "now": datetime.now(UTC),
            "env": self._env,
        }

    def _credential_for(self, node: _NodePlan) -> Mapping[str, Any] | None:
        if not node.credential_type:
            return None
        binding = node.binding or {}
        cache_key = f"{node.credential_type}:{binding.get('integrationId')}"
        cached = self._credential_cache.get(cache_key)
        if cached is not None:
            return cached
        if self.credentials is None or not hasattr(self.credentials, "load"):
            raise NodeError(
                f"needs a {node.credential_type!r} credential, but no credential store is "
                "available to this run",
                field="credential",
            )
        try:
            value = self.credentials.load(binding, node.credential_type)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"credential: {error_text(exc)}", field="credential") from exc
        self._credential_cache[cache_key] = value
        return value

    async def _run_node(
        self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any]
    ) -> Mapping[str, Any]:
        bus = self.bus
        started = time.perf_counter()
        if node.given is not None:
            return self._given(node, inputs)
        if bus:
            bus.emit(NodeInputs(self.execution_id, node.id, node.key, node.label, inputs=inputs))
        if node.disabled:
            return self._pass_through(scope, node, inputs, started)
        attempt = 0
        sem = self._sem
        while True:
            attempt += 1
            if bus:
                bus.emit(
                    NodeStarted(self.execution_id, node.id, node.key, node.label, attempt=attempt)
                )
            services = _Services(self, scope, node)
            retryable = True
            timed_out = False
            try:
                if node.unused_with and not node.unused_with.isdisjoint(inputs):
                    fields = node.cls.Fields.model_construct()  # not rendered: not used
                elif node.heavy:
                    fields = await self._fields_off_loop(scope, node, inputs)
                else:
                    try:
                        fields = self._fields_for(scope, node, inputs)
                    except MoveOffLoop:  # big values: build them off the loop
                        fields = await self._fields_off_loop(scope, node, inputs)
                ctx = NodeContext(
                    node.node,
                    fields,
                    inputs,
                    self._logger(node),
                    self._credential_for(node) if node.credential_type else None,
                    self.execution_id,
                    self.trigger,
                    self.trigger_data,
                    services,
                    self.run_input,
                )
                await sem.acquire()
                services.holding = True
                try:
                    if node.timeout:
                        try:
                            async with asyncio.timeout(node.timeout) as scope_timer:
                                result = await node.impl.run(ctx)
                        except TimeoutError:
                            if scope_timer.expired():
                                timed_out = True
                            raise
                    else:
                        result = await node.impl.run(ctx)
                finally:
                    if services.holding:
                        services.holding = False
                        sem.release()
                outs = self._check_outputs(node, result)
                break
            except asyncio.CancelledError:
                services.kill_processes()
                if bus:
                    bus.emit(
                        NodeSkipped(
                            self.execution_id, node.id, node.key, node.label, reason="stopped"
                        )
                    )
                raise
            except RunSuspended as exc:
                if scope is self._main and self.depth == 0 and self.suspension is None:
                    services.kill_processes()
                    self.suspension = (node.id, exc)  # the run ends as 'waiting'
                    self._cancel_now()
                    raise _StopScope from None
                error = NodeError(
                    "a wait this long cannot be stored inside a loop body or sub-workflow"
                )
                retryable = False
            except (ExpressionError, _FieldsError) as exc:
                error: BaseException = exc
                retryable = False
            except Exception as exc:
                error = NodeError(f"timed out after {node.timeout:g} s") if timed_out else exc
            services.kill_processes()
            if retryable and attempt <= node.retries and not self._cancelled:
                delay = min(node.retry_delay * 2 ** (attempt - 1), MAX_RETRY_DELAY)
                if bus:
                    bus.emit(
                        LogLine(
                            self.execution_id,
                            node.id,
                            node.key,
                            node.label,
                            level="warn",
                            message=f"attempt {attempt} failed: {error_text(error)}; "
                            f"retrying in {delay:g} s",
                        )
                    )
                if delay:
                    await asyncio.sleep(delay)
                continue
            return self._failed(scope, node, error, started)
        self.nodes_run += 1
        if bus:
            bus.emit(NodeOutput(self.execution_id, node.id, node.key, node.label, outputs=outs))
            bus.emit(
                NodeFinished(
                    self.execution_id,
                    node.id,
                    node.key,
                    node.label,
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                    ports=tuple(outs),
                )
            )
        return outs

    def _given(self, node: _NodePlan, inputs: dict[str, Any]) -> Mapping[str, Any]:
        """A pinned node, or one a partial run re-uses: its given outputs flow on."""
        outs = node.given
        assert outs is not None
        self.nodes_reused += 1
        bus = self.bus
        if bus:
            args = (self.execution_id, node.id, node.key, node.label)
            bus.emit(NodeInputs(*args, inputs=inputs, origin=node.origin))
            bus.emit(NodeOutput(*args, outputs=outs))
            bus.emit(NodeFinished(*args, duration_ms=0.0, ports=tuple(outs)))
        return outs

    def _check_outputs(self, node: _NodePlan, result: Any) -> Mapping[str, Any]:
        if result is None:
            return {}
        if not isinstance(result, Mapping):
            raise NodeError(
                f"node type {node.key!r} returned {type(result).__name__}, "
                "not a mapping of output ports"
            )
        names = node.out_names
        for port in result:
            if port not in names:
                raise NodeError(
                    f"node type {node.key!r} returned output {port!r}, which it does not declare"
                )
        return result

    def _pass_through(
        self, scope: _Scope, node: _NodePlan, inputs: dict[str, Any], started: float
    ) -> Mapping[str, Any]:
        if "input" in inputs:
            value = inputs["input"]
        elif inputs:
            value = next(iter(inputs.values()))
        else:
            value = self.run_input if node.n_in == 0 else None
        outs = {node.primary: value} if node.primary else {}
        self.nodes_run += 1
        bus = self.bus
        if bus:
            args = (self.execution_id, node.id, node.key, node.label)
            bus.emit(LogLine(*args, level="debug", message="disabled: input passed through"))
            bus.emit(NodeOutput(*args, outputs=outs))
            bus.emit(NodeFinished(*args, duration_ms=0.0, ports=tuple(outs)))
        return outs

    def _failed(
        self, scope: _Scope, node: _NodePlan, error: BaseException, started: float
    ) -> Mapping[str, Any]:
        message = error_text(error)
        handled = node.on_error != "stop"
        self.nodes_failed += 1
        bus = self.bus
        args = (self.execution_id, node.id, node.key, node.label)
        if bus:
            bus.emit(
                NodeFailed(
                    *args,
                    error=message,
                    duration_ms=(time.perf_counter() - started) * 1000.0,
                    handled=handled,
                )
            )
        if not handled:
            stack = None
            if not isinstance(error, NodeError) or error.__cause__ is not None:
                stack = "".join(traceback.format_exception(error))
            self._fail_scope(scope, Failure(f"{node.node.describe()}: {message}", stack, node.id))
            raise _StopScope
        payload = {
            "error": {
                "message": message,
                "type": error.__class__.__name__,
                "node": node.id,
                "label": node.label,
            }
        }
        if node.on_error == "continue":
            outs: Mapping[str, Any] = {node.primary: payload} if node.primary else {}
        else:
            outs = {ERROR_PORT: payload}
        if bus:
            bus.emit(NodeOutput(*args, outputs=outs))
        return outs

    # -- bodies and sub-workflows ----------------------------------------------------

    async def _run_body(
        self, outer: _Scope, owner: _NodePlan, port: str, value: Any
    ) -> SubgraphResult:
        plan = self.plan.scopes.get((owner.id, port))
        if plan is None or not plan.nodes:
            return SubgraphResult({}, [], None)
        scope = _Scope(plan, outer, self)
        items: list[tuple[Any, Any]] = []
        for target, tport, pos, multi, source_id, source_port in plan.external:
            if source_id == owner.id and source_port == port:
                delivered = value
            else:
                outs = outer.lookup(source_id)
                delivered = SKIP if outs is None else outs.get(source_port, SKIP)
            items.append((_Edge(target, tport, pos, multi), {"_": delivered}))
        ready = self._feed(scope, items)
        self._spawn_all(scope, ready)
        if scope.unresolved == 0 and not scope.done.done():
            scope.done.set_result(None)
        try:
            await scope.done
        except asyncio.CancelledError:
            for task in list(scope.tasks):
                task.cancel()
            raise
        if scope.failure is not None:
            raise NodeError(scope.failure.message)
        if self._cancelled:
            raise asyncio.CancelledError
        leaves = [n.id for n in plan.leaves if n.id in scope.outputs]
        return SubgraphResult(dict(scope.outputs), leaves, self._result_value(scope, leaves))

    async def _run_child(self, caller: _NodePlan, ref: Any, input: Any) -> Any:
        from glyphic_desktop.document.model import WorkflowDocument
        from glyphic_desktop.engine.preflight import PreflightFailed, preflight

        if self.depth + 1 > self.max_depth:
            raise NodeError(
                f"sub-workflow depth limit ({self.max_depth}) reached: "
                "a workflow probably runs itself"
            )
        if isinstance(ref, WorkflowDocument):
            document, name = ref, ref.id or "(inline)"
        elif isinstance(ref, Mapping):
            document, name = WorkflowDocument.model_validate(ref), "(inline)"
        elif isinstance(ref, str) and ref:
            if self.workflow_loader is None:
                raise NodeError(f"cannot load workflow {ref!r}: no workflow store in this run")
            try:
                document = self.workflow_loader(ref)
            except NodeError:
                raise
            except Exception as exc:
                raise NodeError(f"cannot load workflow {ref!r}: {error_text(exc)}") from exc
            name = ref
        else:
            raise NodeError(f"no sub-workflow given ({ref!r})")
        problems = preflight(document, self.registry, credential_resolver=self.credentials)
        if problems:
            raise NodeError(str(PreflightFailed(problems, name)))
        prefix = caller.id + "/"
        parent_bus = self.bus

        def forward(event: RunEvent) -> None:
            if isinstance(event, RunStarted | RunFinished):
                return
            parent_bus.emit(_reprefix(event, prefix, self.execution_id))

        child = Executor(
            document,
            self.registry,
            bus=EventBus([forward] if parent_bus else []),
            execution_id=self.execution_id,
            trigger="subworkflow",
            trigger_data={"caller": caller.id, "workflow": name},
            run_input=input,
            credentials=self.credentials,
            workflow_loader=self.workflow_loader,
            depth=self.depth + 1,
            max_depth=self.max_depth,
            semaphore=self._sem,
            started_at=self.started_at,
            files=self.files,
        )
        self._children_cancel(child)
        outcome = await child.run()
        if outcome.status == "cancelled":
            raise asyncio.CancelledError
        if outcome.status == "failed":
            raise NodeError(f"sub-workflow {name!r} failed: {outcome.error}")
        return outcome.result

    def _children_cancel(self, child: Executor) -> None:
        if self._cancelled:
            child._cancelled = True


class _Edge:
    """A single external edge fed as a pseudo-source (body start)."""

    __slots__ = ("out",)

    def __init__(self, target: _NodePlan, port: str, pos: int, multi: bool) -> None:
        self.out = {"_": [(target, port, pos, multi)]}


def _reprefix(event: RunEvent, prefix: str, execution_id: str | None) -> RunEvent:
    import dataclasses

    changes: dict[str, Any] = {"execution_id": execution_id}
    node_id = getattr(event, "node_id", None)
    if node_id is not None:
        changes["node_id"] = prefix + node_id
    return dataclasses.replace(event, **changes)


async def execute(document: WorkflowDocument, registry: NodeRegistry, **options: Any) -> RunOutcome:
    """Build an :class:`Executor` for ``document`` and run it (no preflight, no records)."""
    return await Executor(document, registry, **options).run()
