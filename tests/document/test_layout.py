"""The layered layout: wires run left to right, crossings are reduced, cycles survive."""

from __future__ import annotations

from glyphic_desktop.document.layout import layered_positions, needs_layout, tidy_document
from glyphic_desktop.document.model import Edge, Node, WorkflowDocument


def _crossings(positions, edges) -> int:
    """Count pairs of edges between the same two columns whose ends swap order."""
    count = 0
    spans = [(positions[a], positions[b]) for a, b in edges]
    for i, (a1, b1) in enumerate(spans):
        for a2, b2 in spans[i + 1 :]:
            if a1[0] == a2[0] and b1[0] == b2[0] and (a1[1] - a2[1]) * (b1[1] - b2[1]) < 0:
                count += 1
    return count


def test_every_wire_runs_left_to_right() -> None:
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("b", "c"), ("a", "d"), ("d", "c"), ("c", "e")]
    positions = layered_positions(nodes, edges)
    for source, target in edges:
        assert positions[source][0] < positions[target][0]
    # a node sits one column right of its furthest predecessor
    assert positions["b"][0] == positions["d"][0]
    assert positions["e"][0] > positions["c"][0]


def test_crossings_are_reduced() -> None:
    # Two chains wired crosswise in the incoming order: a1->b2, a2->b1.
    nodes = ["a1", "a2", "b1", "b2", "c1", "c2"]
    edges = [("a1", "b2"), ("a2", "b1"), ("b2", "c2"), ("b1", "c1")]
    positions = layered_positions(nodes, edges)
    assert _crossings(positions, edges) == 0


def test_cycles_and_self_loops_and_unknown_ends_do_not_break_it() -> None:
    nodes = ["a", "b", "c"]
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("b", "b"), ("a", "zzz")]
    positions = layered_positions(nodes, edges)
    assert set(positions) == {"a", "b", "c"}
    assert len({positions[n] for n in nodes}) == 3


def test_components_are_stacked_and_nothing_overlaps() -> None:
    nodes = [f"n{i}" for i in range(12)]
    edges = [(f"n{i}", f"n{i + 1}") for i in range(0, 5)] + [("n7", "n8")]
    positions = layered_positions(nodes, edges)
    boxes = [(x, y, x + 220, y + 90) for x, y in positions.values()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_tidy_document_moves_only_the_selection_and_keeps_its_corner() -> None:
    document = WorkflowDocument(
        nodes=[
            Node(id="1", type="manual", pos=[500, 500]),
            Node(id="2", type="log", pos=[500, 500]),
            Node(id="3", type="log", pos=[-40, 7]),
        ],
        edges=[Edge(id=1, source="1", target="2")],
    )
    assert needs_layout(WorkflowDocument(nodes=document.nodes[:2]))
    moved = tidy_document(document, ["1", "2"])
    assert set(moved) == {"1", "2"}
    assert document.find_node("3").pos == [-40, 7]
    assert document.find_node("1").pos == [500, 500]
    assert document.find_node("2").pos[0] > 500
    assert not needs_layout(document)


def test_long_chain_needs_no_recursion() -> None:
    # 20,000 layers: a recursive depth-first search would hit Python's recursion limit.
    nodes = list(range(20_000))
    edges = [(i, i + 1) for i in range(19_999)]
    positions = layered_positions(nodes, edges)
    assert [positions[i][0] for i in (0, 1, 19_999)] == [0.0, 300.0, 19_999 * 300.0]
