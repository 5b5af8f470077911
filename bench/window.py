"""Window benchmark: bulk edits and saves in the real ``MainWindow`` with every dock open.

The workflow is ``bench/editor.py``'s N-node chain. For each N (default 2,000 and 10,000,
each in its own process) it prints one JSON line with:

- ``select_all_ms``: Edit > Select All, events processed (the docks' reactions included);
- ``delete_ms``: Delete of that selection; ``undo_delete_ms``: its undo;
- ``copy_ms``: copy of 2,000 selected nodes; ``paste_ms``: paste of those 2,000 nodes;
- ``*_cpu_ms``: the CPU time of the same steps (fairer than the wall clock on a busy machine);
- ``save_stall_ms`` / ``autosave_stall_ms``: the longest gap between beats of a 5 ms
  ``QTimer`` heartbeat on the GUI thread while a save (a new version) or an autosave
  draft is written, i.e. the longest time the window could not react;
- ``save_stall_gui_cpu_ms`` / ``autosave_stall_gui_cpu_ms``: the GUI thread's own CPU time
  during that longest gap (small: it waited for the interpreter or a core; close to the
  gap: it was busy itself);
- ``full_collections``: the garbage collector's collections of every object during the
  measured steps (``ui/gc_guard.py`` keeps them out of bulk edits);
- ``save_ms``: from pressing Save to the "saved" report.

Measured on a busy 2-core machine (PostgreSQL 15 on 127.0.0.1), wall ms:

========================  ============  ===========  ======================
step                      2,000 before  2,000 after  10,000 after (CPU)
========================  ============  ===========  ======================
select all                3,880         35-78        102-198 (88-98)
delete                    4,056         120-164      350-521 (313-360)
undo of that delete       22,011        186-330      596 (365)
paste of 2,000 nodes      56,480        313-870      344-445 (268-306)
GUI stall while saving    414           21-43        25-65
GUI stall while autosave  179           32           58-140
========================  ============  ===========  ======================

Sliced serialisation (``document/fast_json.py``) for saves and drafts, and the garbage
collector's full collections kept out of edits (``ui/gc_guard.py``), 10,000 nodes,
wall ms (the GUI thread's CPU ms within that gap):

========================  ===================  ====================
longest GUI stall while   before (3 runs)      after (4 runs)
========================  ===================  ====================
saving                    39-85                23-41 (16-20)
writing an autosave       59-339               14-17 (0-3)
========================  ===================  ====================

One signal per model primitive (``nodes_added`` with the ids, not one ``node_added`` per
node dispatched to every listener), a wire's full type check only when its types clash,
block colours mixed once per colour pair; 10,000 nodes, two runs, wall ms: select all
85, delete 319-366, undo of that delete 431 (476-722 before on the same, then busier,
machine), paste 299-403, GUI stall while saving 21-22, while writing an autosave 11-12.

Select all at 10,000 nodes, idle machine: 124.7 ms before, 61-93 ms after one
whole-scene repaint replaced a dirty rect per node (``QGraphicsScene.update()`` first, so
Qt skips marking each newly selected item) and ``select_all`` handed the selection
handler the set it made (no ``selectedItems()`` of 10,000 items). What is left: Qt's
10,000 ``setSelected`` calls and brushes (~25 ms) and the repaint of every block with
Qt's selection outline (~20-35 ms).

Before: the selection handler sorted every selected id once per item, the Logs dock
rebuilt its node filter once per added node (1.25 million ``addItem`` calls for one
paste), deletes and undos serialised every node, saves and drafts ran on the GUI thread,
and full garbage collections walked every node and item.

Usage: ``python bench/window.py`` (N = 2,000 and 10,000), ``--n 2000`` (one size),
``--profile FILE`` (cProfile of the timed part into FILE, for one size),
``--no-gc-guard`` (leave the cyclic collector automatic; by default it runs from a
GUI-thread timer as in the app, and its full collections show up as stalls too). Runs offscreen
(``QT_QPA_PLATFORM=offscreen``) on a scratch database (see ``bench/scratch.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


class Heartbeat:
    """A 5 ms timer on the GUI thread; ``longest_ms`` is the longest gap seen."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._beat)
        self.last = 0.0
        self.last_cpu = 0.0
        self.longest_ms = 0.0
        self.longest_cpu_ms = 0.0

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gap = (now - self.last) * 1000
        if gap > self.longest_ms:
            # the GUI thread's own CPU time in that gap: close to the gap when the GUI
            # thread itself was busy, small when it waited (for the GIL or a core)
            self.longest_ms, self.longest_cpu_ms = gap, (cpu - self.last_cpu) * 1000
        self.last, self.last_cpu = now, cpu

    def start(self) -> None:
        """Start measuring."""
        self.longest_ms = self.longest_cpu_ms = 0.0
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.timer.start()

    def stop(self) -> float:
        """Stop; the longest gap in ms."""
        self.timer.stop()
        return round(self.longest_ms, 1)


def _settle(app, ms: int = 0) -> None:
    """Process pending events (and posted zero-timers) for ``ms`` more milliseconds."""
    end = time.perf_counter() + ms / 1000
    app.processEvents()
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


CPU: dict[str, float] = {}


def _timed(app, action, name: str = "") -> float:
    """Wall-clock ms of ``action`` with its events processed; its CPU ms go to ``CPU``
    (on a busy machine the CPU time says more than the wall clock)."""
    t, c = time.perf_counter(), time.process_time()
    action()
    _settle(app)
    if name:
        CPU[name] = round((time.process_time() - c) * 1000, 1)
    return round((time.perf_counter() - t) * 1000, 1)


def _wait_for(app, predicate, timeout_s: float = 60.0) -> None:
    end = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > end:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def run(n: int, profile: str | None = None, guard: bool = True) -> dict:
    """Measure one size (``guard``: collect garbage on the GUI thread, as the app does)."""
    from editor import _setup, build_document
    from scratch import scratch_database

    app, bench_registry = _setup()
    from glyphic_desktop.ui import gc_guard

    if guard:
        gc_guard.install(app)  # as the real app does: cyclic collection on the GUI thread only
    from PySide6.QtCore import QSettings

    from glyphic_desktop.nodes.registry import NodeRegistry

    registry = NodeRegistry()  # the window's palette wants a real registry
    for cls in bench_registry.all():

        class Runnable(cls):  # type: ignore[misc, valid-type]
            async def run(self, ctx, inputs, fields):  # never called: nothing runs here
                return {}

        Runnable.__name__ = Runnable.__qualname__ = "BenchNode"
        registry.register(Runnable)

    from glyphic_desktop.ui.drafts import DraftStore
    from glyphic_desktop.ui.main_window import MainWindow

    home = Path(tempfile.mkdtemp(prefix="glyphic-bench-window-"))
    with scratch_database() as scratch:
        settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(
            scratch.db,
            user_id=scratch.user_id,
            registry=registry,
            settings=settings,
            drafts=DraftStore(home / "drafts"),
            restore_layout=False,
            autosave_ms=60_000,
        )
        for dock in window.docks():  # every dock open
            dock.show()
        window.resize(1600, 1000)
        window.show()
        _settle(app)
        session = getattr(window, "session", None)
        save_name = f"bench {n}"
        assert window.save_as(save_name) is not False
        _wait_for(app, lambda: not window.is_dirty() and _idle(window))
        if session is not None:  # as opening a stored workflow does
            session.set_document(
                build_document(n),
                workflow_id=session.workflow_id,
                name=save_name,
                base_version=session.base_version,
                dirty=True,
            )
        else:
            window.editor.load(build_document(n))
            window._dirty_without_undo = True
        _settle(app, 50)
        # the collector's one full collection after a load waits until the window is idle
        # (ui/gc_guard.py): let it happen here, as a person would look at the new graph
        _settle(app, 4000)
        gc_count = gc.get_freeze_count()
        collector = gc_guard.installed() if hasattr(gc_guard, "installed") else None
        fulls = getattr(collector, "full_collections", 0)

        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        out: dict = {"N": n, "gc_guard": guard, "frozen_objects": gc_count}
        out["select_all_ms"] = _timed(app, window.actions["select_all"].trigger, "select_all")
        out["delete_ms"] = _timed(app, window.actions["delete"].trigger, "delete")
        out["undo_delete_ms"] = _timed(app, window.actions["undo"].trigger, "undo_delete")
        assert len(window.model.doc.nodes) == n
        window.scene.select_nodes([str(i + 1) for i in range(min(2000, n))])
        _settle(app)
        out["copy_ms"] = _timed(app, window.actions["copy"].trigger, "copy")
        window.view.centerOn(0, 400_000)
        out["paste_ms"] = _timed(app, lambda: window.scene.paste(at=_far(window)), "paste")
        assert len(window.model.doc.nodes) == n + min(2000, n)

        beat = Heartbeat()
        beat.start()
        t = time.perf_counter()
        window.actions["save"].trigger()
        _wait_for(app, lambda: not window.is_dirty() and _idle(window))
        out["save_ms"] = round((time.perf_counter() - t) * 1000, 1)
        _settle(app, 30)
        out["save_stall_ms"] = beat.stop()
        out["save_stall_gui_cpu_ms"] = round(beat.longest_cpu_ms, 1)

        window.actions["undo"].trigger()  # dirty again: an autosave has something to write
        _settle(app, 20)
        beat.start()
        window.autosaver.flush_in_background()
        _wait_for(app, lambda: _idle(window))
        _settle(app, 30)
        out["autosave_stall_ms"] = beat.stop()
        out["autosave_stall_gui_cpu_ms"] = round(beat.longest_cpu_ms, 1)
        out.update({f"{name}_cpu_ms": ms for name, ms in CPU.items()})
        out["full_collections"] = getattr(collector, "full_collections", 0) - fulls
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        window.autosaver.timer.stop()
        if session is not None:
            session.mark_clean_for_close()
        else:
            window.undo_stack.setClean()
            window._dirty_without_undo = False
        window.close()
        window.deleteLater()
        _settle(app, 50)
    # Offscreen Qt crashes at exit with our mime data still on its clipboard.
    app.clipboard().clear()
    _settle(app, 10)
    return out


def _far(window):
    from PySide6.QtCore import QPointF

    return QPointF(0.0, 400_000.0)


def _idle(window) -> bool:
    session = getattr(window, "session", None)
    return session is None or not session.busy()


def main() -> None:
    """Run each size in its own process (or one size with --n)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="one size, in this process")
    parser.add_argument("--profile", help="write a cProfile of the timed part here")
    parser.add_argument("--label", default="", help="a tag added to each line (before/after)")
    parser.add_argument(
        "--no-gc-guard",
        action="store_true",
        help="leave Python's collector automatic (the app collects on the GUI thread)",
    )
    args = parser.parse_args()
    if args.n:
        result = run(args.n, args.profile, guard=not args.no_gc_guard)
        if args.label:
            result["label"] = args.label
        print(json.dumps(result), flush=True)
        return
    for n in (2000, 10_000):
        cmd = [sys.executable, __file__, "--n", str(n)]
        if args.label:
            cmd += ["--label", args.label]
        if args.no_gc_guard:
            cmd.append("--no-gc-guard")
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
