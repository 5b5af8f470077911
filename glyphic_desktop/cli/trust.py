"""`glyphic trust NAME|ID` and `glyphic nodes list|disable|enable`.

``trust`` gives consent to the nodes of a workflow that came in from outside and run code
or commands (``engine/trust.py``): it says which nodes it trusted. ``nodes`` lists the
node types (which run code, which are disabled and by what) and changes the person's
``disabled_node_types`` setting (``engine/disabled_nodes.py``); ``GLYPHIC_DISABLE_NODES``
disables types for every process started with it, whatever the setting says.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from glyphic_desktop.cli.common import print_usage, user_session
from glyphic_desktop.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    import uuid


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `trust` and `nodes` commands."""
    trust = subparsers.add_parser(
        "trust",
        help="trust the imported nodes of a workflow that run code or commands",
        description="Mark a workflow as trusted: its nodes that came in from outside (an "
        "import, a paste, a file opened in the editor) and run code or commands may run. "
        "Until then 'glyphic run', the agent and the editor refuse it.",
    )
    trust.add_argument("workflow", metavar="NAME|ID", help="the workflow to trust")
    trust.set_defaults(handler=run_trust)

    nodes = subparsers.add_parser(
        "nodes",
        help="list node types; disable or enable types altogether",
        description="List the node types, or change which ones are disabled for you "
        "(GLYPHIC_DISABLE_NODES=code,run_command disables them for every process started "
        "with it).",
    )
    nodes.set_defaults(handler=lambda _args: print_usage(nodes))
    verbs = nodes.add_subparsers(title="commands", metavar="COMMAND")
    listing = verbs.add_parser("list", help="every node type: runs code? disabled by what?")
    listing.set_defaults(handler=run_nodes_list)
    for verb, text in (("disable", "disable node types"), ("enable", "enable them again")):
        parser = verbs.add_parser(verb, help=text, description=f"{text.capitalize()} for you.")
        parser.add_argument("keys", nargs="+", metavar="TYPE", help="node type keys, e.g. code")
        parser.set_defaults(handler=run_nodes_change, verb=verb)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        import uuid  # not at the top: it imports platform (slow --help)

        return uuid.UUID(value)
    except ValueError:
        return None


def run_trust(args: argparse.Namespace) -> int:
    """`glyphic trust NAME|ID`: trust every untrusted node and say which ran code."""
    from glyphic_desktop.engine.trust import describe_nodes, refused_nodes
    from glyphic_desktop.nodes.registry import default_registry
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    registry = default_registry()
    with user_session() as (session, user_id):
        repo = WorkflowRepository(session, user_id)
        try:
            record = repo.resolve(args.workflow)
        except NotFoundError as exc:
            raise UsageError(exc.message) from None
        nodes = refused_nodes(record.document, record.untrusted_nodes, registry)
        trusted, source = repo.mark_trusted(record.id)
    if nodes:
        origin = f" ({source})" if source else ""
        print(
            f"trusted workflow {record.name!r}{origin}: {describe_nodes(nodes)} "
            f"may now run code or commands"
        )
    elif trusted:
        print(f"trusted workflow {record.name!r}: none of its nodes runs code or commands")
    else:
        print(f"workflow {record.name!r} was already trusted")
    return 0


def run_nodes_list(args: argparse.Namespace) -> int:
    """`glyphic nodes list`: key, title, whether it runs code, whether and why disabled."""
    from glyphic_desktop.engine.disabled_nodes import disabled_node_types
    from glyphic_desktop.nodes.registry import default_registry

    with user_session() as (session, user_id):
        disabled = disabled_node_types(session, user_id)
    types = default_registry().all()
    width = max((len(cls.key) for cls in types), default=4)
    for cls in types:
        flags = ["runs code"] if cls.runs_code else []
        if cls.key in disabled:
            flags.append(f"disabled by {disabled[cls.key]}")
        print(f"{cls.key:<{width}}  {cls.title}" + (f"  ({'; '.join(flags)})" if flags else ""))
    unknown = sorted(set(disabled) - {cls.key for cls in types})
    for key in unknown:
        print(f"{key:<{width}}  (no such node type)  (disabled by {disabled[key]})")
    return 0


def run_nodes_change(args: argparse.Namespace) -> int:
    """`glyphic nodes disable|enable TYPE...`: change the person's setting."""
    from glyphic_desktop.engine.disabled_nodes import (
        DISABLE_ENV,
        from_env,
        parse_keys,
        read_setting,
        write_setting,
    )
    from glyphic_desktop.nodes.registry import default_registry

    keys = parse_keys(args.keys)
    registry = default_registry()
    current: list[Any]
    if args.verb == "disable":
        unknown = [key for key in keys if key not in registry]
        if unknown:
            raise UsageError(
                f"no node type {unknown[0]!r}; 'glyphic nodes list' shows the node types"
            )
    with user_session() as (session, user_id):
        current = read_setting(session, user_id)
        if args.verb == "disable":
            stored = write_setting(session, user_id, [*current, *keys])
        else:
            stored = write_setting(session, user_id, [k for k in current if k not in keys])
    print(f"disabled node types (your setting): {', '.join(stored) or 'none'}")
    still = [key for key in keys if key in from_env()] if args.verb == "enable" else []
    if still:
        print(f"still disabled by {DISABLE_ENV}: {', '.join(still)}")
    return 0
