"""`glyphic run NAME --only NODE | --to NODE | --from NODE [--execution ID]`: partial runs.

``--only NODE`` runs the node alone with the inputs it received in the last run;
``--to NODE`` runs the node and the ancestors it needs; ``--from NODE`` runs the node and
everything downstream, re-using the recorded outputs of the nodes upstream. NODE is a node
id or label (a wrong one is exit 2 with the close matches). The records come from the
workflow's last finished run, or from ``--execution ID``. See ``engine/partial.py``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from glyphic_desktop.errors import UsageError

if TYPE_CHECKING:
    import uuid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--only`` / ``--to`` / ``--from`` (one of them) and ``--execution``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--only",
        metavar="NODE",
        help="run only this node (id or label), with the inputs it got in the last run",
    )
    group.add_argument(
        "--to", metavar="NODE", help="run this node and only the nodes it needs before it"
    )
    group.add_argument(
        "--from",
        dest="from_node",
        metavar="NODE",
        help="run this node and everything after it, re-using the recorded outputs upstream",
    )
    parser.add_argument(
        "--execution",
        metavar="ID",
        help="with --only / --from: take recorded data from this execution, not the last run",
    )


def requested(args: argparse.Namespace) -> tuple[str, str] | None:
    """(mode, node) of the partial run asked for, or None for a whole run."""
    for mode, value in (
        ("only", getattr(args, "only", None)),
        ("to", getattr(args, "to", None)),
        ("from", getattr(args, "from_node", None)),
    ):
        if value is not None:
            return mode, value
    if getattr(args, "execution", None):
        raise UsageError("--execution goes with --only NODE or --from NODE")
    return None


def plan_for(db: Any, user_id: uuid.UUID, record: Any, args: argparse.Namespace) -> Any:
    """The :class:`~glyphic_desktop.engine.partial.PartialPlan` ``args`` ask for (or None);
    its notes go to stderr unless ``--json``."""
    wanted = requested(args)
    if wanted is None:
        return None
    mode, node = wanted
    if mode == "to" and args.execution:
        raise UsageError("--execution goes with --only NODE or --from NODE, not --to")
    from glyphic_desktop.engine.partial import plan_from_store

    plan = plan_from_store(
        db,
        user_id,
        record.document,
        record.id,
        mode,
        node,
        execution_id=args.execution,
    )
    if not getattr(args, "json", False):
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)
    return plan
