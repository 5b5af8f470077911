"""Data dock benchmark: open a node's recorded output of N items, then scroll it.

One JSON line per N (1,000 and 100,000 items of small objects with a nested value):

- ``open_ms``: from handing the dock the node records to the dock painted with the node's
  input and output tables (``DataPanel.set_records`` + ``show_node`` + one paint), mean
  of 5 (the issue's target: under 200 ms at 100,000 items);
- ``rows_loaded``: the table's ``rowCount`` after opening (fetched lazily, not N);
- ``scroll_max_ms``: the longest of 50 page-down steps through the output table (each
  step scrolls, fetches what the view needs and paints);
- ``json_open_ms`` / ``schema_open_ms``: switching the dock to the JSON tree / the
  schema view, painted.

Usage: ``python bench/data_panel.py`` (offscreen Qt; no database needed).
"""

from __future__ import annotations

import json
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _items(n: int) -> list[dict]:
    return [
        {"id": i, "name": f"item {i}", "price": i * 0.5, "tags": ["a", "b"], "meta": {"n": i}}
        for i in range(n)
    ]


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.nodes.registry import default_registry
    from glyphic_desktop.store.repositories.node_data import NodeRecord
    from glyphic_desktop.ui.canvas import Editor
    from glyphic_desktop.ui.commands import add_node_command
    from glyphic_desktop.ui.docks.data_panel import DataPanelDock

    app = QApplication.instance() or QApplication([])
    editor = Editor(WorkflowDocument(), default_registry())
    command = add_node_command(editor.model, "log", (0.0, 0.0))
    editor.stack.push(command)
    node_id = command.node_ids[0]
    dock = DataPanelDock(editor.model)
    dock.resize(700, 800)
    dock.show()
    app.processEvents()
    panel = dock.panel
    for n in (1_000, 100_000):
        items = _items(n)
        record = NodeRecord(
            node_id=node_id,
            status="success",
            inputs={"input": items},
            outputs={"output": items},
            input_counts={"input": n},
            output_counts={"output": n},
        )
        times = []
        for _ in range(5):
            panel.set_records({}, None)
            panel.show_node(None)
            panel.set_view(0)
            app.processEvents()
            started = time.perf_counter()
            panel.set_records({node_id: record}, None, "bench")
            panel.show_node(node_id)
            dock.repaint()
            app.processEvents()
            times.append((time.perf_counter() - started) * 1000)
        rows = panel.outputs.table_model.rowCount()
        table = panel.outputs.table
        steps = []
        for _ in range(50):
            started = time.perf_counter()
            bar = table.verticalScrollBar()
            bar.setValue(bar.value() + bar.pageStep())
            if bar.value() >= bar.maximum() and panel.outputs.table_model.canFetchMore(
                table.rootIndex()
            ):
                panel.outputs.table_model.fetchMore(table.rootIndex())
            table.viewport().repaint()
            app.processEvents()
            steps.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        panel.set_view(1)
        dock.repaint()
        app.processEvents()
        json_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        panel.set_view(2)
        dock.repaint()
        app.processEvents()
        schema_ms = (time.perf_counter() - started) * 1000
        print(
            json.dumps(
                {
                    "bench": "data_panel",
                    "items": n,
                    "open_ms": round(statistics.mean(times), 1),
                    "open_max_ms": round(max(times), 1),
                    "rows_loaded": rows,
                    "rows_after_scroll": panel.outputs.table_model.rowCount(),
                    "scroll_max_ms": round(max(steps), 1),
                    "json_open_ms": round(json_ms, 1),
                    "schema_open_ms": round(schema_ms, 1),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
