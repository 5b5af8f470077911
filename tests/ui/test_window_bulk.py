"""Bulk edits in the real window cost what they change: the docks and the selection
handler react a bounded number of times, the same for 10 nodes as for 200.

Counts, not timings (timings are in ``bench/window.py``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from glyphic_desktop.document.model import (
    Edge,
    InputPort,
    Node,
    NodeData,
    OutputPort,
    WorkflowDocument,
)

from .helpers import make_window


def chain(n: int) -> WorkflowDocument:
    """N Log nodes wired one after the other."""
    nodes = [
        Node(
            id=str(i + 1),
            type="log",
            pos=[(i % 20) * 260.0, (i // 20) * 160.0],
            data=NodeData(label=f"log {i}", nodeType="log", fields={"message": "hi"}),
            inputs=[InputPort(name="input")],
            outputs=[OutputPort(name="output")],
        )
        for i in range(n)
    ]
    edges = [
        Edge(id=i + 1, source=str(i + 1), sourceHandle="output", target=str(i + 2))
        for i in range(n - 1)
    ]
    for edge in edges:
        edge.targetHandle = "input"
    return WorkflowDocument(nodes=nodes, edges=edges, last_node_id=n, last_link_id=n - 1)


class Counts:
    """Counts the window's whole-graph reactions."""

    def __init__(self, window) -> None:
        self.window = window
        self.selection = 0
        self.inspector = 0
        window.scene.selection_settled.connect(self._selected)
        show = window.inspector_dock.show_node

        def counted_show(node_id):
            self.inspector += 1
            return show(node_id)

        window.inspector_dock.show_node = counted_show

    def _selected(self) -> None:
        self.selection += 1

    def snapshot(self) -> dict[str, int]:
        window = self.window
        return {
            "selection handler": self.selection,
            "inspector": self.inspector,
            "logs node filter rebuilds": window.logs_dock.view.node_rebuilds,
            **{f"refresh {k}": v for k, v in window.dock_refresher.counts.items()},
        }


def bulk_session(qtbot, db, n: int) -> list[dict[str, int]]:
    """Select all, delete, undo, copy, paste with real keys; the counts after each."""
    window = make_window(qtbot, db)
    window.editor.load(chain(n))
    qtbot.wait(10)
    counts = Counts(window)
    view = window.view
    view.setFocus()
    steps = []

    def key(k, modifier=Qt.KeyboardModifier.NoModifier):
        QTest.keyClick(view.viewport(), k, modifier)
        qtbot.wait(5)  # the coalesced refreshes run
        steps.append(counts.snapshot())

    ctrl = Qt.KeyboardModifier.ControlModifier
    key(Qt.Key.Key_A, ctrl)
    assert len(window.scene.selected_node_ids()) == n
    key(Qt.Key.Key_Delete)
    assert len(window.model.doc.nodes) == 0
    key(Qt.Key.Key_Z, ctrl)
    assert len(window.model.doc.nodes) == n
    key(Qt.Key.Key_A, ctrl)
    key(Qt.Key.Key_C, ctrl)
    key(Qt.Key.Key_V, ctrl)
    assert len(window.model.doc.nodes) == 2 * n
    assert len(window.scene.selected_node_ids()) == n  # the pasted nodes
    key(Qt.Key.Key_Z, ctrl)
    assert len(window.model.doc.nodes) == n
    key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.model.doc.nodes) == 2 * n
    return steps


def test_bulk_edits_react_a_bounded_number_of_times_independent_of_n(qtbot, db):
    small = bulk_session(qtbot, db, 10)
    large = bulk_session(qtbot, db, 200)
    assert small == large
    final = large[-1]
    # Each of the 7 steps settles the selection and refreshes each dock at most twice.
    assert 1 <= final["selection handler"] <= 14
    assert final["logs node filter rebuilds"] <= 14
    assert final["refresh logs_nodes"] <= 14
