"""The per-node record of a run: what each node received, item counts, status, timings.

:class:`NodeDataRecorder` is an event listener (the runner adds it beside the output
recorder of ``engine/records.py``). For each node it keeps, from the events of
``engine/events.py``:

- ``inputs``: ``{port: value}`` of ``node_inputs``, capped at once (per node, and for
  the whole run) with the marker of ``engine/records.py``, so no reference to a large
  value is held; masked when the rows are built (every secret loaded by then is known);
- ``input_counts`` / ``output_counts``: ``{port: items}`` counted on the values
  themselves, before any cap (:func:`item_count`);
- ``status``: ``success`` (``node_finished``), ``error`` (``node_failed``, handled or
  not), ``skipped`` (``node_skipped``: branch not taken / input skipped) or
  ``cancelled`` (``node_skipped`` because the run was stopped while the node ran);
- ``origin`` (``run`` / ``pinned`` / ``reused``, from ``node_inputs``), ``runs`` (a node
  inside a loop body is reached once per item; the record keeps the last time), the
  error text, and the start and finish times.

Outputs themselves are not kept here: ``executions.output_data`` already holds them.
:meth:`NodeDataRecorder.rows` gives the rows ``store/repositories/node_data.py`` writes.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from glyphic_desktop.engine.events import (
    NodeFailed,
    NodeFinished,
    NodeInputs,
    NodeOutput,
    NodeSkipped,
    RunEvent,
)
from glyphic_desktop.engine.records import (
    DEFAULT_NODE_OUTPUT_CAP,
    DEFAULT_TOTAL_OUTPUT_CAP,
    cap_value,
)

log = logging.getLogger(__name__)

#: ``node_skipped`` reasons that mean "stopped while running", not "not taken".
STOPPED_REASONS = frozenset({"stopped", "run stopped", "cancelled", "run cancelled"})
_TRACKED = frozenset({NodeInputs, NodeOutput, NodeFinished, NodeFailed, NodeSkipped})
#: The order of a row's values when it is a list (``store/repositories/node_data.py``'s
#: ``ROW_KEYS``, which a test keeps equal).
ROW_FIELDS = (
    "node_id",
    "node_type",
    "status",
    "origin",
    "inputs",
    "input_counts",
    "output_counts",
    "error",
    "runs",
    "started_us",
    "finished_us",
)
_SMALL = 16  # a dict of at most this many plain values is kept as a shallow copy
_PLAIN = frozenset({int, bool, type(None)})


def _node_of(row: Any) -> str:
    return row[0] if isinstance(row, list) else row["node_id"]


def _small_copy(value: Any) -> tuple[dict[str, Any], int] | None:
    """(a shallow copy, its size) of a small dict of plain JSON scalars, else None: the
    common case of a node's input, kept without the general walk of ``cap_value``."""
    if type(value) is not dict or len(value) > _SMALL:
        return None
    size = 2
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return None
        if kind is str:
            if len(item) > 256:
                return None
            size += len(item) + len(key) + 6
        elif kind in _PLAIN:
            size += len(key) + 12
        else:
            return None
    return dict(value), size


def item_count(value: Any) -> int:
    """How many items a port value holds: a list's (tuple's) length, 0 for None, else 1."""
    if isinstance(value, list | tuple):
        return len(value)
    return 0 if value is None else 1


def _counts(values: Mapping[str, Any]) -> dict[str, int]:
    if len(values) == 1:  # the common case: one port
        for port, value in values.items():
            kind = type(value)
            return {port: 1 if kind is dict else len(value) if kind is list else item_count(value)}
    counts: dict[str, int] = {}
    for port, value in values.items():
        kind = type(value)
        if kind is dict:
            counts[port] = 1
        elif kind is list:
            counts[port] = len(value)
        else:
            counts[port] = item_count(value)
    return counts


class _Entry:
    __slots__ = (
        "error",
        "finished",
        "input_counts",
        "inputs",
        "node_type",
        "origin",
        "output_counts",
        "runs",
        "sent",
        "started",
        "status",
    )

    def __init__(self, node_type: str) -> None:
        self.node_type = node_type
        self.status = "success"
        self.origin = "run"
        self.inputs: dict[str, Any] | None = None
        self.input_counts: dict[str, int] | None = None
        self.output_counts: dict[str, int] | None = None
        self.error: str | None = None
        self.runs = 0
        self.started: float | None = None
        self.finished: float | None = None
        self.sent = False  # its row went to the stream


class NodeDataRecorder:
    """Listener building one ``execution_node_data`` row per node (see the module docstring).

    ``seeds`` gives, for nodes whose outputs a partial run re-uses, the inputs they had in
    the run they come from (``{node_id: (inputs, input_counts)}``), kept as their record.
    """

    def __init__(
        self,
        *,
        node_cap: int = DEFAULT_NODE_OUTPUT_CAP,
        total_cap: int = DEFAULT_TOTAL_OUTPUT_CAP,
        masker: Any = None,
        seeds: Mapping[str, tuple[Mapping[str, Any], Mapping[str, int]]] | None = None,
        stream: NodeRowStream | None = None,
    ) -> None:
        self.node_cap = node_cap
        self.total_cap = total_cap
        self.masker = masker
        self.seeds = dict(seeds or {})
        self.entries: dict[str, _Entry] = {}
        self.spent = 0
        #: Where a node's row goes as soon as it is final (None: all rows at the end).
        self.stream = stream
        #: Nodes whose row was streamed, then changed (reached again in a loop).
        self.rewrite: set[str] = set()

    def __call__(self, event: RunEvent) -> None:
        kind = type(event)
        if kind not in _TRACKED:
            return
        entry = self.entries.get(event.node_id)  # type: ignore[attr-defined]
        if entry is None:
            entry = self.entries[event.node_id] = _Entry(event.node_type)  # type: ignore[attr-defined]
        if entry.sent:  # streamed already: it changes again, so it is written again
            entry.sent = False
            self.rewrite.add(event.node_id)  # type: ignore[attr-defined]
        if kind is NodeInputs:
            self._inputs(entry, event)  # type: ignore[arg-type]
        elif kind is NodeOutput:
            entry.output_counts = _counts(event.outputs)  # type: ignore[attr-defined]
        elif kind is NodeFinished:
            entry.status = "success"
            entry.finished = event.time
            if self.stream is not None:
                self._send(event.node_id, entry)  # type: ignore[attr-defined]
        elif kind is NodeFailed:
            entry.status = "error"
            entry.error = event.error  # type: ignore[attr-defined]
            entry.finished = event.time
            # (a handled failure's error output follows: it is sent at the end)
        elif kind is NodeSkipped:
            if event.reason in STOPPED_REASONS:  # type: ignore[attr-defined]
                entry.status = "cancelled"
            else:  # not reached this time: nothing of an earlier pass is "its last run"
                entry.status = "skipped"
                entry.inputs = entry.input_counts = entry.output_counts = None
                entry.error = None
                entry.started = None
            entry.finished = event.time
            if self.stream is not None:
                self._send(event.node_id, entry)  # type: ignore[attr-defined]

    def _send(self, node_id: str, entry: _Entry) -> None:
        if node_id in self.rewrite:  # reached more than once (a loop body): at the end
            return
        entry.sent = True
        self.stream.put(self._values(node_id, entry))  # type: ignore[union-attr]

    def _inputs(self, entry: _Entry, event: NodeInputs) -> None:
        entry.runs += 1
        entry.status = "success"
        entry.origin = event.origin
        entry.error = None
        entry.output_counts = None
        entry.finished = None
        entry.started = event.time
        seed = self.seeds.get(event.node_id) if event.origin == "reused" else None
        if seed is not None:
            entry.inputs, entry.input_counts = dict(seed[0]), dict(seed[1])
            return
        inputs = event.inputs
        entry.input_counts = _counts(inputs)
        if not inputs:
            entry.inputs = {}
            return
        allowance = max(0, min(self.node_cap, self.total_cap - self.spent))
        masker = self.masker or None  # previews are masked before they are cut
        capped: dict[str, Any] = {}
        for port, value in inputs.items():
            small = _small_copy(value)
            if small is not None and small[1] <= allowance:
                capped[str(port)], size = small
            else:
                capped[str(port)], size = cap_value(value, allowance, masker)
            allowance = max(0, allowance - size)
            self.spent += size
        entry.inputs = capped

    def status_of(self, node_id: str) -> str | None:
        """The recorded status of a node (None when no event named it)."""
        entry = self.entries.get(node_id)
        return entry.status if entry is not None else None

    def _values(self, node_id: str, entry: _Entry) -> list[Any]:
        """A row as a list in :data:`ROW_FIELDS` order (what the stream sends)."""
        inputs, error = entry.inputs, entry.error
        masker = self.masker
        if masker:
            if inputs:
                inputs = masker.mask(inputs)
            if error:
                error = masker.mask(error)
        return [
            node_id,
            entry.node_type,
            entry.status,
            entry.origin,
            inputs,
            entry.input_counts,
            entry.output_counts,
            error,
            max(entry.runs, 1),
            None if entry.started is None else int(entry.started * 1_000_000),
            None if entry.finished is None else int(entry.finished * 1_000_000),
        ]

    def rows(self) -> list[dict[str, Any]]:
        """Every node's row for ``NodeDataRepository.write`` (inputs and errors masked)."""
        return [
            dict(zip(ROW_FIELDS, self._values(node_id, entry), strict=True))
            for node_id, entry in self.entries.items()
        ]

    def remaining(self) -> list[list[Any]]:
        """The rows not streamed yet (or changed since), as lists in :data:`ROW_FIELDS`
        order: what :meth:`NodeRowStream.close` writes last, after deleting the stale rows
        of :attr:`rewrite`."""
        return [
            self._values(node_id, entry)
            for node_id, entry in self.entries.items()
            if not entry.sent
        ]


class NodeRowStream:
    """Writes nodes' rows while the run goes on: a background thread inserts a batch every
    ``flush_interval`` seconds (or ``batch_size`` rows), so the database works while the
    engine runs the next nodes. :meth:`close` writes the rest and waits. A failing batch is
    logged and its rows are written again by :meth:`close`; nothing is raised into the run.
    """

    def __init__(
        self,
        db: Any,
        user_id: Any,
        execution_id: Any,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.05,
    ) -> None:
        self.db = db
        self.user_id = user_id
        self.execution_id = execution_id
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.written = 0
        self.errors = 0
        self._pending: deque[Any] = deque()  # append / popleft are thread-safe
        self._failed: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="glyphic-node-rows", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> None:
        """Queue one row (called on the engine's thread; no lock unless a batch is full)."""
        pending = self._pending
        pending.append(row)
        if len(pending) >= self.batch_size:
            with self._cond:
                self._cond.notify()

    def _take(self) -> list[Any]:
        pending, batch = self._pending, []
        while pending:
            batch.append(pending.popleft())
        return batch

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._closing and len(self._pending) < self.batch_size:
                    self._cond.wait(self.flush_interval)
                closing = self._closing
            batch = self._take()
            if batch:
                self._write(batch, ())
            if closing and not self._pending:
                return

    def _write(self, rows: list[dict[str, Any]], stale: Any) -> bool:
        from glyphic_desktop.store.repositories.node_data import NodeDataRepository

        try:
            with self.db.session() as session:
                repo = NodeDataRepository(session, self.user_id)
                if stale:
                    repo.delete(self.execution_id, stale)
                repo.write(self.execution_id, rows)
        except Exception:
            self.errors += 1
            log.warning(
                "could not record the node data of execution %s", self.execution_id, exc_info=True
            )
            if not stale:
                self._failed.extend(rows)
            return False
        self.written += len(rows)
        return True

    def close(
        self, rows: list[dict[str, Any]] = (), rewrite: Any = (), timeout: float = 30.0
    ) -> None:
        """Write what is queued, then ``rows`` (replacing the streamed rows of ``rewrite``)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        failed, self._failed = self._failed, []
        stale = set(rewrite) | {_node_of(row) for row in failed}
        last = {_node_of(row): row for row in failed}
        last.update({_node_of(row): row for row in rows})
        if last or stale:
            self._write(list(last.values()), stale or ())
