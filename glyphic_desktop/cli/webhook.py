"""`glyphic webhook`: add, list, rotate the secret of, enable, disable and remove webhooks.

    glyphic webhook add WORKFLOW [--path P] [--method M] [--legacy-signature]
    glyphic webhook list [--json]
    glyphic webhook rotate ID
    glyphic webhook signature ID full|legacy
    glyphic webhook enable ID | disable ID
    glyphic webhook remove ID

``ID`` is a webhook's id or its path. The signing secret is printed only by ``add`` and
``rotate``, once; ``list`` never shows it. The tray agent (``glyphic agent``) serves
the webhooks at ``/webhooks/<path>``.
"""

from __future__ import annotations

import argparse
import json

from glyphic_desktop.cli.common import print_usage, user_session

SIGNATURE_HELP = (
    "sign each request with the header X-Glyphic-Signature: t=<unix seconds>,"
    "v1=<hex HMAC-SHA256 of '<t>.<METHOD>.<path?query>.<body>' keyed with the secret>"
)
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
    add.set_defaults(handler=cmd_add)

    listing = sub.add_parser("list", help="list webhooks (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    rotate = sub.add_parser("rotate", help="replace a webhook's secret (prints the new one)")
    rotate.add_argument("id", metavar="ID", help="the webhook's id or path")
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


def cmd_add(args: argparse.Namespace) -> int:
    """Add a webhook and print its path and secret (once)."""
    from glyphic_desktop.store.repositories.webhooks import (
        WebhookRepository,
        clean_method,
        clean_path,
    )

    # bad arguments fail before the database is opened
    path = clean_path(args.path) if args.path is not None else None
    method = clean_method(args.method)
    scheme = "legacy" if args.legacy_signature else "full"
    with user_session() as (session, user_id):
        record, secret = WebhookRepository(session, user_id).add(
            args.workflow, path, method, scheme
        )
    print(f"added webhook {record.id} for workflow {record.workflow_name!r}")
    print(f"  {record.method} {record.url_path}")
    print(f"  secret: {secret}")
    print("note: the secret is not shown again; 'glyphic webhook rotate ID' makes a new one")
    print(f"note: {SIGNATURE_HELP}")
    if record.signature_scheme == "legacy":
        print(f"note: {LEGACY_HELP}")
    return 0


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "never"


def cmd_list(args: argparse.Namespace) -> int:
    """List the user's webhooks: path, method, workflow, state, last trigger, count."""
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
        "ACTIVE  LAST TRIGGERED              COUNT  SIGNATURE"
    )
    for item in items:
        active = "yes" if item.is_active else "no"
        if item.is_active and not item.workflow_active:
            active = "no (workflow disabled)"
        print(
            f"{item.id!s:<36}  {item.method:<6}  {item.url_path:<{width_path}}  "
            f"{item.workflow_name:<{width_flow}}  {active:<6}  "
            f"{_when(item.last_triggered_at):<25}  {item.trigger_count:<5}  "
            f"{item.signature_scheme}"
        )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    """Replace a webhook's secret and print the new one (once)."""
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository

    with user_session() as (session, user_id):
        repo = WebhookRepository(session, user_id)
        record = repo.get(args.id)
        secret = repo.rotate_secret(record.id)
    print(f"new secret for {record.method} {record.url_path}: {secret}")
    print("note: the old secret no longer verifies; the new one is not shown again")
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
