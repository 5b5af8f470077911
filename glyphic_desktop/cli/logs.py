"""`glyphic logs EXECUTION [--follow] [--level L] [--node N] [--json]`: a run's log.

Prints a past or running execution's stored log lines the way ``glyphic run`` shows a
live one (the same :class:`~glyphic_desktop.engine.sinks.TerminalSink` formatter: time,
level, ``[node label]``, message, data; ✓ / ✗ for finished and failed nodes). ``--follow``
keeps polling a running execution for new lines until it ends. ``--level`` keeps lines
at that level or above; ``--node`` one node's lines (its id or label).

Exit codes: 0 when the log was printed (whatever the run's status); 2 for an unknown
execution or node; 3 when the database is unreachable.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from glyphic_desktop.errors import NotFoundError, UsageError

LEVEL_ORDER = ("debug", "info", "warn", "error")
POLL_SECONDS = 0.5

_FINISHED = re.compile(r"^finished in (?P<ms>[\d.]+) ms$")
_FAILED = re.compile(r"^failed(?P<handled> \(continued\))?: (?P<error>.*)$", re.S)
_RUN_STARTED = re.compile(r"^run started \((?P<trigger>[^,]*), (?P<count>\d+) nodes\)$")
_RUN_DONE = re.compile(r"^run (?P<status>completed|cancelled) (?:in|after) (?P<ms>[\d.]+) ms$")
_RUN_FAILED = re.compile(r"^run failed: (?P<error>.*)$", re.S)


def _level(text: str) -> str:
    value = text.lower()
    if value == "warning":
        value = "warn"
    if value not in LEVEL_ORDER:
        raise argparse.ArgumentTypeError(
            f"the level must be one of {', '.join(LEVEL_ORDER)}, not {text!r}"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `logs` command."""
    parser = subparsers.add_parser(
        "logs",
        help="print a run's log (as 'glyphic run' shows it); --follow a running one",
        description="Print the log of a past or running execution ('glyphic runs' lists "
        "them), formatted as 'glyphic run' prints a live one.",
    )
    parser.add_argument("execution", metavar="EXECUTION", help="the execution id")
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the run ends"
    )
    parser.add_argument(
        "--level",
        type=_level,
        default="debug",
        metavar="L",
        help="only lines at this level or above: debug (default), info, warn, error",
    )
    parser.add_argument("--node", metavar="N", help="only this node's lines (its id or label)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.set_defaults(handler=logs_command)


def record_event(record: Any, labels: dict[str, str], execution_id: str) -> Any:
    """The run event a stored log row was written from, so it prints as it did live."""
    from glyphic_desktop.engine import events

    stamp = record.timestamp.timestamp() if record.timestamp is not None else time.time()
    message = record.message or ""
    if not record.node_id:
        if match := _RUN_STARTED.match(message):
            return events.RunStarted(
                execution_id,
                trigger=match["trigger"],
                node_count=int(match["count"]),
                time=stamp,
            )
        if match := _RUN_DONE.match(message):
            return events.RunFinished(
                execution_id, status=match["status"], duration_ms=float(match["ms"]), time=stamp
            )
        if (match := _RUN_FAILED.match(message)) and record.level == "error":
            return events.RunFinished(
                execution_id, status="failed", error=match["error"], time=stamp
            )
    node = (record.node_id or "", record.node_type or "", labels.get(record.node_id or "", ""))
    if record.node_id:
        if (match := _FINISHED.match(message)) and record.level == "info":
            return events.NodeFinished(
                execution_id, *node, duration_ms=float(match["ms"]), time=stamp
            )
        if (match := _FAILED.match(message)) and record.level in ("warn", "error"):
            return events.NodeFailed(
                execution_id,
                *node,
                error=match["error"],
                handled=bool(match["handled"]),
                time=stamp,
            )
    return events.LogLine(
        execution_id,
        *node,
        level=record.level,
        message=message,
        data=record.data,
        time=stamp,
    )


def _node_filter(document: Any, wanted: str | None) -> str | None:
    """The node id ``--node`` names (an id, else a unique label); UsageError otherwise."""
    if wanted is None:
        return None
    nodes = list(document.nodes)
    for node in nodes:
        if node.id == wanted:
            return node.id
    matches = [node.id for node in nodes if (node.data.label or "") == wanted]
    if not matches:
        matches = [n.id for n in nodes if (n.data.label or "").casefold() == wanted.casefold()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(f"several nodes are labelled {wanted!r}; give the node id")
    from glyphic_desktop.store.repositories.workflows import did_you_mean

    names = [n.id for n in nodes] + [n.data.label for n in nodes if n.data.label]
    raise UsageError(f"no node {wanted!r} in this workflow{did_you_mean(wanted, names)}")


def logs_command(args: argparse.Namespace) -> int:
    """Handler of `glyphic logs`."""
    from glyphic_desktop.cli.common import open_user_database
    from glyphic_desktop.engine.sinks import TerminalSink
    from glyphic_desktop.store.repositories.executions import ExecutionRepository
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    try:
        import uuid  # not at the top: it imports platform (slow --help)

        execution_id = uuid.UUID(args.execution.strip())
    except ValueError:
        raise UsageError(
            f"{args.execution!r} is not an execution id ('glyphic runs' lists them)"
        ) from None
    db, user_id = open_user_database()
    try:
        with db.session() as session:
            try:
                execution = ExecutionRepository(session, user_id).get(execution_id)
            except NotFoundError:
                raise NotFoundError(
                    f"no execution with id {execution_id} ('glyphic runs' lists them)"
                ) from None
            document = WorkflowRepository(session, user_id).get(execution.workflow_id).document
        labels = {node.id: node.data.label or "" for node in document.nodes}
        node_id = _node_filter(document, args.node)
        minimum = LEVEL_ORDER.index(args.level)
        sink = TerminalSink(sys.stdout, json_lines=args.json, verbose=True)
        seen: int | None = None
        last_pass = not args.follow
        while True:
            with db.session() as session:
                repo = ExecutionRepository(session, user_id)
                status = repo.get(execution_id).status
                records = repo.logs(execution_id, node_id=node_id, after_seq=seen)
            for record in records:
                seen = record.seq
                level = record.level if record.level in LEVEL_ORDER else "info"
                if LEVEL_ORDER.index(level) < minimum:
                    continue
                sink(record_event(record, labels, str(execution_id)))
            if last_pass:
                break
            # one more read after the run ends, for lines its log writer flushed last
            last_pass = status not in ("pending", "running")
            time.sleep(POLL_SECONDS)
        if args.follow and not args.json:
            print(f"execution {execution_id}: {status}", file=sys.stderr)
        return 0
    finally:
        db.dispose()
