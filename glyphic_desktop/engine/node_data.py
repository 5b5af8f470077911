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

#: ``node_skipped`` reasons that mean "stopped while running", not "not taken".
STOPPED_REASONS = frozenset({"stopped", "run stopped", "cancelled", "run cancelled"})
_TRACKED = frozenset({NodeInputs, NodeOutput, NodeFinished, NodeFailed, NodeSkipped})


def item_count(value: Any) -> int:
    """How many items a port value holds: a list's (tuple's) length, 0 for None, else 1."""
    if isinstance(value, list | tuple):
        return len(value)
    return 0 if value is None else 1


def _counts(values: Mapping[str, Any]) -> dict[str, int]:
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
    ) -> None:
        self.node_cap = node_cap
        self.total_cap = total_cap
        self.masker = masker
        self.seeds = dict(seeds or {})
        self.entries: dict[str, _Entry] = {}
        self.spent = 0

    def __call__(self, event: RunEvent) -> None:
        kind = type(event)
        if kind not in _TRACKED:
            return
        entry = self.entries.get(event.node_id)  # type: ignore[attr-defined]
        if entry is None:
            entry = self.entries[event.node_id] = _Entry(event.node_type)  # type: ignore[attr-defined]
        if kind is NodeInputs:
            self._inputs(entry, event)  # type: ignore[arg-type]
        elif kind is NodeOutput:
            entry.output_counts = _counts(event.outputs)  # type: ignore[attr-defined]
        elif kind is NodeFinished:
            entry.status = "success"
            entry.finished = event.time
        elif kind is NodeFailed:
            entry.status = "error"
            entry.error = event.error  # type: ignore[attr-defined]
            entry.finished = event.time
        elif kind is NodeSkipped:
            if event.reason in STOPPED_REASONS:  # type: ignore[attr-defined]
                entry.status = "cancelled"
            else:  # not reached this time: nothing of an earlier pass is "its last run"
                entry.status = "skipped"
                entry.inputs = entry.input_counts = entry.output_counts = None
                entry.error = None
                entry.started = None
            entry.finished = event.time

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
            capped[str(port)], size = cap_value(value, allowance, masker)
            allowance = max(0, allowance - size)
            self.spent += size
        entry.inputs = capped

    def status_of(self, node_id: str) -> str | None:
        """The recorded status of a node (None when no event named it)."""
        entry = self.entries.get(node_id)
        return entry.status if entry is not None else None

    def rows(self) -> list[dict[str, Any]]:
        """The rows for ``NodeDataRepository.write`` (inputs and errors masked)."""
        masker = self.masker
        masking = bool(masker)
        rows: list[dict[str, Any]] = []
        for node_id, entry in self.entries.items():
            inputs, error = entry.inputs, entry.error
            if masking:
                if inputs:
                    inputs = masker.mask(inputs)
                if error:
                    error = masker.mask(error)
            rows.append(
                {
                    "node_id": node_id,
                    "node_type": entry.node_type,
                    "status": entry.status,
                    "origin": entry.origin,
                    "inputs": inputs,
                    "input_counts": entry.input_counts,
                    "output_counts": entry.output_counts,
                    "error": error,
                    "runs": max(entry.runs, 1),
                    "started": entry.started,
                    "finished": entry.finished,
                }
            )
        return rows
