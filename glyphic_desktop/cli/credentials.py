"""`glyphic credentials`: add, list, remove and test stored credentials; show and rotate the key.

    glyphic credentials add TYPE NAME [--stdin] [--config JSON]
    glyphic credentials list [--type TYPE] [--json]
    glyphic credentials remove TYPE NAME
    glyphic credentials test TYPE NAME
    glyphic credentials types
    glyphic credentials key-info
    glyphic credentials rotate-key

Secret values are never printed: ``add`` prompts for them without echo (or reads a JSON
object from stdin), ``list`` shows names and types only, and every message of ``test``
goes through the secret masker. Every sub-command that names a credential takes TYPE NAME,
in that order; ``remove`` and ``test`` still accept the older ``NAME [--type TYPE]`` with a
deprecation line on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import typing
from typing import Any

from glyphic_desktop.cli.common import open_user_database, print_usage, user_session
from glyphic_desktop.errors import GlyphicError, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `credentials` command and its sub-commands."""
    parser = subparsers.add_parser(
        "credentials",
        help="add, list, remove and test stored credentials; show and rotate the master key",
        description="Stored credentials (encrypted with the master key) and the key itself.",
    )
    parser.set_defaults(handler=lambda args: print_usage(parser))
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")

    add = sub.add_parser("add", help="store a new credential (prompts for its fields)")
    add.add_argument("type", metavar="TYPE", help="credential type (see 'credentials types')")
    add.add_argument("name", metavar="NAME", help="a name for it, unique per type")
    add.add_argument(
        "--stdin", action="store_true", help="read the fields as one JSON object from stdin"
    )
    add.add_argument("--config", metavar="JSON", help="non-secret settings as a JSON object")
    add.set_defaults(handler=cmd_add)

    listing = sub.add_parser("list", help="list stored credentials (never their values)")
    listing.add_argument("--type", metavar="TYPE", help="only this type")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    remove = sub.add_parser("remove", help="delete a stored credential")
    _add_type_name(remove)
    remove.set_defaults(handler=cmd_remove, verb="remove")

    test = sub.add_parser("test", help="run the credential type's connection test")
    _add_type_name(test)
    test.set_defaults(handler=cmd_test, verb="test")

    types = sub.add_parser("types", help="list the credential types and their fields")
    types.set_defaults(handler=cmd_types)

    info = sub.add_parser("key-info", help="where the master key comes from, and its id")
    info.set_defaults(handler=cmd_key_info)

    rotate = sub.add_parser("rotate-key", help="re-encrypt every credential under a new master key")
    rotate.set_defaults(handler=cmd_rotate_key)


# -- helpers -------------------------------------------------------------------------------


def _add_type_name(parser: argparse.ArgumentParser) -> None:
    """TYPE NAME positionals (the order of ``add``), plus the older ``NAME [--type TYPE]``."""
    parser.add_argument("first", metavar="TYPE", help="the credential type, e.g. smtp")
    parser.add_argument("second", metavar="NAME", nargs="?", help="its name (or id)")
    parser.add_argument("--type", dest="legacy_type", metavar="TYPE", help=argparse.SUPPRESS)


def type_and_name(args: argparse.Namespace) -> tuple[str | None, str]:
    """(type, name) of ``TYPE NAME``; the older ``NAME [--type TYPE]`` works with a
    deprecation line on stderr."""
    if args.second is not None:
        if args.legacy_type and args.legacy_type != args.first:
            raise UsageError(
                f"TYPE is given twice ({args.first!r} and --type {args.legacy_type!r}); "
                f"see 'glyphic credentials {args.verb} --help'"
            )
        return args.first, args.second
    print(
        f"glyphic: 'credentials {args.verb} NAME [--type TYPE]' is deprecated; "
        f"use 'glyphic credentials {args.verb} TYPE NAME'",
        file=sys.stderr,
    )
    return args.legacy_type, args.first


def _prompt_secret(prompt: str) -> str:
    return getpass.getpass(prompt)


def _prompt_text(prompt: str) -> str:
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        print(file=sys.stderr)
        raise UsageError("input ended before every field was given")
    return line.rstrip("\r\n")


def _choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(choice) for choice in typing.get_args(annotation)]
    return None


def prompt_fields(ctype: Any) -> dict[str, Any]:
    """Ask for each field of the type (secret ones without echo); empty keeps the default."""
    from glyphic_desktop.secrets.types import is_secret

    values: dict[str, Any] = {}
    for name, info in ctype.Fields.model_fields.items():
        label = name.replace("_", " ")
        choices = _choices(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        hint = f" ({'/'.join(choices)})" if choices else ""
        if default not in (None, "") and not is_secret(ctype.Fields, name):
            hint += f" [{default}]"
        prompt = f"{label}{hint}: "
        answer = _prompt_secret(prompt) if is_secret(ctype.Fields, name) else _prompt_text(prompt)
        if answer != "":
            values[name] = answer
    return values


def _read_stdin_object(what: str) -> dict[str, Any]:
    text = sys.stdin.read()
    try:
        data = json.loads(text)
    except ValueError as exc:
        # never echo the input: it holds secrets
        where = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise UsageError(f"{what} from stdin is not valid JSON ({where})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} from stdin must be a JSON object, not {type(data).__name__}")
    return data


def _parse_config(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--config is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UsageError("--config must be a JSON object")
    return data


# -- commands ------------------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    """Store a new credential."""
    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.secrets.types import credential_types
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    ctype = credential_types.get(args.type)
    config = _parse_config(args.config)
    if args.stdin:
        fields = _read_stdin_object(f"the fields of {args.type} credential {args.name!r}")
    else:
        fields = prompt_fields(ctype)
    ctype.validate(fields, name=args.name)  # fail before touching the key or the database
    keyset = require_keyset()
    with user_session() as (session, user_id):
        info = IntegrationRepository(session, user_id, keyset).create(
            args.type, args.name, fields, config
        )
    print(f"added {info.describe()} (id {info.id}, key {info.key_id})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List credentials: type, name, state, key id; never a value."""
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    with user_session() as (session, user_id):
        items = IntegrationRepository(session, user_id, None).list(args.type)
    if args.json:
        rows = [
            {
                "id": item.id,
                "type": item.type,
                "name": item.name,
                "active": item.is_active,
                "key_id": item.key_id,
                "config": item.config,
                "created_at": item.created_at.isoformat() if item.created_at else None,
            }
            for item in items
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not items:
        print("no credentials stored (add one with 'glyphic credentials add TYPE NAME')")
        return 0
    width_type = max(4, *(len(item.type) for item in items))
    width_name = max(4, *(len(item.name) for item in items))
    print(f"{'TYPE':<{width_type}}  {'NAME':<{width_name}}  ACTIVE  KEY")
    for item in items:
        active = "yes" if item.is_active else "no"
        print(f"{item.type:<{width_type}}  {item.name:<{width_name}}  {active:<6}  {item.key_id}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a credential."""
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    ctype, name = type_and_name(args)
    with user_session() as (session, user_id):
        info = IntegrationRepository(session, user_id, None).delete(name, ctype)
    print(f"removed {info.describe()}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """Decrypt a credential and run its type's connection test."""
    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.secrets.masking import SecretMasker
    from glyphic_desktop.secrets.types import run_check
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    ctype, name = type_and_name(args)
    keyset = require_keyset()
    with user_session() as (session, user_id):
        decrypted = IntegrationRepository(session, user_id, keyset).get_decrypted(name, ctype)
    if not decrypted.credential_type.has_check():
        raise UsageError(f"credential type {decrypted.type!r} has no connection test")
    masker = SecretMasker()
    decrypted.register_secrets(masker)
    try:
        message = run_check(decrypted.credential_type, decrypted.model())
    except GlyphicError as exc:
        raise GlyphicError(
            masker.mask_text(f"{decrypted.info.describe()}: {exc.message}"), exit_code=1
        ) from None
    print(masker.mask_text(f"ok: {message}"))
    return 0


def cmd_types(args: argparse.Namespace) -> int:
    """List credential types with their fields (secret ones marked)."""
    from glyphic_desktop.secrets.types import credential_types, is_secret

    for ctype in credential_types.all():
        fields = ", ".join(
            name + (" (secret)" if is_secret(ctype.Fields, name) else "")
            for name in ctype.field_names()
        )
        test = " [test]" if ctype.has_check() else ""
        print(f"{ctype.key:<12} {ctype.title}{test}: {fields}")
    return 0


def cmd_key_info(args: argparse.Namespace) -> int:
    """Say where the master key comes from and its id (never the key)."""
    from glyphic_desktop.secrets.keys import FileKeyStore, keyring_backend, load_keyset

    keyset = load_keyset(create=False)
    if keyset is None:
        where = "the OS keyring" if keyring_backend() is not None else f"{FileKeyStore().path}"
        print(f"no master key yet: one will be created in {where} when a credential is added")
        return 0
    print(f"source: {keyset.describe_source()}")
    print(f"key id: {keyset.current_id}")
    older = [key_id for key_id in keyset.ids if key_id != keyset.current_id]
    if older:
        print(f"older readable key ids: {', '.join(older)} (retired by the next rotation)")
    for note in keyset.notes:
        print(f"note: {note}")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Re-encrypt every credential under a new key id, then retire the old keys."""
    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.secrets.rotation import rotate_master_key

    keyset = require_keyset()
    db, _user_id = open_user_database()
    try:
        result = rotate_master_key(db, keyset)
    finally:
        db.dispose()
    webhooks = f" and {result.webhooks} webhook secret(s)" if result.webhooks else ""
    print(
        f"re-encrypted {result.rows} credential(s){webhooks} under key id {result.new_key_id} "
        f"({result.source})"
    )
    if result.retired:
        print(f"retired key ids: {', '.join(result.retired)}")
    if result.still_listed:
        print(
            f"no credential uses key ids {', '.join(result.still_listed)} any more: "
            "they can be removed from GLYPHIC_SECRET_KEY"
        )
    return 0
