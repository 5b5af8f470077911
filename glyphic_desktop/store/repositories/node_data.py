"""What each node of a run received, produced and how it ended (``execution_node_data``).

A run (``engine/runner.py``) writes one row per node that took part in it, in the same
transaction as its final status; the node's outputs stay in ``executions.output_data``.
Reading joins both back into one :class:`NodeRecord` per node, which is what the
editor's data panel, the canvas badges and edge counts, and partial runs use::

    records = node_records(db, execution_id)          # {node_id: NodeRecord}
    latest = latest_node_records(db, workflow_id)     # the workflow's last finished run
    if latest:
        latest.records["fetch"].outputs["output"]      # capped and masked, as stored
        latest.records["fetch"].output_counts          # {"output": 120}
        edge_item_counts(document, latest.records)     # {edge id: items it carried}

Values are as stored: JSON data, capped per node with the marker of
``engine/records.py`` (``{"__truncated__": true, "bytes": N, "preview": "..."}``) and with
secrets masked. :attr:`NodeRecord.complete` says whether nothing was capped (a partial
run only re-uses complete records).

``latest_node_records`` reads the last finished run; when that run was partial (run one
node / to a node / from a node, ``trigger_data.partial``), nodes it did not include are
filled in from the runs before it, newest first, back to the last full run, so a
"run this node" never blanks the rest of the canvas. Each record says which execution
it came from (``execution_id``).

Every read is scoped to the user (``user_id``; by default the current user of ``db``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from glyphic_desktop.document.truncation import has_truncation_marker
from glyphic_desktop.errors import NotFoundError
from glyphic_desktop.store.models import Execution
from glyphic_desktop.store.repositories.ids import parse_id

if TYPE_CHECKING:
    from glyphic_desktop.store.database import Database

FINISHED = ("completed", "failed", "cancelled")
#: How many earlier runs ``latest`` looks through to fill in nodes a partial run left out.
FILL_IN_RUNS = 20

_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")

#: The order of a row's values in the compact JSON array :meth:`write` sends.
ROW_KEYS = (
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

# One statement for every row: a JSON array of arrays (no repeated keys), expanded by
# the server. Each JSON null stays SQL NULL (jsonb 'null' is turned into NULL).
_INSERT = text(
    """
    INSERT INTO execution_node_data (
      execution_id, node_id, node_type, status, origin, inputs, input_counts,
      output_counts, error, runs, started_at, finished_at)
    SELECT CAST(:execution_id AS uuid), v->>0, v->>1, v->>2, coalesce(v->>3, 'run'),
           nullif(v->4, 'null'), nullif(v->5, 'null'), nullif(v->6, 'null'), v->>7,
           coalesce((v->>8)::integer, 1), to_timestamp((v->>9)::bigint / 1e6),
           to_timestamp((v->>10)::bigint / 1e6)
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r(v)
    """
)


@dataclass(frozen=True)
class NodeRecord:
    """One node of one run: what it received, what it produced, how it ended.

    ``status``: ``success`` / ``error`` / ``skipped`` / ``cancelled``. ``origin``:
    ``run`` (its ``run`` was called), ``pinned`` (its pinned data stood in),
    ``reused`` (a partial run took its outputs from ``source_execution`` of the plan).
    ``inputs`` / ``outputs``: ``{port: value}`` as stored (capped, masked); a skipped
    node has neither. ``input_counts`` / ``output_counts``: ``{port: items}``; a port
    missing from ``outputs`` was not taken.
    """

    node_id: str
    status: str
    origin: str = "run"
    node_type: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    input_counts: dict[str, int] = field(default_factory=dict)
    output_counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    runs: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    execution_id: uuid.UUID | None = None

    @property
    def pinned(self) -> bool:
        """Whether the node's pinned data stood in for it."""
        return self.origin == "pinned"

    @property
    def duration_ms(self) -> float | None:
        """How long its last run took (None when it did not run)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000.0

    @property
    def complete(self) -> bool:
        """Whether its inputs and outputs were stored whole (nothing replaced by a marker)."""
        return not (has_truncation_marker(self.inputs) or has_truncation_marker(self.outputs))

    def __repr__(self) -> str:  # never format the values (they may be large)
        return (
            f"NodeRecord(node_id={self.node_id!r}, status={self.status!r}, "
            f"origin={self.origin!r}, output_counts={self.output_counts!r})"
        )


@dataclass(frozen=True)
class LatestRun:
    """The records :func:`latest_node_records` found: the run they come from, and them."""

    execution_id: uuid.UUID
    status: str
    partial: Mapping[str, Any] | None
    finished_at: datetime | None
    records: dict[str, NodeRecord]


def rows_json(rows: Iterable[Mapping[str, Any] | list[Any]]) -> str:
    """The JSON text of ``rows`` (mappings, or lists already in :data:`ROW_KEYS` order) for
    :meth:`NodeDataRepository.write`: an array of arrays in :data:`ROW_KEYS` order (NUL
    escapes, which PostgreSQL's jsonb refuses, become U+FFFD)."""
    compact = [row if type(row) is list else [row.get(key) for key in ROW_KEYS] for row in rows]
    try:  # orjson: about ten times faster than json; NaN / Infinity become null
        data = orjson.dumps(compact, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson refuses (lone surrogates, integers over 64 bits)
        data = json.dumps(compact, ensure_ascii=False, separators=(",", ":"), default=str)
    if "\\u0000" in data:
        data = _NUL_ESCAPE.sub(lambda m: m.group(1) + "\\ufffd", data)
    return data


def edge_item_counts(document: Any, records: Mapping[str, NodeRecord]) -> dict[int, int]:
    """``{edge id: items}`` for every edge whose source recorded a count on its port.

    An edge whose source port was not taken (or whose source has no record) is absent.
    """
    counts: dict[int, int] = {}
    for edge in document.edges:
        record = records.get(edge.source)
        if record is None:
            continue
        count = record.output_counts.get(edge.sourceHandle)
        if count is not None:
            counts[edge.id] = count
    return counts


class NodeDataRepository:
    """``execution_node_data`` of one user's runs, in the caller's session."""

    def __init__(self, session: Session, user_id: uuid.UUID | str) -> None:
        self.session = session
        self.user_id = parse_id(user_id, "execution")

    def write(
        self, execution_id: uuid.UUID | str, rows: Iterable[Mapping[str, Any] | list[Any]]
    ) -> int:
        """Insert the per-node rows of a run in one statement; returns how many were sent.

        Each row (a mapping, or a list of the values in :data:`ROW_KEYS` order):
        ``node_id``, ``status`` and optionally ``node_type``, ``origin``, ``inputs``,
        ``input_counts``, ``output_counts``, ``error``, ``runs``, ``started_us`` /
        ``finished_us`` (Unix time in whole microseconds). Values must already be
        JSON-ready, capped and masked.
        """
        rows = list(rows)
        if not rows:
            return 0
        execution_id = parse_id(execution_id, "execution")
        self.session.execute(_INSERT, {"execution_id": str(execution_id), "rows": rows_json(rows)})
        return len(rows)

    def delete(self, execution_id: uuid.UUID | str, node_ids: Iterable[str]) -> None:
        """Delete the rows of ``node_ids`` of one execution (rows written again replace them)."""
        execution_id = parse_id(execution_id, "execution")
        self.session.execute(
            text(
                "DELETE FROM execution_node_data WHERE execution_id = :id AND node_id = ANY(:ids)"
            ),
            {"id": execution_id, "ids": list(node_ids)},
        )

    def _check_owned(self, execution_id: uuid.UUID) -> Execution:
        row = self.session.get(Execution, execution_id)
        if row is None or row.user_id != self.user_id:
            raise NotFoundError(f"no execution with id {execution_id}")
        return row

    def records(
        self, execution_id: uuid.UUID | str, node_ids: Iterable[str] | None = None
    ) -> dict[str, NodeRecord]:
        """Every node record of the execution (or only ``node_ids``), outputs included."""
        execution_id = parse_id(execution_id, "execution")
        self._check_owned(execution_id)
        return self._records(execution_id, None if node_ids is None else list(node_ids))

    def record(self, execution_id: uuid.UUID | str, node_id: str) -> NodeRecord | None:
        """One node's record of the execution (None when the node took no part in it)."""
        return self.records(execution_id, [node_id]).get(node_id)

    def _records(
        self, execution_id: uuid.UUID, node_ids: list[str] | None
    ) -> dict[str, NodeRecord]:
        # Each query returns one JSON value (rows aggregated by the server), decoded once
        # instead of four small values per node.
        only = "" if node_ids is None else " AND node_id = ANY(:ids)"
        rows = self.session.execute(
            text(
                "SELECT coalesce(jsonb_agg(jsonb_build_array(node_id, status, origin, "
                "node_type, inputs, input_counts, output_counts, error, runs, "
                "extract(epoch FROM started_at), extract(epoch FROM finished_at))), '[]') "
                "FROM execution_node_data WHERE execution_id = :id" + only
            ),
            {"id": execution_id, "ids": node_ids},
        ).scalar_one()
        if not rows:
            return {}
        outputs = self.session.execute(
            text(
                "SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM executions, "
                "jsonb_each(CASE WHEN jsonb_typeof(output_data) = 'object' THEN output_data "
                "ELSE '{}'::jsonb END) WHERE id = :id AND key = ANY(:keys)"
            ),
            {"id": execution_id, "keys": [row[0] for row in rows]},
        ).scalar_one()
        found: dict[str, NodeRecord] = {}
        for (
            node_id,
            status,
            origin,
            node_type,
            inputs,
            input_counts,
            output_counts,
            error,
            runs,
            started,
            finished,
        ) in rows:
            produced = outputs.get(node_id)
            found[node_id] = NodeRecord(
                node_id=node_id,
                status=status,
                origin=origin,
                node_type=node_type,
                inputs=inputs if isinstance(inputs, dict) else {},
                outputs=produced if isinstance(produced, dict) else {},
                input_counts=input_counts or {},
                output_counts=output_counts or {},
                error=error,
                runs=runs,
                started_at=_moment(started),
                finished_at=_moment(finished),
                execution_id=execution_id,
            )
        return found

    def latest(self, workflow_id: uuid.UUID | str) -> LatestRun | None:
        """The records of the workflow's last finished run (see the module docstring)."""
        workflow_id = parse_id(workflow_id, "workflow")
        runs = self.session.execute(
            select(
                Execution.id,
                Execution.status,
                Execution.trigger_data,
                Execution.completed_at,
            )
            .where(
                Execution.workflow_id == workflow_id,
                Execution.user_id == self.user_id,
                Execution.status.in_(FINISHED),
            )
            .order_by(func.coalesce(Execution.completed_at, Execution.created_at).desc())
            .limit(FILL_IN_RUNS)
        ).all()
        if not runs:
            return None
        newest = runs[0]
        records: dict[str, NodeRecord] = {}
        for run_id, _status, trigger_data, _at in runs:
            for node_id, record in self._records(run_id, None).items():
                records.setdefault(node_id, record)
            if _partial_of(trigger_data) is None:
                break
        return LatestRun(
            execution_id=newest.id,
            status=newest.status,
            partial=_partial_of(newest.trigger_data),
            finished_at=newest.completed_at,
            records=records,
        )


def _moment(epoch: Any) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(float(epoch), UTC)


def _partial_of(trigger_data: Any) -> Mapping[str, Any] | None:
    if isinstance(trigger_data, Mapping):
        partial = trigger_data.get("partial")
        if isinstance(partial, Mapping):
            return partial
    return None


def _user(db: Database, user_id: uuid.UUID | str | None) -> uuid.UUID | str:
    if user_id is not None:
        return user_id
    from glyphic_desktop.store.repositories.users import current_user_id

    return current_user_id(db)


def node_records(
    db: Database, execution_id: uuid.UUID | str, *, user_id: uuid.UUID | str | None = None
) -> dict[str, NodeRecord]:
    """``{node_id: NodeRecord}`` of one execution (its own session)."""
    user = _user(db, user_id)
    with db.session() as session:
        return NodeDataRepository(session, user).records(execution_id)


def latest_node_records(
    db: Database, workflow_id: uuid.UUID | str, *, user_id: uuid.UUID | str | None = None
) -> LatestRun | None:
    """The node records of the workflow's last finished run (None before its first run)."""
    user = _user(db, user_id)
    with db.session() as session:
        return NodeDataRepository(session, user).latest(workflow_id)
