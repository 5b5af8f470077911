"""Editor benchmark: the common node-editor workload on Glyphic's canvas.

An N-node chain in a grid of 40 per row (x = (i % 40) * 260, y = (i // 40) * 160), each
node with one input, one output and one text field (the same shape as
``../shared/anchors/nodegraphqt_bench.py``). Prints one JSON line per N with:

- ``build_s``: build the document and the scene from it (model + items), events processed;
- ``serialize_s``: the document to JSON text;
- ``load_s``: JSON text → validated document → scene (after clearing the canvas);
- ``paint_ms``: repaint the whole graph (fit all) in a 1600×1000 view, mean of 10 (a paint
  event of the whole viewport, as the window paints; ``QGraphicsView.render()``, used for
  images, also draws the wires outside the view and costs 3-4 times more when zoomed in);
- ``paint_20_ms`` / ``paint_35_ms`` / ``paint_100_ms``: the same view zoomed to 20 % (simplified
  nodes with title labels), 35 % (with ports) and 100 % (full detail), mean of 5;
- ``minimap_rebuild_ms``: drawing the minimap's cached picture of every node once;
- ``move_us``: drag one node with its two wires (one drag step), µs per step;
- ``move_cmd_us``: the same step as an undoable MoveCommand through the model, µs;
- ``undo_paste_s``: undo of a 1,000-node paste.

Usage: ``python bench/editor.py`` (N = 1,000, 5,000, 10,000, each in its own process),
``python bench/editor.py --n 1000`` (one size), ``--noindex`` (NoIndex instead of BSP),
``--render`` (paint with ``QGraphicsView.render()`` as the anchor does),
``--best-of 3`` (best of three fresh processes per size, on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pydantic import BaseModel


def _setup():
    from PySide6.QtWidgets import QApplication

    from glyphic_desktop.nodes.base import NodeType, PortSpec

    class BenchFields(BaseModel):
        subject: str = "hello"

    class BenchNode(NodeType):
        key = "bench.node"
        title = "Node"
        category = "Bench"
        inputs = (PortSpec("in", "any"),)
        outputs = (PortSpec("out", "any"),)
        Fields = BenchFields

    class Registry:
        def get(self, key, version=None):
            return BenchNode if key == BenchNode.key else None

        def all(self):
            return [BenchNode]

    app = QApplication.instance() or QApplication([])
    return app, Registry()


def build_document(n: int):
    """The N-node chain as a WorkflowDocument."""
    from glyphic_desktop.document.model import (
        Edge,
        InputPort,
        Node,
        NodeData,
        OutputPort,
        WorkflowDocument,
    )
    from glyphic_desktop.perf import gc_paused

    with gc_paused():
        nodes = [
            Node(
                id=str(i + 1),
                type="bench.node",
                pos=[(i % 40) * 260.0, (i // 40) * 160.0],
                data=NodeData(
                    label=f"node {i}", nodeType="bench.node", fields={"subject": "hello"}
                ),
                inputs=[InputPort(name="in")],
                outputs=[OutputPort(name="out")],
            )
            for i in range(n)
        ]
        edges = [
            Edge(
                id=i + 1,
                source=str(i + 1),
                sourceHandle="out",
                target=str(i + 2),
                targetHandle="in",
            )
            for i in range(n - 1)
        ]
        return WorkflowDocument(nodes=nodes, edges=edges, last_node_id=n, last_link_id=n - 1)


def run(n: int, bsp: bool = True, render: bool = False) -> dict:
    """Measure one size."""
    app, registry = _setup()
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QImage, QMouseEvent, QPainter

    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.perf import gc_paused
    from glyphic_desktop.ui import clipboard as clip
    from glyphic_desktop.ui.canvas import Editor
    from glyphic_desktop.ui.canvas.interactions import MoveInteraction
    from glyphic_desktop.ui.commands import MoveCommand

    t = time.perf_counter()
    editor = Editor(build_document(n), registry, bsp_index=bsp)
    editor.widget.resize(1600, 1000)
    editor.widget.show()
    app.processEvents()
    build_s = time.perf_counter() - t

    t = time.perf_counter()
    text = json.dumps(editor.model.doc.to_data())
    serialize_s = time.perf_counter() - t

    editor.load(WorkflowDocument())
    app.processEvents()
    t = time.perf_counter()
    with gc_paused():
        document = WorkflowDocument.model_validate(json.loads(text))
    editor.load(document)
    app.processEvents()
    load_s = time.perf_counter() - t

    view = editor.view
    view.resize(1600, 1000)
    view.fit_all()
    app.processEvents()

    image = QImage(1600, 1000, QImage.Format.Format_ARGB32)

    def paint() -> None:
        """One full repaint of the view as the window does it (a paint event of the
        whole viewport), or with ``--render`` QGraphicsView.render() into an image, as
        the anchor measures it (it also draws the wires outside the view)."""
        if render:
            painter = QPainter(image)
            view.render(painter)
            painter.end()
        else:
            view.viewport().grab()

    paint()  # warm-up (static texts, BSP)
    t = time.perf_counter()
    for _ in range(10):
        paint()
    paint_ms = (time.perf_counter() - t) / 10 * 1000

    def paint_at(zoom: float) -> float:
        """Mean ms to repaint the view at ``zoom`` centred on the middle of the graph."""
        view.set_zoom(zoom)
        view.centerOn(view.editor_scene.nodes[str(n // 2)].sceneBoundingRect().center())
        app.processEvents()
        paint()  # warm-up (labels' static texts)
        start = time.perf_counter()
        for _ in range(5):
            paint()
        return (time.perf_counter() - start) / 5 * 1000

    paint_20_ms = paint_at(0.2)  # zoomed out: simplified nodes, title labels
    paint_35_ms = paint_at(0.35)  # simplified nodes with ports
    paint_100_ms = paint_at(1.0)  # full detail
    try:
        from glyphic_desktop.ui.canvas.minimap import Minimap
    except ImportError:  # an older tree without a minimap
        minimap_ms = None
    else:
        minimap = Minimap(view)
        start = time.perf_counter()
        minimap.rebuild()
        minimap_ms = round((time.perf_counter() - start) * 1000, 1)

    # Drag one node of the middle of the chain (two wires) at 100 % zoom.
    scene = editor.scene
    node_id = str(n // 2)
    item = scene.nodes[node_id]
    view.set_zoom(1.0)
    view.centerOn(item.sceneBoundingRect().center())
    app.processEvents()
    view.snap_enabled = False
    scene.clearSelection()
    item.setSelected(True)
    press_at = view.mapFromScene(item.pos() + QPointF(50, 10))
    press = QMouseEvent(
        QEvent.Type.MouseButtonPress,
        QPointF(press_at),
        QPointF(view.viewport().mapToGlobal(press_at)),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    drag = MoveInteraction(view, item, press)
    drag.started = True
    steps = 5000
    t = time.perf_counter()
    for k in range(1, steps + 1):
        drag.drag_to(QPointF(k % 200 + 0.5, k % 50 + 0.5))
    move_us = (time.perf_counter() - t) / steps * 1e6
    drag.drag_to(QPointF())
    view.end_interaction(drag)

    model, stack = editor.model, editor.stack
    x0, y0 = model.node(node_id).pos
    t = time.perf_counter()
    for k in range(1, steps + 1):
        stack.push(MoveCommand(model, {node_id: ((x0, y0), (x0 + k % 200, y0))}, merge_key="bench"))
    move_cmd_us = (time.perf_counter() - t) / steps * 1e6

    # Undo of a 1,000-node paste.
    count = min(1000, n)
    fragment = clip.selection_json(model, [str(i + 1) for i in range(count)])
    result = clip.paste(model, stack, text=fragment, at=(0.0, 200_000.0))
    assert result.ok and len(result.node_ids) == count, result.message
    app.processEvents()
    t = time.perf_counter()
    stack.undo()
    app.processEvents()
    undo_paste_s = time.perf_counter() - t
    assert len(model.doc.nodes) == n

    return {
        "N": n,
        "build_s": round(build_s, 3),
        "serialize_s": round(serialize_s, 3),
        "load_s": round(load_s, 3),
        "paint_ms": round(paint_ms, 1),
        "paint_20_ms": round(paint_20_ms, 1),
        "paint_35_ms": round(paint_35_ms, 1),
        "paint_100_ms": round(paint_100_ms, 1),
        "minimap_rebuild_ms": minimap_ms,
        "move_us": round(move_us, 1),
        "move_cmd_us": round(move_cmd_us, 1),
        "undo_paste_s": round(undo_paste_s, 3),
        "index": "bsp" if bsp else "none",
        "paint": "render" if render else "repaint",
        "json_kb": len(text) // 1024,
    }


def _run_child(n: int, noindex: bool, render: bool) -> dict:
    cmd = [sys.executable, __file__, "--n", str(n)] + (["--noindex"] if noindex else [])
    cmd += ["--render"] if render else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Run one size (``--n``) or all three, each in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="one graph size (default: 1000, 5000, 10000)")
    parser.add_argument("--noindex", action="store_true", help="use NoIndex instead of BSP")
    parser.add_argument(
        "--render",
        action="store_true",
        help="paint with QGraphicsView.render() into an image, as the anchor does",
    )
    parser.add_argument(
        "--best-of",
        type=int,
        default=1,
        metavar="K",
        help="run each size K times in fresh processes and print the best of each figure "
        "(for a shared, noisy machine)",
    )
    args = parser.parse_args()
    if args.n and args.best_of <= 1:
        print(json.dumps(run(args.n, bsp=not args.noindex, render=args.render)), flush=True)
        return
    for n in [args.n] if args.n else [1000, 5000, 10000]:
        runs = [_run_child(n, args.noindex, args.render) for _ in range(max(1, args.best_of))]
        best = dict(runs[0])
        for key, value in best.items():
            if key not in ("N", "json_kb") and isinstance(value, int | float):
                best[key] = min(r[key] for r in runs)
        if args.best_of > 1:
            best["best_of"] = len(runs)
        print(json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
