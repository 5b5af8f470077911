"""`glyphic webhook`: add, list, rotate the secret of, enable, disable and remove webhooks.

    glyphic webhook add WORKFLOW [--path P] [--method M] [--legacy-signature]
        [--auth MODE [--header NAME] [--user USER]] [--respond when-finished [--timeout S]]
        [--secret-stdin] [--retry-lost-runs N]
    glyphic webhook set ID [--auth MODE [--header NAME] [--user USER]]
        [--respond immediately|when-finished] [--timeout S] [--retry-lost-runs N]
    glyphic webhook list [--json]
    glyphic webhook rotate ID [--secret-stdin]
    glyphic webhook signature ID full|legacy
    glyphic webhook enable ID | disable ID
    glyphic webhook remove ID

``ID`` is a webhook's id or its path. The signing secret is printed only by ``add`` and
``rotate``, once; ``list`` never shows it. The tray agent (``glyphic agent``) serves
the webhooks at ``/webhooks/<path>``. ``--retry-lost-runs N`` (0 to 10, default 1) is how
many times a run lost to a process that died or stopped is queued again.
"""

from __future__ import annotations

import argparse
import json
import sys

from glyphic_desktop.cli.common import add_retry_lost_runs_option, print_usage, user_session
from glyphic_desktop.store.policies import DEFAULT_RETRY_LOST_RUNS, describe_retry_lost_runs

SIGNATURE_HELP = (
    "sign each request with the header X-Glyphic-Signature: t=<unix seconds>,"
    "v1=<hex HMAC-SHA256 of '<t>.<METHOD>.<path?query>.<body>' keyed with the secret>"
)
AUTH_CHOICES = ("glyphic", "github", "stripe", "header", "basic", "none")
AUTH_HELP = {
    "glyphic": SIGNATURE_HELP,
    "github": "GitHub: paste the secret into the webhook's Secret field; requests carry "
    "X-Hub-Signature-256 (HMAC of the body) and X-GitHub-Delivery (replays refused)",
    "stripe": "Stripe: requests carry Stripe-Signature: t=...,v1=<HMAC of '<t>.<body>'> "
    "(5-minute tolerance); give Stripe's signing secret with --secret-stdin",
    "header": "send the secret in the header named by --header",
    "basic": "HTTP basic: the --user name and the secret as the password",
    "none": "no authentication: anyone who can reach the listener can start the run; the "
    "agent serves it only on 127.0.0.1, to local clients",
}
LEGACY_HELP = (
    "this webhook also accepts the older signature over '<t>.<body>' (no method, path or "
    "query); switch it off with 'glyphic webhook signature ID full' once senders sign the "
    "full request"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `webhook` command and its sub-commands."""
    parser = subparsers.add_parser(
        "webhook",
        help="add, list, rotate a secret of, and remove webhooks",
        description="HTTP endpoints (/webhooks/<path>, served by 'glyphic agent') that start "
        "a workflow; every request is signed with the webhook's secret.",
    )
    parser.set_defaults(handler=lambda args: print_usage(parser))
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")

    add = sub.add_parser("add", help="add a webhook to a workflow (prints its secret once)")
    add.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name or id")
    add.add_argument("--path", metavar="P", help="URL path under /webhooks/ (default: random)")
    add.add_argument("--method", metavar="M", default="POST", help="HTTP method (default POST)")
    add.add_argument(
        "--legacy-signature",
        action="store_true",
        help="also accept the older signature over '<t>.<body>' (senders not yet updated)",
    )
    _auth_options(add, default="glyphic")
    add.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the secret from standard input instead of making one (e.g. Stripe's)",
    )
    add_retry_lost_runs_option(add, "webhook", default=DEFAULT_RETRY_LOST_RUNS)
    add.set_defaults(handler=cmd_add)

    change = sub.add_parser(
        "set",
        help="change how a webhook authenticates requests, when it answers and how often "
        "a lost run is retried",
    )
    change.add_argument("id", metavar="ID", help="the webhook's id or path")
    _auth_options(change, default=None)
    add_retry_lost_runs_option(change, "webhook")
    change.set_defaults(handler=cmd_set)

    listing = sub.add_parser("list", help="list webhooks (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    rotate = sub.add_parser("rotate", help="replace a webhook's secret (prints the new one)")
    rotate.add_argument("id", metavar="ID", help="the webhook's id or path")
    rotate.add_argument(
        "--secret-stdin", action="store_true", help="read the new secret from standard input"
    )
    rotate.set_defaults(handler=cmd_rotate)

    scheme = sub.add_parser(
        "signature",
        help="what signatures must cover: full (t, method, path?query, body) or legacy "
        "(also '<t>.<body>')",
    )
    scheme.add_argument("id", metavar="ID", help="the webhook's id or path")
    scheme.add_argument("scheme", choices=("full", "legacy"), help="full or legacy")
    scheme.set_defaults(handler=cmd_signature)

    enable = sub.add_parser("enable", help="let a disabled webhook trigger again")
    enable.add_argument("id", metavar="ID", help="the webhook's id or path")
    enable.set_defaults(handler=lambda args: cmd_set_active(args, True))

    disable = sub.add_parser("disable", help="stop a webhook triggering (it answers 404)")
    disable.add_argument("id", metavar="ID", help="the webhook's id or path")
    disable.set_defaults(handler=lambda args: cmd_set_active(args, False))

    remove = sub.add_parser("remove", help="delete a webhook")
    remove.add_argument("id", metavar="ID", help="the webhook's id or path")
    remove.set_defaults(handler=cmd_remove)


def _auth_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--auth",
        choices=AUTH_CHOICES,
        default=default,
        help="how requests are authenticated: glyphic (X-Glyphic-Signature, the default), "
        "github, stripe, header (a shared secret header), basic, none (127.0.0.1 only, "
        "only when chosen)",
    )
    parser.add_argument("--header", metavar="NAME", help="the header holding the secret (header)")
    parser.add_argument("--user", metavar="USER", help="the HTTP basic user name (basic)")
    parser.add_argument(
        "--respond",
        choices=("immediately", "when-finished"),
        help="answer at once with 202 and the execution id (default), or when the run "
        "answers with a Respond to webhook node or ends",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=int,
        help="seconds a when-finished request waits before 504 (default 30)",
    )


def _read_secret() -> str:
    from glyphic_desktop.errors import UsageError

    value = sys.stdin.readline().strip()
    if not value:
        raise UsageError("--secret-stdin: standard input holds no secret")
    return value


def _describe(record) -> str:
    auth = record.auth_mode
    if record.auth_mode == "header":
        auth += f" ({record.auth_header})"
    elif record.auth_mode == "basic":
        auth += f" (user {record.basic_user})"
    respond = "immediately"
    if record.response_mode == "when_finished":
        respond = f"when finished ({record.response_timeout} s)"
    return f"auth {auth}, answers {respond}"


def cmd_add(args: argparse.Namespace) -> int:
    """Add a webhook and print its path and secret (once)."""
    from glyphic_desktop.store.repositories.webhooks import (
        WebhookRepository,
        check_secret,
        clean_auth,
        clean_method,
        clean_path,
        clean_response,
    )

    # bad arguments fail before the database is opened
    path = clean_path(args.path) if args.path is not None else None
    method = clean_method(args.method)
    scheme = "legacy" if args.legacy_signature else "full"
    auth = clean_auth(args.auth, args.header, args.user)
    if args.timeout is not None and args.respond is None:
        args.respond = "when-finished"
    response = clean_response(args.respond or "immediately", args.timeout)
    given = check_secret(_read_secret()) if args.secret_stdin else None
    with user_session() as (session, user_id):
        record, secret = WebhookRepository(session, user_id).add(
            args.workflow,
            path,
            method,
            scheme,
            auth_mode=auth[0],
            auth_header=auth[1],
            basic_user=auth[2],
            response_mode=response[0],
            response_timeout=response[1],
            secret=given,
            retry_lost_runs=args.retry_lost_runs,
        )
    print(f"added webhook {record.id} for workflow {record.workflow_name!r}")
    print(f"  {record.method} {record.url_path}")
    print(f"  {_describe(record)}")
    print(f"  {describe_retry_lost_runs(record.retry_lost_runs)}")
    if record.auth_mode != "none" and given is None:
        print(f"  secret: {secret}")
        print("note: the secret is not shown again; 'glyphic webhook rotate ID' makes a new one")
    print(f"note: {AUTH_HELP[record.auth_mode]}")
    if record.signature_scheme == "legacy":
        print(f"note: {LEGACY_HELP}")
    return 0


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "never"


def cmd_list(args: argparse.Namespace) -> int:
    """List the user's webhooks: path, method, workflow, state, last trigger, count, how
    requests are signed and answered, and retries of lost runs."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        items = WebhookRepository(session, user_id).list()
    if args.json:
        rows = [
            {
                "id": str(item.id),
                "path": item.path,
                "url_path": item.url_path,
                "method": item.method,
                "workflow": item.workflow_name,
                "workflow_id": str(item.workflow_id),
                "active": item.is_active,
                "workflow_active": item.workflow_active,
                "last_triggered_at": (
                    item.last_triggered_at.isoformat() if item.last_triggered_at else None
                ),
                "trigger_count": item.trigger_count,
                "signature": item.signature_scheme,
                "auth": item.auth_mode,
                "auth_header": item.auth_header,
                "basic_user": item.basic_user,
                "respond": item.response_mode.replace("_", "-"),
                "response_timeout": item.response_timeout,
                "retry_lost_runs": item.retry_lost_runs,
            }
            for item in items
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not items:
        print("no webhooks (add one with 'glyphic webhook add WORKFLOW')")
        return 0
    width_path = max(4, *(len(item.url_path) for item in items))
    width_flow = max(8, *(len(item.workflow_name) for item in items))
    print(
        f"{'ID':<36}  {'METHOD':<6}  {'PATH':<{width_path}}  {'WORKFLOW':<{width_flow}}  "
        "ACTIVE  LAST TRIGGERED              COUNT  SIGNATURE  AUTH      RESPOND               "
        "RETRIES"
    )
    for item in items:
        active = "yes" if item.is_active else "no"
        if item.is_active and not item.workflow_active:
            active = "no (workflow disabled)"
        print(
            f"{item.id!s:<36}  {item.method:<6}  {item.url_path:<{width_path}}  "
            f"{item.workflow_name:<{width_flow}}  {active:<6}  "
            f"{_when(item.last_triggered_at):<25}  {item.trigger_count:<5}  "
            f"{item.signature_scheme:<9}  {item.auth_mode:<8}  "
            + (
                f"when-finished ({item.response_timeout} s)"
                if item.response_mode == "when_finished"
                else "immediately"
            ).ljust(20)
            + f"  {item.retry_lost_runs}"
        )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    """Replace a webhook's secret and print the new one (once)."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    given = _read_secret() if args.secret_stdin else None
    with user_session() as (session, user_id):
        repo = WebhookRepository(session, user_id)
        record = repo.get(args.id)
        secret = repo.rotate_secret(record.id, given)
    if given is not None:
        print(f"set the secret of {record.method} {record.url_path}")
        return 0
    print(f"new secret for {record.method} {record.url_path}: {secret}")
    print("note: the old secret no longer verifies; the new one is not shown again")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    """Change a webhook's authentication, response and lost-run retry settings."""
    from glyphic_desktop.errors import UsageError
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    options = ("auth", "header", "user", "respond", "timeout", "retry_lost_runs")
    if all(getattr(args, name) is None for name in options):
        raise UsageError(
            "webhook set: give --auth, --header, --user, --respond, --timeout or "
            "--retry-lost-runs (see 'glyphic webhook set --help')"
        )
    with user_session() as (session, user_id):
        record = WebhookRepository(session, user_id).configure(
            args.id,
            auth_mode=args.auth,
            auth_header=args.header,
            basic_user=args.user,
            response_mode=args.respond,
            response_timeout=args.timeout,
            retry_lost_runs=args.retry_lost_runs,
        )
    print(f"webhook {record.url_path}: {_describe(record)}")
    if args.retry_lost_runs is not None:
        print(f"  {describe_retry_lost_runs(record.retry_lost_runs)}")
    if args.auth is not None:
        print(f"note: {AUTH_HELP[record.auth_mode]}")
    return 0


def cmd_signature(args: argparse.Namespace) -> int:
    """Set what a webhook's signatures must cover."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        record = WebhookRepository(session, user_id).set_signature_scheme(args.id, args.scheme)
    print(f"webhook {record.url_path} now accepts {record.signature_scheme} signatures")
    print(f"note: {LEGACY_HELP if record.signature_scheme == 'legacy' else SIGNATURE_HELP}")
    return 0


def cmd_set_active(args: argparse.Namespace, active: bool) -> int:
    """Enable or disable a webhook."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        record = WebhookRepository(session, user_id).set_active(args.id, active)
    print(f"{'enabled' if active else 'disabled'} webhook {record.url_path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a webhook."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        record = WebhookRepository(session, user_id).remove(args.id)
    print(f"removed webhook {record.url_path} (workflow {record.workflow_name!r})")
    return 0
