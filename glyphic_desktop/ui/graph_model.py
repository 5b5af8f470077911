"""The graph model: a QObject over a :class:`WorkflowDocument` that announces every change.

The model is the only writer of the document while the editor is open. Its mutating
methods are *primitives* meant to be called by the undo commands of
:mod:`glyphic_desktop.ui.commands` (never by graphics items); each one updates the
document and its indexes and emits the matching signal. The scene only listens.

Indexes (all kept in step by the primitives, so nothing scans the whole graph per edit):

- nodes by id, edges by id, the edges of each node (node → edge ids), groups by key;
- the ports of each node (from the document's own ``inputs``/``outputs``; for a node
  stored without ports, from its registered node type; the type gives the data types
  and adds the ports an older document lacks, see :meth:`GraphModel.ports`).

Groups may be stored without an ``id``; the model names each group with a *key* (its
``id`` when it has a unique one, else an internal ``~N`` key) that commands use.

Batches: every undo command runs inside :meth:`GraphModel.batch`; ``batch_finished``
is emitted once when the outermost batch ends, so listeners that react to the whole
graph (dock filters, the selection) do so once per command, not once per item.

Snapshots: :meth:`GraphModel.snapshot` gives a document that later edits do not touch
(copy-on-write: a node or group is copied the first time it is edited while a snapshot
is out), so a save or an autosave can serialise it on a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from pydantic import ValidationError
from PySide6.QtCore import QObject, Signal

from glyphic_desktop.document.model import Edge, Group, Node, NodeData, WorkflowDocument
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.nodes.base import ERROR_PORT, mismatch_reason, ports_compatible
from glyphic_desktop.nodes.ports import output_port_types
from glyphic_desktop.perf import gc_paused


class _Missing:
    """Sentinel: a field that is absent from ``data.fields``."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: The per-node engine settings :meth:`GraphModel.set_setting` accepts.
NODE_SETTINGS: frozenset[str] = frozenset(
    {
        "disabled",
        "retries",
        "retryDelay",
        "timeout",
        "onError",
        "credential",
        "typeVersion",
        "pinnedData",
    }
)


class PortInfo(NamedTuple):
    """One socket as the editor draws it: name, data type and display title."""

    name: str
    type: str
    title: str


#: node type -> {input port: type} (a type's declared inputs never change).
_INPUT_TYPES: dict[Any, dict[str, str]] = {}


def _typed(stored: Any, types: dict[str, str], declared: Any) -> list[PortInfo]:
    """A node's stored ports with the types its node type gives them, then the declared
    ports the document does not store yet (titled by name, like the stored ones)."""
    get = types.get
    ports = [PortInfo(port.name, get(port.name, port.type), port.name) for port in stored]
    if len(ports) < len(declared) or any(port.name not in types for port in ports):
        have = {port.name for port in ports}
        ports.extend(
            PortInfo(port.name, get(port.name, port.type), port.name)
            for port in declared
            if port.name not in have
        )
    return ports


class EditError(GlyphicError):
    """An edit that cannot be made (bad value, missing node, refused connection)."""


class Reach:
    """The nodes reachable from ``start`` along the wires (``forward``) or against them.

    ``parents`` maps every reached node to the neighbour it was reached from (``start``
    maps to None), so a path back to ``start`` can be read off. Built by
    :meth:`GraphModel.reach` in O(reached nodes + their wires); a wire drag builds one
    for its fixed end and hands it to every :meth:`GraphModel.check_connection` call.
    """

    def __init__(self, start: str, forward: bool, parents: dict[str, str | None]) -> None:
        self.start = start
        self.forward = forward
        self.parents = parents

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.parents

    def path_to(self, node_id: str) -> list[str]:
        """Node ids from ``node_id`` back to ``start`` (``node_id`` must be reached)."""
        path = [node_id]
        parent = self.parents[node_id]
        while parent is not None:
            path.append(parent)
            parent = self.parents[parent]
        return path


class EmptyRegistry:
    """A registry without types (used when ``nodes/registry.py`` is not available)."""

    def get(self, key: str) -> None:
        """No type is known."""
        return None

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def lookup_type(registry: Any, key: str | None) -> Any | None:
    """The node type registered under ``key`` in ``registry``, or None (never raises)."""
    if not key or registry is None:
        return None
    try:
        return registry.get(key)
    except (KeyError, LookupError, GlyphicError):
        return None


def iter_types(registry: Any) -> list[Any]:
    """Every node type class of ``registry`` (accepts several registry shapes)."""
    if registry is None:
        return []
    for name in ("all", "types", "values"):
        method = getattr(registry, name, None)
        if callable(method):
            found = list(method())
            return [item[1] if isinstance(item, tuple) else item for item in found]
    try:
        return list(registry)
    except TypeError:
        return []


def default_type_registry() -> Any:
    """``nodes.registry.default_registry()``, or an empty registry if it cannot be loaded."""
    try:
        from glyphic_desktop.nodes.registry import default_registry
    except ImportError:
        return EmptyRegistry()
    return default_registry()


def type_key(node: Node) -> str:
    """The registry key of ``node``: ``data.nodeType`` when set, else ``type``."""
    return node.data.nodeType or node.type


class GraphModel(QObject):
    """The editable workflow graph; emits a signal per changed node, edge or group,
    and one per primitive for nodes and edges added or removed (a paste of 2,000 nodes
    is one ``nodes_added``, not 2,000 signals each dispatched to every listener).

    Signals (node ids are ``str``, edge ids ``int``, group keys ``str``):
    ``nodes_added`` / ``nodes_removed`` (a list of node ids), ``node_moved``,
    ``node_changed`` (label, fields, settings or ports), ``edges_added`` /
    ``edges_removed`` (a list of edge ids), ``group_added``,
    ``group_removed``, ``group_changed`` (title, bounding, colour), ``document_reset``
    (a whole new document: rebuild everything) and ``modified`` (after any primitive).
    """

    nodes_added = Signal(list)
    nodes_removed = Signal(list)
    node_moved = Signal(str)
    node_changed = Signal(str)
    edges_added = Signal(list)
    edges_removed = Signal(list)
    group_added = Signal(str)
    group_removed = Signal(str)
    group_changed = Signal(str)
    document_reset = Signal()
    modified = Signal()
    batch_finished = Signal()

    def __init__(
        self,
        document: WorkflowDocument | None = None,
        registry: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry if registry is not None else default_type_registry()
        self.doc = WorkflowDocument()
        self._nodes: dict[str, Node] = {}
        self._edges: dict[int, Edge] = {}
        self._node_edges: dict[str, dict[int, None]] = {}
        self._groups: dict[str, Group] = {}
        self._group_key_of: dict[int, str] = {}
        self._group_counter = 0
        #: node id -> (the node object, its ports): valid while that object is the node.
        self._ports: dict[str, tuple[Node, tuple[tuple[PortInfo, ...], tuple[PortInfo, ...]]]] = {}
        self._batch_depth = 0
        #: Grows whenever a node is added or removed or a label changes: listeners that
        #: show the list of nodes compare it once per batch instead of per node.
        self.nodes_revision = 0
        self._pending_relink: set[str] = set()  # nodes whose port links a batch changed
        self._shared: set[int] = set()  # ids of node/group objects a snapshot still holds
        self._snapshots = 0
        self._node_index: dict[int, int] | None = None
        self.set_document(document if document is not None else WorkflowDocument())

    # -- batches and snapshots ------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group primitives into one change: ``batch_finished`` once at the outermost end.

        The cyclic collector is paused for the batch: a bulk edit allocates thousands
        of containers, and a collection it triggers would walk every object of the
        process (the app collects later, from the GUI thread's timer).
        """
        self._batch_depth += 1
        try:
            if self._batch_depth == 1:
                with gc_paused():
                    try:
                        yield
                    finally:
                        self._flush_relink()  # even when an edit failed half-way
            else:
                yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self.batch_finished.emit()

    def in_batch(self) -> bool:
        """Whether a batch is open (listeners defer whole-graph work to its end)."""
        return self._batch_depth > 0

    def snapshot(self) -> WorkflowDocument:
        """A document equal to the current one that later edits leave unchanged.

        O(nodes) list copies only: nodes and groups are shared until edited (then the
        model edits a copy). Call :meth:`release` when done with it.
        """
        doc = self.doc
        with gc_paused():
            copy = doc.model_copy(
                update={
                    "nodes": list(doc.nodes),
                    "edges": list(doc.edges),
                    "groups": list(doc.groups),
                    "config": _deep(doc.config),
                    "metadata": _deep(doc.metadata),
                }
            )
            self._shared.update(map(id, doc.nodes))
            self._shared.update(map(id, doc.groups))
        self._snapshots += 1
        return copy

    def release(self, _snapshot: WorkflowDocument | None = None) -> None:
        """A snapshot is no longer used (when none is left, edits go in place again)."""
        self._snapshots = max(0, self._snapshots - 1)
        if self._snapshots == 0:
            self._shared.clear()
            self._node_index = None

    def _own_node(self, node_id: str) -> Node:
        """The node, copied first when a snapshot still shares it (copy-on-write)."""
        node = self._nodes[node_id]
        if id(node) not in self._shared:
            return node
        copy = node.model_copy(deep=True)
        if self._node_index is None:
            self._node_index = {id(n): i for i, n in enumerate(self.doc.nodes)}
        index = self._node_index.pop(id(node))
        self.doc.nodes[index] = copy
        self._node_index[id(copy)] = index
        self._nodes[node_id] = copy
        return copy

    def _own_group(self, key: str) -> Group:
        group = self.group(key)
        if id(group) not in self._shared:
            return group
        copy = group.model_copy(deep=True)
        groups = self.doc.groups
        index = next(i for i, g in enumerate(groups) if g is group)
        groups[index] = copy
        self._groups[key] = copy
        del self._group_key_of[id(group)]
        self._group_key_of[id(copy)] = key
        return copy

    # -- whole document -------------------------------------------------------------

    def set_document(self, document: WorkflowDocument) -> None:
        """Replace the document (not undoable: the owner clears its undo stack)."""
        with self.batch(), gc_paused():
            # Port links are kept in sync per edit from here on (see _relink).
            if not document.port_links_in_sync():
                document.sync_port_links()
            self.doc = document
            self._node_index = None
            self._nodes = {node.id: node for node in document.nodes}
            self._edges = {}
            self._node_edges = {node_id: {} for node_id in self._nodes}
            for edge in document.edges:
                self._index_edge(edge)
            self._groups = {}
            self._group_key_of = {}
            for group in document.groups:
                self._register_group(group)
            self._ports = {}
            self.nodes_revision += 1
            self.document_reset.emit()
            self.modified.emit()

    def replace_document(self, document: WorkflowDocument) -> WorkflowDocument:
        """Swap in ``document`` whole (a primitive of ``ReplaceDocumentCommand``).

        ``document`` keeps the current ``id`` and ``revision``; ``last_node_id`` and
        ``last_link_id`` become the larger of both documents' so ids are never reused.
        Emits ``document_reset``. Returns the document that was replaced.
        """
        old = self.doc
        document.id = old.id
        document.revision = old.revision
        document.last_node_id = max(document.last_node_id, old.last_node_id)
        document.last_link_id = max(document.last_link_id, old.last_link_id)
        self.set_document(document)
        return old

    # -- reading ----------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        """The node ``node_id``; EditError when there is none."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise EditError(f"no node with id {node_id!r} in the workflow") from None

    def has_node(self, node_id: str) -> bool:
        """Whether ``node_id`` is in the document."""
        return node_id in self._nodes

    def node_ids(self) -> list[str]:
        """Every node id, in document order."""
        return [node.id for node in self.doc.nodes]

    def edge(self, edge_id: int) -> Edge:
        """The edge ``edge_id``; EditError when there is none."""
        try:
            return self._edges[edge_id]
        except KeyError:
            raise EditError(f"no edge with id {edge_id} in the workflow") from None

    def has_edge(self, edge_id: int) -> bool:
        """Whether ``edge_id`` is in the document."""
        return edge_id in self._edges

    def edge_ids(self) -> list[int]:
        """Every edge id, in document order."""
        return [edge.id for edge in self.doc.edges]

    def edges_of(self, node_id: str) -> list[int]:
        """Ids of the edges touching ``node_id`` (from the node → edges index)."""
        return list(self._node_edges.get(node_id, ()))

    def edges_into(self, node_id: str, port: str) -> list[int]:
        """Ids of the edges arriving at input ``port`` of ``node_id``."""
        return [
            edge_id
            for edge_id in self._node_edges.get(node_id, ())
            if self._edges[edge_id].target == node_id and self._edges[edge_id].targetHandle == port
        ]

    def group(self, key: str) -> Group:
        """The group with ``key``; EditError when there is none."""
        try:
            return self._groups[key]
        except KeyError:
            raise EditError(f"no group {key!r} in the workflow") from None

    def has_group(self, key: str) -> bool:
        """Whether a group with ``key`` exists."""
        return key in self._groups

    def group_keys(self) -> list[str]:
        """Every group key, in document order."""
        return [self._group_key_of[id(group)] for group in self.doc.groups]

    def node_type(self, node_id: str) -> Any | None:
        """The registered type of the node, or None for an unknown type (placeholder)."""
        return lookup_type(self.registry, type_key(self.node(node_id)))

    def ports(self, node_id: str) -> tuple[tuple[PortInfo, ...], tuple[PortInfo, ...]]:
        """``(inputs, outputs)`` of the node as drawn: its stored ports, else its type's.

        For a registered type the type says each port's data type (an output's through
        ``nodes/ports.py``'s ``output_port_types``, so it may follow the fields: GitHub's
        list operations give an ``array``), the one answer preflight gets too; a port the
        type declares but the document does not store (an If saved before its
        ``condition`` input existed) is added after the stored ones. Stored ports the
        type does not declare stay as stored (preflight reports wires to them). A node
        whose ``onError`` is ``error_output`` also shows the implicit ``error`` output
        (type ``object``). Cached per node object; a field edit drops the entry.
        """
        node = self.node(node_id)
        cached = self._ports.get(node_id)
        if cached is not None and cached[0] is node:  # kept across delete and undo
            return cached[1]
        spec = lookup_type(self.registry, type_key(node))
        out_types = output_port_types(spec, node.data.fields) if spec is not None else {}
        if node.inputs or node.outputs:
            if spec is not None:
                in_types = _INPUT_TYPES.get(spec)
                if in_types is None:
                    in_types = _INPUT_TYPES[spec] = {p.name: p.type for p in spec.inputs}
                inputs = _typed(node.inputs, in_types, spec.inputs)
                outputs = _typed(node.outputs, out_types, spec.outputs)
            else:
                inputs = [PortInfo(p.name, p.type, p.name) for p in node.inputs]
                outputs = [PortInfo(p.name, p.type, p.name) for p in node.outputs]
        elif spec is not None:
            inputs = [PortInfo(p.name, p.type, p.title or p.name) for p in spec.inputs]
            outputs = [PortInfo(p.name, out_types[p.name], p.title or p.name) for p in spec.outputs]
        else:
            inputs, outputs = [], []
        if node.data.onError == "error_output" and all(p.name != ERROR_PORT for p in outputs):
            outputs.append(PortInfo(ERROR_PORT, "object", "error"))
        result = (tuple(inputs), tuple(outputs))
        self._ports[node_id] = (node, result)
        return result

    def port(self, node_id: str, name: str, output: bool) -> PortInfo | None:
        """The input (or output) port ``name`` of the node, or None."""
        inputs, outputs = self.ports(node_id)
        return next((p for p in (outputs if output else inputs) if p.name == name), None)

    def reach(self, start: str, forward: bool, stop: str | None = None) -> Reach:
        """The nodes reachable from ``start`` following wires downstream (``forward``) or
        upstream; the walk ends early once ``stop`` is reached. O(reached part only)."""
        parents: dict[str, str | None] = {start: None}
        edges = self._edges
        node_edges = self._node_edges
        frontier = [start]
        while frontier:
            following = []
            for node_id in frontier:
                for edge_id in node_edges.get(node_id, ()):
                    edge = edges[edge_id]
                    if forward:
                        if edge.source != node_id:
                            continue
                        other = edge.target
                    else:
                        if edge.target != node_id:
                            continue
                        other = edge.source
                    if other not in parents:
                        parents[other] = node_id
                        if other == stop:
                            return Reach(start, forward, parents)
                        following.append(other)
            frontier = following
        return Reach(start, forward, parents)

    def cycle_path(self, source: str, target: str, reach: Reach | None = None) -> list[str] | None:
        """The loop a wire ``source`` → ``target`` would close, as node ids
        ``[source, target, ..., source]``; None when it closes none.

        ``reach`` may be a precomputed :meth:`reach` of ``source`` upstream or of
        ``target`` downstream (a drag keeps its fixed end's); otherwise the walk
        downstream from ``target`` stops as soon as it meets ``source``.
        """
        if reach is not None and reach.start == source and not reach.forward:
            if target not in reach:
                return None
            return [source, *reach.path_to(target)]
        if reach is None or reach.start != target or not reach.forward:
            reach = self.reach(target, forward=True, stop=source)
        if source not in reach:
            return None
        return [source, *reversed(reach.path_to(source))]

    def check_connection(
        self,
        source: str,
        source_port: str,
        target: str,
        target_port: str,
        reach: Reach | None = None,
    ) -> str | None:
        """Why output ``source.source_port`` may not feed ``target.target_port``; None if it may.

        A wire that would close a loop is refused ("would create a cycle: A → B → A").
        ``reach`` (see :meth:`cycle_path`) keeps that test cheap during a drag.
        """
        if source not in self._nodes:
            return f"no node with id {source!r}"
        if target not in self._nodes:
            return f"no node with id {target!r}"
        src = self._nodes[source]
        dst = self._nodes[target]
        if source == target:
            return f"{src.describe()} cannot be connected to itself"
        out_port = self.port(source, source_port, output=True)
        if out_port is None:
            return f"{src.describe()} has no output {source_port!r}"
        in_port = self.port(target, target_port, output=False)
        if in_port is None:
            return f"{dst.describe()} has no input {target_port!r}"
        refusal = _type_refusal(src, out_port, dst, in_port)
        if refusal is not None:
            return refusal
        for edge_id in self._node_edges.get(source, ()):
            edge = self._edges[edge_id]
            if (
                edge.source == source
                and edge.sourceHandle == source_port
                and edge.target == target
                and edge.targetHandle == target_port
            ):
                return "these ports are already connected"
        loop = self.cycle_path(source, target, reach)
        if loop is not None:
            nodes = self._nodes
            return "would create a cycle: " + " → ".join(nodes[n].label for n in loop)
        return None

    def wire_problem(self, edge_id: int) -> str | None:
        """Why the existing wire ``edge_id`` no longer fits its ports' types (the words
        :meth:`check_connection` refuses such a wire with); None when it fits.

        Only the types are checked, from the cached :meth:`ports` (no validation, no
        walk of the graph): a field edit that changes an output's type (GitHub
        "get issue" -> "list issues") makes a wire wrong. A wire to a port its node
        does not have, or to a node of unknown type, is not judged here (preflight
        reports it). An unknown edge id gives None.
        """
        edge = self._edges.get(edge_id)
        if edge is None:
            return None
        src = self._nodes.get(edge.source)
        dst = self._nodes.get(edge.target)
        if src is None or dst is None:
            return None
        out_port = self.port(edge.source, edge.sourceHandle, output=True)
        in_port = self.port(edge.target, edge.targetHandle, output=False)
        if out_port is None or in_port is None:
            return None
        return _type_refusal(src, out_port, dst, in_port)

    # -- node primitives -------------------------------------------------------------

    def insert_nodes(self, entries: Iterable[tuple[int, Node]]) -> None:
        """Insert nodes at their final document indexes (ascending)."""
        entries = sorted(entries, key=lambda entry: entry[0])
        for _, node in entries:
            if node.id in self._nodes:
                raise EditError(f"a node with id {node.id!r} already exists")
        _merge_insert(self.doc.nodes, entries)
        self._node_index = None
        self.nodes_revision += 1
        for _, node in entries:
            self._nodes[node.id] = node
            self._node_edges.setdefault(node.id, {})
        self._relink(node.id for _, node in entries)
        if entries:
            self.nodes_added.emit([node.id for _, node in entries])
        self.modified.emit()

    def append_nodes(self, nodes: Iterable[Node]) -> None:
        """Add nodes at the end of the document."""
        start = len(self.doc.nodes)
        self.insert_nodes((start + i, node) for i, node in enumerate(nodes))

    def delete_nodes(self, node_ids: Iterable[str]) -> list[tuple[int, Node]]:
        """Remove nodes (their edges must be gone already); returns ``(index, node)`` pairs."""
        wanted = set(node_ids)
        for node_id in wanted:
            if node_id not in self._nodes:
                raise EditError(f"no node with id {node_id!r} in the workflow")
            if self._node_edges.get(node_id):
                raise EditError(f"node {node_id!r} still has edges; remove them first")
        removed = _split_out(self.doc.nodes, lambda node: node.id in wanted)
        self._node_index = None
        self.nodes_revision += 1
        for _, node in removed:
            del self._nodes[node.id]
            self._node_edges.pop(node.id, None)
        if removed:
            self.nodes_removed.emit([node.id for _, node in removed])
        self.modified.emit()
        return removed

    def set_positions(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move nodes to scene positions ``{node_id: (x, y)}``."""
        own = self._own_node
        for node_id, (x, y) in positions.items():
            own(node_id).pos = [float(x), float(y)]
        emit = self.node_moved.emit
        for node_id in positions:
            emit(node_id)
        self.modified.emit()

    def set_field(self, node_id: str, name: str, value: Any) -> Any:
        """Set ``data.fields[name]`` (``MISSING`` deletes it); returns the previous value."""
        self.node(node_id)
        fields = self._own_node(node_id).data.fields
        old = fields.get(name, MISSING)
        if value is MISSING:
            fields.pop(name, None)
        else:
            fields[name] = value
        self._ports.pop(node_id, None)  # an output's type may follow the fields
        self.node_changed.emit(node_id)
        self.modified.emit()
        return old

    def set_label(self, node_id: str, label: str) -> str:
        """Set the node's label; returns the previous one."""
        self.node(node_id)
        node = self._own_node(node_id)
        old = node.data.label
        node.data.label = label
        self.nodes_revision += 1
        self.node_changed.emit(node_id)
        self.modified.emit()
        return old

    def validate_setting(self, node_id: str, name: str, value: Any) -> Any:
        """``value`` checked for setting ``name`` of the node; EditError naming both if bad."""
        node = self.node(node_id)
        if name not in NODE_SETTINGS:
            raise EditError(
                f"{node.describe()}: unknown setting {name!r} "
                f"(expected one of {', '.join(sorted(NODE_SETTINGS))})"
            )
        if name == "typeVersion" or value is MISSING:
            return value
        try:
            checked = NodeData.model_validate({name: value})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise EditError(f"{node.describe()}: setting {name!r}: {reason}") from None
        return getattr(checked, name)

    def set_setting(self, node_id: str, name: str, value: Any) -> Any:
        """Set an engine setting under ``data`` (validated); returns the previous value."""
        value = self.validate_setting(node_id, name, value)
        data = self._own_node(node_id).data
        if name in NodeData.model_fields:
            old = getattr(data, name)
            setattr(data, name, value)
        else:
            extra = data.__pydantic_extra__ if data.__pydantic_extra__ is not None else {}
            old = extra.get(name, MISSING)
            if value is MISSING:
                extra.pop(name, None)
            else:
                setattr(data, name, value)
        if name == "onError":
            self._ports.pop(node_id, None)
        self.node_changed.emit(node_id)
        self.modified.emit()
        return old

    # -- edge primitives -------------------------------------------------------------

    def insert_edges(self, entries: Iterable[tuple[int, Edge]]) -> None:
        """Insert edges at their final document indexes (ascending)."""
        entries = sorted(entries, key=lambda entry: entry[0])
        for _, edge in entries:
            if edge.id in self._edges:
                raise EditError(f"an edge with id {edge.id} already exists")
        _merge_insert(self.doc.edges, entries)
        for _, edge in entries:
            self._index_edge(edge)
        self._relink({end for _, edge in entries for end in (edge.source, edge.target)})
        if entries:
            self.edges_added.emit([edge.id for _, edge in entries])
        self.modified.emit()

    def append_edges(self, edges: Iterable[Edge]) -> None:
        """Add edges at the end of the document."""
        start = len(self.doc.edges)
        self.insert_edges((start + i, edge) for i, edge in enumerate(edges))

    def delete_edges(self, edge_ids: Iterable[int]) -> list[tuple[int, Edge]]:
        """Remove edges; returns their ``(index, edge)`` pairs."""
        wanted = set(edge_ids)
        for edge_id in wanted:
            if edge_id not in self._edges:
                raise EditError(f"no edge with id {edge_id} in the workflow")
        removed = _split_out(self.doc.edges, lambda edge: edge.id in wanted)
        for _, edge in removed:
            del self._edges[edge.id]
            for end in (edge.source, edge.target):
                bucket = self._node_edges.get(end)
                if bucket is not None:
                    bucket.pop(edge.id, None)
        self._relink({end for _, edge in removed for end in (edge.source, edge.target)})
        if removed:
            self.edges_removed.emit([edge.id for _, edge in removed])
        self.modified.emit()
        return removed

    # -- group primitives ------------------------------------------------------------

    def new_group_key(self) -> str:
        """A fresh group id not used by any group."""
        while True:
            self._group_counter += 1
            key = f"group-{self._group_counter}"
            if key not in self._groups:
                return key

    def insert_group(self, index: int, group: Group, key: str | None = None) -> str:
        """Insert ``group`` at ``index`` under ``key`` (default: its id); returns the key."""
        key = key or self._register_key_for(group)
        if key in self._groups:
            raise EditError(f"a group {key!r} already exists")
        groups = self.doc.groups
        groups.insert(min(index, len(groups)), group)
        self._groups[key] = group
        self._group_key_of[id(group)] = key
        self.group_added.emit(key)
        self.modified.emit()
        return key

    def delete_group(self, key: str) -> tuple[int, Group]:
        """Remove the group ``key``; returns ``(index, group)``."""
        group = self.group(key)
        index = next(i for i, g in enumerate(self.doc.groups) if g is group)
        del self.doc.groups[index]
        del self._groups[key]
        del self._group_key_of[id(group)]
        self.group_removed.emit(key)
        self.modified.emit()
        return index, group

    def group_key(self, group: Group) -> str:
        """The key of a group object of this document."""
        return self._group_key_of[id(group)]

    def set_group_bounding(self, key: str, bounding: list[float]) -> list[float]:
        """Set ``[x, y, width, height]`` of the group; returns the previous one."""
        group = self._own_group(key)
        old = list(group.bounding)
        group.bounding = [float(v) for v in bounding]
        self.group_changed.emit(key)
        self.modified.emit()
        return old

    def set_group_color(self, key: str, color: str | None) -> str | None:
        """Set the group's colour (None: the theme's); returns the previous one."""
        group = self._own_group(key)
        old = group.color
        group.color = color
        self.group_changed.emit(key)
        self.modified.emit()
        return old

    def set_group_title(self, key: str, title: str) -> str:
        """Set the group's title; returns the previous one."""
        group = self._own_group(key)
        old = group.title
        group.title = title
        self.group_changed.emit(key)
        self.modified.emit()
        return old

    # -- internals -------------------------------------------------------------------

    def _flush_relink(self) -> None:
        pending, self._pending_relink = self._pending_relink, set()
        if pending:
            depth, self._batch_depth = self._batch_depth, 0
            try:
                self._relink_now(pending)
            finally:
                self._batch_depth = depth

    def _relink(self, node_ids: Iterable[str]) -> None:
        """Rewrite the port links of these nodes now, or at the end of the open batch
        (a node that a batch's edits touch several times is relinked once)."""
        if self._batch_depth:
            self._pending_relink.update(node_ids)
        else:
            self._relink_now(node_ids)

    def _relink_now(self, node_ids: Iterable[str]) -> None:
        """Rewrite the port ``link`` / ``links`` of these nodes from their edges.

        The same result :meth:`WorkflowDocument.sync_port_links` gives (last edge into
        an input wins; an output lists its edges in document order), kept up per edit so
        the document is always in sync and a save need not rewrite every port.
        """
        positions: dict[int, int] | None = None
        for node_id in node_ids:
            node = self._nodes.get(node_id)
            if node is None or not (node.inputs or node.outputs):
                continue
            edges = [self._edges[edge_id] for edge_id in self._node_edges.get(node_id, ())]
            if len(edges) > 1:
                if positions is None:
                    positions = {edge.id: i for i, edge in enumerate(self.doc.edges)}
                edges.sort(key=lambda edge: positions[edge.id])
            into: dict[str, int] = {}
            out_of: dict[str, list[int]] = {}
            for edge in edges:
                if edge.target == node_id:
                    into[edge.targetHandle] = edge.id
                if edge.source == node_id:
                    out_of.setdefault(edge.sourceHandle, []).append(edge.id)
            if id(node) in self._shared and (
                any(port.link != into.get(port.name) for port in node.inputs)
                or any(port.links != out_of.get(port.name, []) for port in node.outputs)
            ):
                node = self._own_node(node_id)
            for port in node.inputs:
                link = into.get(port.name)
                if port.link != link:
                    port.link = link
            for port in node.outputs:
                links = out_of.get(port.name, [])
                if port.links != links:
                    port.links = links

    def _index_edge(self, edge: Edge) -> None:
        self._edges[edge.id] = edge
        self._node_edges.setdefault(edge.source, {})[edge.id] = None
        self._node_edges.setdefault(edge.target, {})[edge.id] = None

    def _register_key_for(self, group: Group) -> str:
        if group.id and group.id not in self._groups:
            return group.id
        while True:
            self._group_counter += 1
            key = f"~{self._group_counter}"
            if key not in self._groups:
                return key

    def _register_group(self, group: Group) -> None:
        key = self._register_key_for(group)
        self._groups[key] = group
        self._group_key_of[id(group)] = key


def _type_refusal(src: Node, out_port: PortInfo, dst: Node, in_port: PortInfo) -> str | None:
    """Why output ``out_port`` of ``src`` may not feed input ``in_port`` of ``dst`` by
    their types (None when it may): one wording for the connect check and a wire that a
    later edit made wrong."""
    if ports_compatible(out_port.type, in_port.type):
        return None
    return (
        f"output {out_port.name!r} of {src.describe()} gives {out_port.type}, "
        f"input {in_port.name!r} of {dst.describe()} takes {in_port.type}: "
        f"{mismatch_reason(out_port.type, in_port.type)}"
    )


def _deep(value: Any) -> Any:
    """A deep copy of plain JSON-like data (dicts, lists, scalars, pydantic models)."""
    import copy

    if hasattr(value, "model_copy"):
        return value.model_copy(deep=True)
    return copy.deepcopy(value)


def _merge_insert(target: list[Any], entries: list[tuple[int, Any]]) -> None:
    """Insert ``(final_index, item)`` pairs (ascending) into ``target`` in one pass."""
    if not entries:
        return
    if len(entries) <= 4:
        for index, item in entries:
            target.insert(index, item)
        return
    old = list(target)
    result: list[Any] = []
    src = 0
    for index, item in entries:
        take = max(0, min(index - len(result), len(old) - src))
        result.extend(old[src : src + take])
        src += take
        result.append(item)
    result.extend(old[src:])
    target[:] = result


def _split_out(target: list[Any], matches: Any) -> list[tuple[int, Any]]:
    """Remove the items for which ``matches`` is true; returns their ``(index, item)``."""
    kept: list[Any] = []
    removed: list[tuple[int, Any]] = []
    for index, item in enumerate(target):
        if matches(item):
            removed.append((index, item))
        else:
            kept.append(item)
    if removed:
        target[:] = kept
    return removed
