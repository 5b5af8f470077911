"""`glyphic list`, `glyphic show WORKFLOW` and `glyphic runs [WORKFLOW]`: what is stored.

    glyphic list [--json]
    glyphic show WORKFLOW [--json]
    glyphic runs [WORKFLOW] [--status S] [--limit N] [--json]

WORKFLOW is resolved like everywhere else (an id, an exact name, a unique name in any
case; else one line with the closest names, exit 2).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from glyphic_desktop.cli.common import (
    iso,
    positive_int,
    print_table,
    resolve_workflow,
    user_session,
    when,
)

if TYPE_CHECKING:
    import uuid

# executions.status (ck_executions_status), kept here so `runs --help` imports no models.
RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "waiting")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `list`, `show` and `runs` commands."""
    listing = subparsers.add_parser(
        "list",
        help="list workflows: tags, active, schedules, last run and its status",
        description="List your stored workflows, most recently changed first.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    show = subparsers.add_parser(
        "show",
        help="show a workflow: nodes, schedules, webhooks, last runs",
        description="Show one stored workflow: its nodes, schedules, webhooks and last runs.",
    )
    show.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name or id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_show)

    runs = subparsers.add_parser(
        "runs",
        help="list recent runs (executions), of one workflow or all",
        description="List recent runs, newest first. 'glyphic logs ID' prints one's log.",
    )
    runs.add_argument("workflow", metavar="WORKFLOW", nargs="?", help="only this workflow's runs")
    runs.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    runs.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="at most N runs (default 20)"
    )
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=cmd_runs)


def _schedule_counts(session: Any, user_id: uuid.UUID) -> dict[uuid.UUID, tuple[int, int]]:
    from sqlalchemy import text

    rows = session.execute(
        text(
            "SELECT workflow_id, count(*) FILTER (WHERE is_active) AS active, count(*) AS total "
            "FROM schedules WHERE user_id = :uid GROUP BY workflow_id"
        ),
        {"uid": user_id},
    )
    return {row.workflow_id: (int(row.active), int(row.total)) for row in rows}


def cmd_list(args: argparse.Namespace) -> int:
    """`glyphic list`: one line per workflow."""
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    with user_session() as (session, user_id):
        workflows = WorkflowRepository(session, user_id).list()
        schedules = _schedule_counts(session, user_id)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": str(w.id),
                        "name": w.name,
                        "tags": list(w.tags),
                        "active": w.is_active,
                        "version": w.version,
                        "schedules": schedules.get(w.id, (0, 0))[1],
                        "schedules_active": schedules.get(w.id, (0, 0))[0],
                        "last_run_at": iso(w.last_run_at),
                        "last_status": w.last_status,
                        "updated_at": iso(w.updated_at),
                    }
                    for w in workflows
                ],
                indent=2,
            )
        )
        return 0
    if not workflows:
        print("no workflows yet ('glyphic import FILE' stores one)")
        return 0
    rows = []
    for w in workflows:
        active, total = schedules.get(w.id, (0, 0))
        rows.append(
            (
                w.name,
                ", ".join(w.tags) or "-",
                "yes" if w.is_active else "no",
                f"{active}/{total}" if total else "-",
                when(w.last_run_at),
                w.last_status or "-",
            )
        )
    print_table(("NAME", "TAGS", "ACTIVE", "SCHEDULES", "LAST RUN", "STATUS"), rows)
    return 0


def _runs(
    session: Any,
    user_id: uuid.UUID,
    *,
    workflow_id: uuid.UUID | None,
    status: str | None,
    limit: int,
) -> list[Any]:
    from sqlalchemy import text

    where = ["e.user_id = :uid"]
    params: dict[str, Any] = {"uid": user_id, "limit": limit}
    if workflow_id is not None:
        where.append("e.workflow_id = :wid")
        params["wid"] = workflow_id
    if status:
        where.append("e.status = :status")
        params["status"] = status
    return session.execute(
        text(
            "SELECT e.id, e.workflow_id, w.name AS workflow_name, e.status, e.trigger_type, "
            "e.created_at, e.started_at, e.completed_at, e.duration_ms, e.error_message "
            "FROM executions e JOIN workflows w ON w.id = e.workflow_id "
            f"WHERE {' AND '.join(where)} ORDER BY e.created_at DESC, e.id LIMIT :limit"
        ),
        params,
    ).all()


def _run_dict(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "workflow_id": str(row.workflow_id),
        "workflow": row.workflow_name,
        "status": row.status,
        "trigger": row.trigger_type,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "completed_at": iso(row.completed_at),
        "duration_ms": row.duration_ms,
        "error": row.error_message,
    }


def _first_line(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _run_rows(rows: list[Any], *, with_workflow: bool) -> list[tuple[str, ...]]:
    out = []
    for row in rows:
        duration = f"{row.duration_ms} ms" if row.duration_ms is not None else "-"
        cells = [str(row.id), row.status, row.trigger_type or "-"]
        cells += [when(row.started_at or row.created_at), duration]
        if with_workflow:
            cells.insert(1, row.workflow_name)
        cells.append(_first_line(row.error_message))
        out.append(tuple(cells))
    return out


def cmd_runs(args: argparse.Namespace) -> int:
    """`glyphic runs`: recent executions, newest first."""
    with user_session() as (session, user_id):
        workflow_id = None
        if args.workflow:
            workflow_id = resolve_workflow(session, user_id, args.workflow).id
        rows = _runs(
            session, user_id, workflow_id=workflow_id, status=args.status, limit=args.limit
        )
    if args.json:
        print(json.dumps([_run_dict(row) for row in rows], indent=2))
        return 0
    if not rows:
        print("no runs" + (f" with status {args.status}" if args.status else ""))
        return 0
    headers = ["EXECUTION", "STATUS", "TRIGGER", "STARTED", "DURATION", "ERROR"]
    if workflow_id is None:
        headers.insert(1, "WORKFLOW")
    print_table(headers, _run_rows(rows, with_workflow=workflow_id is None))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """`glyphic show WORKFLOW`: nodes, schedules, webhooks, last runs."""
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        record = resolve_workflow(session, user_id, args.workflow)
        schedules = ScheduleRepository(session, user_id).list(workflow_id=record.id)
        webhooks = [
            hook
            for hook in WebhookRepository(session, user_id, keyset=None).list()
            if hook.workflow_id == record.id
        ]
        runs = _runs(session, user_id, workflow_id=record.id, status=None, limit=5)
    nodes = list(record.document.nodes)
    edges = list(record.document.edges)
    if args.json:
        print(
            json.dumps(
                {
                    "id": str(record.id),
                    "name": record.name,
                    "description": record.description,
                    "tags": list(record.tags),
                    "active": record.is_active,
                    "version": record.version,
                    "trusted": record.trusted,
                    "updated_at": iso(record.updated_at),
                    "nodes": [
                        {
                            "id": node.id,
                            "type": node.type,
                            "label": node.data.label or None,
                            "disabled": bool(getattr(node.data, "disabled", False)),
                        }
                        for node in nodes
                    ],
                    "edges": len(edges),
                    "schedules": [
                        {
                            "id": str(s.id),
                            "name": s.name,
                            "cron": s.cron_expression,
                            "timezone": s.timezone,
                            "active": s.is_active,
                            "next_run_at": iso(s.next_run_at),
                        }
                        for s in schedules
                    ],
                    "webhooks": [
                        {
                            "id": str(h.id),
                            "path": h.url_path,
                            "method": h.method,
                            "active": h.is_active,
                        }
                        for h in webhooks
                    ],
                    "runs": [_run_dict(row) for row in runs],
                },
                indent=2,
            )
        )
        return 0
    print(f"{record.name}  ({record.id}, version {record.version})")
    if record.description:
        print(f"  {record.description}")
    state = "active" if record.is_active else "inactive"
    trust = "" if record.trusted else f"; untrusted nodes: {', '.join(record.untrusted_nodes)}"
    print(f"  {state}; tags: {', '.join(record.tags) or '-'}; changed {when(record.updated_at)}")
    if trust:
        print(f"  {trust[2:]} (glyphic trust)")
    print(f"\nnodes ({len(nodes)}, {len(edges)} connections)")
    print_table(
        ("  ID", "TYPE", "LABEL"),
        ((f"  {node.id}", node.type, (node.data.label or "-") + _flags(node)) for node in nodes),
    )
    print(f"\nschedules ({len(schedules)})")
    if schedules:
        print_table(
            ("  NAME", "CRON", "TIMEZONE", "STATE", "NEXT RUN"),
            (
                (
                    f"  {s.name}",
                    s.cron_expression,
                    s.timezone,
                    "active" if s.is_active else "paused",
                    when(s.next_run_at),
                )
                for s in schedules
            ),
        )
    print(f"\nwebhooks ({len(webhooks)})")
    if webhooks:
        print_table(
            ("  PATH", "METHOD", "STATE"),
            (
                (f"  {h.url_path}", h.method, "enabled" if h.is_active else "disabled")
                for h in webhooks
            ),
        )
    print(f"\nlast runs ({len(runs)})")
    if runs:
        print_table(
            ("  EXECUTION", "STATUS", "TRIGGER", "STARTED", "DURATION", "ERROR"),
            ((f"  {cells[0]}", *cells[1:]) for cells in _run_rows(runs, with_workflow=False)),
        )
    return 0


def _flags(node: Any) -> str:
    flags = []
    if getattr(node.data, "disabled", False):
        flags.append("disabled")
    if getattr(node.data, "pinnedData", None):
        flags.append("pinned")
    return f" ({', '.join(flags)})" if flags else ""
