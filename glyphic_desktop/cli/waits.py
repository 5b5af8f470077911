"""`glyphic cancel EXECUTION` and `glyphic resume EXECUTION`: waiting runs.

    glyphic cancel EXECUTION    cancel a run stored as waiting (a long Wait node)
    glyphic resume EXECUTION    make a waiting run due now (an agent goes on with it)

EXECUTION is a run's id (`glyphic runs --status waiting` lists them). Exit 0 done,
2 no such run of yours or it is not waiting, 3 database unreachable.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cancel` and `resume` commands."""
    cancel = subparsers.add_parser(
        "cancel",
        help="cancel a waiting run (one a Wait node stored)",
        description="Cancel a run stored as waiting. It ends as cancelled and never resumes.",
    )
    cancel.add_argument("execution", metavar="EXECUTION", help="the run's execution id")
    cancel.set_defaults(handler=cmd_cancel)
    resume = subparsers.add_parser(
        "resume",
        help="resume a waiting run now",
        description="Make a waiting run due now: a running agent goes on with it within "
        "seconds (start one with 'glyphic agent').",
    )
    resume.add_argument("execution", metavar="EXECUTION", help="the run's execution id")
    resume.set_defaults(handler=cmd_resume)


def _change(execution: str, sql: str, verb: str) -> int:
    import uuid

    from sqlalchemy import text

    from glyphic_desktop.cli.common import user_session
    from glyphic_desktop.errors import NotFoundError

    try:
        key = uuid.UUID(execution)
    except ValueError:
        raise NotFoundError(f"{execution!r} is not an execution id") from None
    with user_session() as (session, user_id):
        done = session.execute(text(sql), {"id": key, "u": user_id}).first()
        if done is None:
            found = session.execute(
                text("SELECT status FROM executions WHERE id = :id AND user_id = :u"),
                {"id": key, "u": user_id},
            ).first()
            if found is None:
                raise NotFoundError(f"no execution {execution} of yours")
            raise NotFoundError(f"execution {execution} is {found.status}, not waiting")
    print(f"execution {execution} {verb}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """`glyphic cancel EXECUTION`."""
    from glyphic_desktop.engine.waits import CANCEL_SQL

    return _change(args.execution, CANCEL_SQL, "cancelled")


def cmd_resume(args: argparse.Namespace) -> int:
    """`glyphic resume EXECUTION`."""
    from glyphic_desktop.engine.waits import RESUME_SQL

    return _change(args.execution, RESUME_SQL, "resumed: due now")
