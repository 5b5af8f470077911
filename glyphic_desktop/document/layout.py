"""The automatic layered layout: left to right, with crossings reduced.

This is the layout "Tidy up" applies in the editor and imports apply to files without
positions (ComfyUI's API format, n8n or Node-RED nodes stacked at one point). It is the
classic layered (Sugiyama) scheme, kept linear in the size of the graph per pass:

1. **Cycles** are broken by ignoring the edges that close one (found by an iterative
   depth-first search), so every graph can be laid out.
2. **Layers**: each node goes one layer right of its furthest predecessor (longest
   path), so every wire runs left to right.
3. **Order within a layer**: a few down-and-up sweeps place each node at the mean
   position (barycentre) of its neighbours in the previous layer, which removes most
   crossings; ties keep the incoming order, so the result is deterministic.
4. **Coordinates**: layers are columns ``column_gap`` apart (each as wide as its widest
   node); nodes are stacked ``row_gap`` apart, and each column is centred on the
   tallest one. Separate components are stacked below each other.

Nodes are identified by any hashable id; sizes default to :data:`DEFAULT_SIZE`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from glyphic_desktop.document.model import WorkflowDocument

NodeId = TypeVar("NodeId", bound=Hashable)

DEFAULT_SIZE = (220.0, 90.0)
SWEEPS = 4


def _components(
    nodes: Sequence[NodeId], adjacency: Mapping[NodeId, list[NodeId]]
) -> list[list[NodeId]]:
    """Weakly connected components, each in the incoming node order."""
    component_of: dict[NodeId, int] = {}
    count = 0
    for start in nodes:
        if start in component_of:
            continue
        component_of[start] = count
        stack = [start]
        while stack:
            node = stack.pop()
            for other in adjacency[node]:
                if other not in component_of:
                    component_of[other] = count
                    stack.append(other)
        count += 1
    groups: list[list[NodeId]] = [[] for _ in range(count)]
    for node in nodes:
        groups[component_of[node]].append(node)
    return groups


def _acyclic_successors(
    nodes: Sequence[NodeId], successors: Mapping[NodeId, list[NodeId]]
) -> dict[NodeId, list[NodeId]]:
    """The successor lists without the edges that close a cycle (iterative DFS)."""
    state: dict[NodeId, int] = {}  # 1 = on the stack, 2 = done
    kept: dict[NodeId, list[NodeId]] = {node: [] for node in nodes}
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                child_state = state.get(child)
                if child_state == 1:
                    continue  # a back edge: it would close a cycle
                kept[node].append(child)
                if child_state is None:
                    state[child] = 1
                    stack.append((child, iter(successors[child])))
                    advanced = True
                    break
            if not advanced:
                state[node] = 2
                stack.pop()
    return kept


def _layers(
    nodes: Sequence[NodeId], successors: Mapping[NodeId, list[NodeId]]
) -> dict[NodeId, int]:
    """Longest-path layering of an acyclic graph (Kahn's order)."""
    indegree = dict.fromkeys(nodes, 0)
    for node in nodes:
        for child in successors[node]:
            indegree[child] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [node for node in nodes if indegree[node] == 0]
    ready.reverse()
    while ready:
        node = ready.pop()
        for child in successors[node]:
            if layer[node] + 1 > layer[child]:
                layer[child] = layer[node] + 1
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return layer


def _order(
    columns: list[list[NodeId]],
    successors: Mapping[NodeId, list[NodeId]],
    predecessors: Mapping[NodeId, list[NodeId]],
) -> None:
    """Reorder each column by the barycentre of its neighbours, sweeping both ways."""
    position: dict[NodeId, int] = {}
    for column in columns:
        for index, node in enumerate(column):
            position[node] = index

    def sweep(indices: Iterable[int], neighbours: Mapping[NodeId, list[NodeId]]) -> None:
        for layer in indices:
            column = columns[layer]

            def key(item: tuple[int, NodeId]) -> tuple[float, int]:
                index, node = item
                linked = [position[other] for other in neighbours[node] if other in position]
                return (sum(linked) / len(linked) if linked else float(index), index)

            column[:] = [node for _, node in sorted(enumerate(column), key=key)]
            for index, node in enumerate(column):
                position[node] = index

    last = len(columns) - 1
    for _ in range(SWEEPS):
        sweep(range(1, last + 1), predecessors)
        sweep(range(last - 1, -1, -1), successors)


def layered_positions(
    nodes: Sequence[NodeId],
    edges: Iterable[tuple[NodeId, NodeId]],
    sizes: Mapping[NodeId, tuple[float, float]] | None = None,
    *,
    origin: tuple[float, float] = (0.0, 0.0),
    column_gap: float = 80.0,
    row_gap: float = 40.0,
) -> dict[NodeId, tuple[float, float]]:
    """Top-left positions for ``nodes`` laid out in layers from left to right.

    ``edges`` are (source, target) pairs; pairs naming a node not in ``nodes``, and
    self-loops, are ignored. Components are stacked top to bottom from ``origin``.
    """
    sizes = sizes or {}
    known = set(nodes)
    successors: dict[NodeId, list[NodeId]] = {node: [] for node in nodes}
    adjacency: dict[NodeId, list[NodeId]] = {node: [] for node in nodes}
    seen_pairs: set[tuple[NodeId, NodeId]] = set()
    for source, target in edges:
        if source == target or source not in known or target not in known:
            continue
        if (source, target) in seen_pairs:
            continue
        seen_pairs.add((source, target))
        successors[source].append(target)
        adjacency[source].append(target)
        adjacency[target].append(source)

    positions: dict[NodeId, tuple[float, float]] = {}
    top = origin[1]
    for component in _components(nodes, adjacency):
        forward = _acyclic_successors(component, successors)
        backward: dict[NodeId, list[NodeId]] = {node: [] for node in component}
        for node in component:
            for child in forward[node]:
                backward[child].append(node)
        layer_of = _layers(component, forward)
        columns: list[list[NodeId]] = [[] for _ in range(max(layer_of.values()) + 1)]
        for node in component:
            columns[layer_of[node]].append(node)
        _order(columns, forward, backward)

        def size(node: NodeId) -> tuple[float, float]:
            return sizes.get(node, DEFAULT_SIZE)

        heights = [
            sum(size(node)[1] for node in column) + row_gap * (len(column) - 1)
            for column in columns
        ]
        tallest = max(heights)
        left = origin[0]
        for column, height in zip(columns, heights, strict=True):
            y = top + (tallest - height) / 2
            for node in column:
                positions[node] = (left, y)
                y += size(node)[1] + row_gap
            left += max(size(node)[0] for node in column) + column_gap
        top += tallest + row_gap * 2
    return positions


def tidy_document(
    document: WorkflowDocument,
    node_ids: Iterable[str] | None = None,
    sizes: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Lay out ``node_ids`` (default: every node) of ``document`` and move them there.

    A partial layout keeps the selection's top-left corner where it was. Returns the new
    positions by node id (the caller may turn them into one undoable move).
    """
    wanted = None if node_ids is None else set(node_ids)
    chosen = [node for node in document.nodes if wanted is None or node.id in wanted]
    if not chosen:
        return {}
    origin = (0.0, 0.0)
    if wanted is not None:
        origin = (min(node.pos[0] for node in chosen), min(node.pos[1] for node in chosen))
    sized = dict(sizes or {})
    for node in chosen:
        if node.size is not None and node.id not in sized:
            sized[node.id] = (float(node.size[0]), float(node.size[1]))
    positions = layered_positions(
        [node.id for node in chosen],
        ((edge.source, edge.target) for edge in document.edges),
        sized,
        origin=origin,
    )
    for node in chosen:
        x, y = positions[node.id]
        node.pos = [x, y]
    return positions


def needs_layout(document: WorkflowDocument) -> bool:
    """Whether the document's nodes have no usable positions (all at one point)."""
    if len(document.nodes) < 2:
        return False
    first = document.nodes[0].pos
    return all(node.pos == first for node in document.nodes)
