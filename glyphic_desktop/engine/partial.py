"""Partial runs: run one node, run to a node, run from a node (no Qt; the editor and CLI).

Three modes, each a :class:`PartialPlan` made by :func:`plan_partial_run` from the
document, the node, and the node records of an earlier run
(``store/repositories/node_data.py``: ``latest_node_records`` / ``node_records``):

``only`` (run this node)
    The node runs alone with the inputs it received in the recorded run. When it has no
    usable recorded inputs (never reached, or capped), or a node feeding it is pinned,
    its inputs come from the recorded outputs (or pinned data) of the nodes feeding it.
``to`` (run to here)
    The node and the ancestors it needs run; nothing else. A pinned ancestor does not
    run and neither do the nodes behind it (its pinned data stands in). No record needed.
``from`` (run from here)
    The node and everything downstream of it run; every other node they need gives its
    recorded outputs (re-used, not run).

In every mode a node whose outputs are needed but not usable (no record, cancelled,
failed without output, or capped by the record's size limits) runs as well, and so do
the nodes it needs, recursively (``PartialPlan.notes`` says which). A Loop's body runs
with its loop. Pinned nodes never run. When the nodes that run use ``nodes.<label>``
expressions, the recorded outputs of their other ancestors are given too.

Running it::

    records = latest_node_records(db, workflow_id)          # or node_records(db, id)
    plan = plan_partial_run(document, "from", node_id, records.records,
                            source_execution=records.execution_id)
    result = run_partial(db, user_id, workflow, plan)      # a RunResult, recorded

The run is an ordinary execution (``trigger_type`` ``manual``) whose ``trigger_data``
holds ``{"partial": {"mode", "node", "source_execution"}}`` and, unless an input is
given, the source execution's input. Its node records hold the re-used nodes too
(``origin`` ``reused``), so the canvas keeps showing the whole graph's data.
:func:`resolve_node` turns a node id or label into an id (with close matches when not
found), as ``glyphic run --only / --to / --from`` use it.

:func:`restrict_document` is the engine's side (``executor.Plan`` calls it): the part of
a document a partial run compiles.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from glyphic_desktop.document.truncation import has_truncation_marker
from glyphic_desktop.errors import UsageError

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node, WorkflowDocument
    from glyphic_desktop.engine.runner import RunResult
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

Mode = Literal["only", "to", "from"]
MODES: tuple[str, ...] = ("only", "to", "from")
_USABLE = ("success", "error")


class PartialRunError(UsageError):
    """A partial run that cannot be planned (unknown node or mode). Exit code 2."""


@dataclass
class PartialPlan:
    """What a partial run runs and what it starts from (see the module docstring).

    ``run``: the nodes whose ``run`` is called (pinned ones among them still are not);
    ``start_outputs``: ``{node_id: {port: value}}`` re-used (or pinned) outputs;
    ``start_inputs``: ``{node_id: {port: value}}`` the inputs a node starts with;
    ``reused``: the records whose outputs are re-used (their inputs stay on record);
    ``notes``: one line per decision the user may want to know about.
    """

    mode: str
    node_id: str
    run: frozenset[str]
    start_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    start_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_execution: str | None = None
    reused: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def trigger_data(self) -> dict[str, Any]:
        """``{"partial": {...}}``, what the execution's ``trigger_data`` records."""
        return {
            "partial": {
                "mode": self.mode,
                "node": self.node_id,
                "source_execution": self.source_execution,
            }
        }

    def __repr__(self) -> str:  # never format the values (they may be large)
        return (
            f"PartialPlan(mode={self.mode!r}, node_id={self.node_id!r}, "
            f"run={sorted(self.run)!r}, starts={sorted(self.start_outputs)!r}, "
            f"fed={sorted(self.start_inputs)!r}, source_execution={self.source_execution!r})"
        )

    def executor_options(self) -> dict[str, Any]:
        """The ``only`` / ``start_outputs`` / ``start_inputs`` of ``Executor`` / ``Plan``."""
        return {
            "only": self.run,
            "start_outputs": self.start_outputs,
            "start_inputs": self.start_inputs,
        }

    def seeds(self) -> dict[str, tuple[dict[str, Any], dict[str, int]]]:
        """``{node_id: (inputs, input_counts)}`` of re-used nodes, for their new record."""
        return {
            node_id: (dict(record.inputs or {}), dict(record.input_counts or {}))
            for node_id, record in self.reused.items()
        }


# -- the engine's side ---------------------------------------------------------------


def restrict_document(
    document: WorkflowDocument,
    *,
    only: Collection[str] | None = None,
    start_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    start_inputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[WorkflowDocument, dict[str, Mapping[str, Any]]]:
    """(the part of ``document`` a partial run compiles, the start nodes' outputs).

    Kept: the nodes that run (``only``, plus ``start_inputs`` nodes; every node when
    ``only`` is None) and the start nodes (``start_outputs``, plus any other node with an
    edge into a running node: it starts with no output, so its edges carry skips). Edges
    into start nodes and into ``start_inputs`` nodes are dropped. Node objects are
    shared, not copied.
    """
    from glyphic_desktop.document.model import WorkflowDocument

    starts: dict[str, Mapping[str, Any]] = dict(start_outputs or {})
    fed = set(start_inputs or ())
    ids = [node.id for node in document.nodes]
    if only is None:
        running = {node_id for node_id in ids if node_id not in starts}
    else:
        running = {node_id for node_id in only if node_id not in starts}
    running |= fed - set(starts)
    for edge in document.edges:
        if (
            edge.target in running
            and edge.target not in fed
            and edge.source not in running
            and edge.source not in starts
        ):
            starts[edge.source] = {}
    kept = running | set(starts)
    edges = [
        edge
        for edge in document.edges
        if edge.source in kept and edge.target in running and edge.target not in fed
    ]
    restricted = WorkflowDocument.model_construct(
        id=document.id,
        revision=document.revision,
        last_node_id=document.last_node_id,
        last_link_id=document.last_link_id,
        nodes=[node for node in document.nodes if node.id in kept],
        edges=edges,
        groups=[],
        config=document.config,
        metadata=document.metadata,
    )
    known = set(ids)
    return restricted, {node_id: outs for node_id, outs in starts.items() if node_id in known}


# -- planning ------------------------------------------------------------------------


def _pinned(node: Node) -> dict[str, Any] | None:
    return node.data.pinnedData


def _describe(node: Node) -> str:
    return node.describe()


def resolve_node(document: WorkflowDocument, ref: str) -> str:
    """The id of the node ``ref`` names: an id, else an exact label, else a unique
    case-insensitive label; :class:`PartialRunError` (with close matches) otherwise."""
    ref = str(ref)
    if document.find_node(ref) is not None:
        return ref
    exact = [node.id for node in document.nodes if node.data.label == ref]
    if len(exact) == 1:
        return exact[0]
    folded = [node.id for node in document.nodes if node.data.label.casefold() == ref.casefold()]
    if len(folded) == 1 and not exact:
        return folded[0]
    if len(exact) > 1 or len(folded) > 1:
        ids = ", ".join(exact or folded)
        raise PartialRunError(f"several nodes are labelled {ref!r} ({ids}): give the node's id")
    names = [node.id for node in document.nodes] + [
        node.data.label for node in document.nodes if node.data.label
    ]
    close = difflib.get_close_matches(ref, names, n=5, cutoff=0.5)
    if not close:
        lowered = ref.casefold()
        close = [name for name in names if lowered in name.casefold()][:5]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise PartialRunError(f"no node {ref!r} in the workflow{hint}")


class _Graph:
    def __init__(self, document: WorkflowDocument, registry: NodeRegistry | None) -> None:
        self.nodes = {node.id: node for node in document.nodes}
        self.preds: dict[str, list[tuple[str, str]]] = {}
        self.succs: dict[str, list[str]] = {}
        for edge in document.edges:
            if edge.source not in self.nodes or edge.target not in self.nodes:
                continue
            self.preds.setdefault(edge.target, []).append((edge.source, edge.sourceHandle))
            self.succs.setdefault(edge.source, []).append(edge.target)
        self.bodies = self._bodies(document, registry)

    def _bodies(
        self, document: WorkflowDocument, registry: NodeRegistry | None
    ) -> dict[str, set[str]]:
        """Loop node id → the nodes of its body (reachable from its body ports)."""
        if registry is None:
            from glyphic_desktop.nodes.registry import default_registry

            registry = default_registry()
        from glyphic_desktop.engine.preflight import resolve_type

        body_ports: dict[str, set[str]] = {}
        for node in document.nodes:
            cls = resolve_type(registry, node)
            if cls is not None and cls.body_ports:
                body_ports[node.id] = set(cls.body_ports)
        bodies: dict[str, set[str]] = {}
        for loop_id, ports in body_ports.items():
            first = [
                edge.target
                for edge in document.edges
                if edge.source == loop_id and edge.sourceHandle in ports
            ]
            seen: set[str] = set()
            stack = list(first)
            while stack:
                node_id = stack.pop()
                if node_id in seen or node_id == loop_id or node_id not in self.nodes:
                    continue
                seen.add(node_id)
                stack.extend(self.succs.get(node_id, ()))
            bodies[loop_id] = seen
        return bodies

    def ancestors(self, node_ids: Iterable[str], stop: Any = None) -> set[str]:
        found: set[str] = set()
        stack = list(node_ids)
        while stack:
            node_id = stack.pop()
            for source, _port in self.preds.get(node_id, ()):
                if source in found:
                    continue
                found.add(source)
                if stop is None or not stop(source):
                    stack.append(source)
        return found

    def descendants(self, node_id: str) -> set[str]:
        found: set[str] = set()
        stack = [node_id]
        while stack:
            for target in self.succs.get(stack.pop(), ()):
                if target not in found:
                    found.add(target)
                    stack.append(target)
        return found


def _usable_outputs(record: Any) -> bool:
    return (
        record is not None
        and record.status in _USABLE
        and bool(record.outputs)
        and not has_truncation_marker(record.outputs)
    )


def _usable_inputs(record: Any) -> bool:
    return (
        record is not None
        and record.status in (*_USABLE, "cancelled")
        and record.inputs is not None
        and not has_truncation_marker(record.inputs)
    )


def plan_partial_run(
    document: WorkflowDocument,
    mode: str,
    node_id: str,
    records: Mapping[str, Any] | None = None,
    *,
    registry: NodeRegistry | None = None,
    source_execution: uuid.UUID | str | None = None,
) -> PartialPlan:
    """Plan a partial run of ``document`` (see the module docstring).

    ``node_id`` is an id or a label (:func:`resolve_node`); ``records`` are the node
    records (``{node_id: NodeRecord}``) of the run to start from (None or empty: no
    recorded data, so whatever is needed runs).
    """
    if mode not in MODES:
        raise PartialRunError(f"unknown partial run mode {mode!r} (use one of {', '.join(MODES)})")
    target = resolve_node(document, node_id)
    records = (records or {}) if mode != "to" else {}
    graph = _Graph(document, registry)
    nodes = graph.nodes
    plan = PartialPlan(
        mode=mode,
        node_id=target,
        run=frozenset(),
        source_execution=str(source_execution) if source_execution else None,
    )
    run: set[str] = set()
    starts = plan.start_outputs

    def give(source: str) -> bool:
        """Make ``source`` a start node when its outputs are known; False when it must run."""
        if source in starts:
            return True
        pinned = _pinned(nodes[source])
        if pinned is not None:
            starts[source] = dict(pinned)
            return True
        record = records.get(source)
        if _usable_outputs(record):
            starts[source] = dict(record.outputs)
            plan.reused[source] = record
            return True
        if record is not None and record.status == "skipped":
            starts[source] = {}
            return True
        return False

    if mode == "to":
        walk = [target]
        while walk:
            current = walk.pop()
            if current in run or current in starts:
                continue
            if _pinned(nodes[current]) is not None:
                give(current)
                continue
            run.add(current)
            walk.extend(source for source, _port in graph.preds.get(current, ()))
    elif mode == "from":
        run.add(target)
        run |= graph.descendants(target)
    else:
        run.add(target)
        record = records.get(target)
        feeders = graph.preds.get(target, [])
        pinned_feeder = any(_pinned(nodes[source]) is not None for source, _ in feeders)
        if feeders and not pinned_feeder and _usable_inputs(record):
            plan.start_inputs[target] = dict(record.inputs)
        elif (
            feeders
            and record is not None
            and has_truncation_marker(record.inputs)
            and not pinned_feeder
        ):
            plan.notes.append(
                f"{_describe(nodes[target])}: its recorded inputs were too large to keep; "
                "they are made again from the nodes feeding it"
            )

    # Every node that runs needs what feeds it: re-used outputs, pinned data, or a run.
    # A loop that runs takes its body along (it runs the body itself); a body node whose
    # loop does not run starts with its recorded inputs (of the loop's last item), else
    # its loop runs too.
    stack = list(run)

    def add(node_id: str) -> None:
        run.add(node_id)
        stack.append(node_id)
        for member in graph.bodies.get(node_id, ()):
            if member not in run:
                run.add(member)
                stack.append(member)

    for loop_id in [n for n in run if graph.bodies.get(n)]:
        add(loop_id)
    while stack:
        current = stack.pop()
        if current in plan.start_inputs:
            continue
        preds = graph.preds.get(current, ())
        loops = [
            source
            for source, _port in preds
            if source not in run and current in graph.bodies.get(source, ())
        ]
        if loops:
            record = records.get(current)
            if _usable_inputs(record):
                plan.start_inputs[current] = dict(record.inputs)
                continue
            for loop_id in loops:
                add(loop_id)
                plan.notes.append(
                    f"{_describe(nodes[current])} is inside {_describe(nodes[loop_id])} and "
                    "has no recorded inputs: the loop runs too"
                )
        for source, _port in preds:
            if source in run or give(source):
                continue
            add(source)
            plan.notes.append(
                f"{_describe(nodes[source])} has no recorded output to re-use: it runs too"
            )

    # ``nodes.<label>`` expressions may read any ancestor: give those with records.
    from glyphic_desktop.engine.expressions import iter_expressions

    uses_nodes = any(
        "nodes" in text for n in run for _path, text in iter_expressions(nodes[n].data.fields, "")
    )
    if uses_nodes:
        for ancestor in graph.ancestors(run):
            if ancestor not in run and ancestor not in starts:
                give(ancestor)

    for node_id_ in list(run):
        if node_id_ in starts:
            run.discard(node_id_)
    plan.run = frozenset(run)
    return plan


# -- running -------------------------------------------------------------------------


def run_partial(
    db: Database,
    user_id: uuid.UUID,
    workflow: Any,
    plan: PartialPlan,
    **options: Any,
) -> RunResult:
    """Run ``plan`` as a recorded execution (``engine/runner.py``'s ``run_workflow`` with
    ``partial=plan``; the same options: listeners, cancel_event, input, ...)."""
    from glyphic_desktop.engine.runner import run_workflow

    return run_workflow(db, user_id, workflow, partial=plan, **options)


async def run_partial_async(
    db: Database,
    user_id: uuid.UUID,
    workflow: Any,
    plan: PartialPlan,
    **options: Any,
) -> RunResult:
    """:func:`run_partial` inside a running event loop."""
    from glyphic_desktop.engine.runner import run_workflow_async

    return await run_workflow_async(db, user_id, workflow, partial=plan, **options)


def plan_from_store(
    db: Database,
    user_id: uuid.UUID,
    document: WorkflowDocument,
    workflow_id: uuid.UUID | str,
    mode: str,
    node: str,
    *,
    execution_id: uuid.UUID | str | None = None,
    registry: NodeRegistry | None = None,
) -> PartialPlan:
    """Plan from stored records: those of ``execution_id``, else the workflow's latest."""
    from glyphic_desktop.store.repositories.node_data import (
        latest_node_records,
        node_records,
    )

    records: Mapping[str, Any] = {}
    source: Any = None
    if execution_id is not None:
        from glyphic_desktop.errors import NotFoundError
        from glyphic_desktop.store.repositories.executions import ExecutionRepository

        try:
            with db.session() as session:
                execution = ExecutionRepository(session, user_id).get(execution_id)
        except NotFoundError as exc:
            raise PartialRunError(exc.message) from None
        if str(execution.workflow_id) != str(workflow_id):
            raise PartialRunError(
                f"execution {execution.id} is a run of another workflow, not of this one"
            )
        records = node_records(db, execution.id, user_id=user_id)
        source = execution.id
    elif mode != "to":
        latest = latest_node_records(db, workflow_id, user_id=user_id)
        if latest is not None:
            records, source = latest.records, latest.execution_id
    return plan_partial_run(
        document, mode, node, records, registry=registry, source_execution=source
    )
