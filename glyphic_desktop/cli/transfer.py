"""`glyphic export` and `glyphic import`: workflow JSON files out of and into the database.

Export writes each workflow's document (through the credential-stripping call point
``document/export.py``, which also masks secrets in pinned data, or leaves the pins out
with ``--strip-pins``) with its name, description and tags under ``metadata``, to
stdout, to ``-o FILE`` or, with ``--all DIR``, one file per workflow; files are written
atomically (a temp file renamed over the target).

Import reads every file first (Glyphic, or ComfyUI UI / API, React Flow, n8n, Node-RED
converted, recognised by shape or forced with ``--format``; the conversion's grouped
report printed, or with ``--json`` printed as JSON) and stops before touching the
database when any file is bad, listing every problem of every file (exit 2).
``--dry-run`` prints the report and stores nothing. ``--split-tabs`` imports each tab of
a Node-RED flow file as a workflow of its own. Schedules of converted files are created
paused: the report says how to resume them. Then, in one transaction, each file becomes a new
workflow, or with ``--replace`` the next version of the stored workflow with the same
document id or name.

Imported nodes that run code or commands (or whose type is unknown) are stored untrusted
(``engine/trust.py``): runs are refused until ``glyphic trust NAME``. The examples shipped
in ``resources/examples`` are trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glyphic_desktop.cli.common import user_session
from glyphic_desktop.errors import GlyphicError, NotFoundError, UsageError

if TYPE_CHECKING:
    import uuid

if TYPE_CHECKING:  # the document and store stacks are imported only when a command runs
    from glyphic_desktop.document.formats import ConversionResult

_UNSAFE_CHARS = re.compile(r"[^\w .()+,=@-]+")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_STEM = 120


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` and `import` commands."""
    export = subparsers.add_parser(
        "export",
        help="write stored workflows out as JSON files",
        description="Write a stored workflow as Glyphic JSON (stdout unless -o), "
        "or every workflow into a directory with --all. Credentials are written as "
        "references (type and name), never their secrets.",
    )
    export.add_argument("workflow", nargs="?", metavar="NAME|ID", help="the workflow to export")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument(
        "--all", dest="all_dir", metavar="DIR", help="export every workflow, one file each, to DIR"
    )
    export.add_argument(
        "--strip-pins",
        action="store_true",
        help="leave the nodes' pinned data out (else it is exported, secrets masked)",
    )
    export.set_defaults(handler=run_export)

    imp = subparsers.add_parser(
        "import",
        help="store workflow JSON files (Glyphic, ComfyUI, React Flow, n8n, Node-RED) "
        "in the database",
        description="Store workflow files. Every file is checked first; if any is bad, "
        "nothing is stored. ComfyUI (UI and API), React Flow, n8n and Node-RED files are "
        "converted and a grouped report printed; their schedules are created paused.",
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="workflow JSON file(s)")
    imp.add_argument("--name", help="the workflow's name (one FILE only; default: from the file)")
    imp.add_argument(
        "--replace",
        action="store_true",
        help="store the file as the next version of the stored workflow with the same "
        "document id or name, instead of refusing",
    )
    imp.add_argument(
        "--dry-run",
        action="store_true",
        help="convert and print the report; store nothing",
    )
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.add_argument(
        "--format",
        dest="fmt",
        choices=["glyphic", "comfyui", "comfyui_api", "reactflow", "n8n", "nodered"],
        help="read the files as this format instead of recognising it",
    )
    imp.add_argument(
        "--split-tabs",
        action="store_true",
        help="Node-RED: import each flow tab as a workflow of its own",
    )
    imp.set_defaults(handler=run_import)


# -- files ---------------------------------------------------------------------------


def safe_file_name(name: str, taken: set[str] | None = None) -> str:
    """A portable ``*.json`` file name for workflow ``name``, unique (case-insensitively) in
    ``taken``, which it is added to."""
    stem = _UNSAFE_CHARS.sub("_", name).strip(" ._")[:_MAX_STEM].strip(" .") or "workflow"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem += "_"
    candidate, counter = f"{stem}.json", 1
    taken = taken if taken is not None else set()
    while candidate.casefold() in taken:
        counter += 1
        candidate = f"{stem}-{counter}.json"
    taken.add(candidate.casefold())
    return candidate


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and a rename,
    so the file is either the old one or the whole new one; errors name the file."""
    target = Path(path)
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if target.parent else "."
        )
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, _file_mode(target))
        os.replace(temp_name, target)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- export --------------------------------------------------------------------------


def workflow_file_data(
    record: Any, session: Any, user_id: uuid.UUID, *, strip_pins: bool = False
) -> dict[str, Any]:
    """The export file's data for a stored workflow: its document (through the credential
    call point) with ``metadata.name`` / ``description`` / ``tags`` from the row."""
    from glyphic_desktop.document.export import export_document_data

    data = export_document_data(record.document, session, user_id, strip_pins=strip_pins)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    metadata["name"] = record.name
    if record.description:
        metadata["description"] = record.description
    if record.tags:
        metadata["tags"] = list(record.tags)
    data["metadata"] = metadata
    return data


def run_export(args: argparse.Namespace) -> int:
    """`glyphic export NAME|ID [-o FILE]` / `glyphic export --all DIR`."""
    if args.all_dir is None and not args.workflow:
        raise UsageError("name a workflow to export (NAME or ID), or use --all DIR")
    if args.all_dir is not None and args.workflow:
        raise UsageError("give either a workflow (NAME or ID) or --all DIR, not both")
    if args.all_dir is not None and args.output:
        raise UsageError("-o FILE exports one workflow; --all DIR writes one file per workflow")
    if args.all_dir is not None:
        directory = Path(args.all_dir)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"{directory} exists and is not a directory")
    exports = _load_exports(
        args.workflow, every=args.all_dir is not None, strip_pins=args.strip_pins
    )
    if args.all_dir is None:
        name, data = exports[0]
        if args.output and args.output != "-":
            write_text_atomically(args.output, _json_text(data))
            print(f"exported {name!r} to {args.output}")
        else:
            sys.stdout.write(_json_text(data))
        return 0
    return _export_all(Path(args.all_dir), exports)


def _load_exports(
    workflow: str | None, *, every: bool, strip_pins: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    with user_session() as (session, user_id):
        repo = WorkflowRepository(session, user_id)
        if every:
            records = [repo.get(summary.id) for summary in repo.list()]
        else:
            records = [repo.resolve(str(workflow))]
        return [
            (record.name, workflow_file_data(record, session, user_id, strip_pins=strip_pins))
            for record in records
        ]


def _export_all(directory: Path, exports: list[tuple[str, dict[str, Any]]]) -> int:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    if not exports:
        print("no workflows to export", file=sys.stderr)
        return 0
    taken: set[str] = set()
    for name, data in sorted(exports, key=lambda item: item[0].casefold()):
        path = directory / safe_file_name(name, taken)
        write_text_atomically(path, _json_text(data))
        print(f"exported {name!r} to {path}")
    return 0


# -- import --------------------------------------------------------------------------


@dataclass
class _Planned:
    """One file about to be imported."""

    path: str
    result: ConversionResult
    name: str
    explicit_name: bool
    notes: list[str] = field(default_factory=list)


def _read_one(path: str, fmt: str | None, split_tabs: bool) -> list[ConversionResult]:
    """The file's conversion results: one, or one per Node-RED tab with ``split_tabs``."""
    from glyphic_desktop.document.io import read_workflow_file

    if not split_tabs:
        return [read_workflow_file(path, fmt)]
    from glyphic_desktop.document.formats import convert_split, detect_format
    from glyphic_desktop.document.io import parse_json_text, read_text_file
    from glyphic_desktop.document.layout import needs_layout, tidy_document
    from glyphic_desktop.document.validation import (
        DocumentError,
        DocumentProblem,
        validate_document,
    )

    data = parse_json_text(read_text_file(path), source=path)
    found = fmt or detect_format(data)
    if found != "nodered":
        raise DocumentError(
            path, [DocumentProblem("", "--split-tabs splits Node-RED flow files only")]
        )
    results = convert_split(data, source=path)
    for result in results:
        if needs_layout(result.document):
            tidy_document(result.document)
        validate_document(result.document, source=path)
    return results


def _read_all(
    paths: list[str], name: str | None, fmt: str | None = None, split_tabs: bool = False
) -> list[_Planned]:
    planned: list[_Planned] = []
    from glyphic_desktop.document.validation import DocumentError

    errors: list[DocumentError] = []
    for path in paths:
        try:
            results = _read_one(path, fmt, split_tabs)
        except DocumentError as exc:
            errors.append(exc)
            continue
        for result in results:
            chosen = (
                (name or "").strip()
                if len(results) == 1 and name
                else (
                    f"{name.strip()} - {result.name}"
                    if name and name.strip() and result.name
                    else result.suggested_name or Path(path).stem
                )
            )
            planned.append(
                _Planned(path, result, chosen, explicit_name=bool(name and name.strip()))
            )
    if errors:
        bad = len(errors)
        lines = [error.message for error in errors]
        lines.append(
            f"nothing was imported: {bad} of {len(paths)} file{'s' if len(paths) > 1 else ''} "
            f"{'has' if bad == 1 else 'have'} problems"
        )
        raise GlyphicError("\n".join(lines), exit_code=2)
    first_of: dict[str, str] = {}
    for item in planned:
        earlier = first_of.setdefault(item.name, item.path)
        if earlier != item.path:
            raise UsageError(
                f"{item.path}: the same workflow name {item.name!r} as {earlier}; "
                "nothing was imported (import them one by one with --name)"
            )
    return planned


def _print_notes(item: _Planned, stream: Any = None) -> None:
    """The file's grouped conversion report (stderr unless ``stream``)."""
    stream = stream if stream is not None else sys.stderr
    if item.result.format != "glyphic":
        from glyphic_desktop.document.formats import FORMAT_TITLES

        title = FORMAT_TITLES[item.result.format]
        part = f" (as {item.name!r})" if item.result.name else ""
        print(f"{item.path}: converted from {title}{part}", file=stream)
    for note in item.result.notes:
        print(f"  {note}", file=stream)


def _report_data(item: _Planned) -> dict[str, Any]:
    report = item.result.report
    return {
        "path": item.path,
        "name": item.name,
        "format": item.result.format,
        "report": report.as_dict()
        if report is not None
        else {
            "format": "glyphic",
            "nodes": len(item.result.document.nodes),
            "edges": len(item.result.document.edges),
            "groups": len(item.result.document.groups),
        },
    }


def _as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        import uuid  # not at the top: it imports platform (slow --help)

        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _existing(repo: Any, item: _Planned) -> tuple[Any, str] | None:
    """The stored workflow the file would overwrite, and why (same id or same name)."""
    document_id = None if item.explicit_name else _as_uuid(item.result.document.id)
    if document_id is not None:
        try:
            return repo.get(document_id), "id"
        except NotFoundError:
            pass
    record = repo.get_by_name(item.name)
    return (record, "name") if record is not None else None


def run_import(args: argparse.Namespace) -> int:
    """`glyphic import FILE... [--name NAME] [--replace]`."""
    if args.name is not None and len(args.files) > 1:
        raise UsageError("--name names one workflow: give exactly one FILE with it")
    if args.name is not None and not args.name.strip():
        raise UsageError("--name must not be empty")
    dry_run = getattr(args, "dry_run", False)
    as_json = getattr(args, "json", False)
    planned = _read_all(
        list(args.files), args.name, getattr(args, "fmt", None), getattr(args, "split_tabs", False)
    )
    if dry_run and not as_json:
        for item in planned:
            _print_notes(item, sys.stdout)
        print(f"dry run: nothing was imported ({len(planned)} workflow(s) checked)")
        return 0
    if dry_run:
        payload = {"dry_run": True, "workflows": [_report_data(item) for item in planned]}
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not as_json:
        for item in planned:
            _print_notes(item)

    with user_session() as (session, user_id):
        lines = _store_all(session, user_id, planned, replace=args.replace)
    if as_json:
        payload = {
            "dry_run": False,
            "workflows": [_report_data(item) for item in planned],
            "imported": lines,
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return 0
    for line in lines:
        print(line)
    return 0


def _store_all(
    session: Any, user_id: uuid.UUID, planned: list[_Planned], *, replace: bool
) -> list[str]:
    """Store every planned file in the caller's transaction; any error rolls all back."""
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    repo = WorkflowRepository(session, user_id)
    targets: list[tuple[_Planned, Any]] = []
    clashes: list[str] = []
    seen_targets: dict[uuid.UUID, str] = {}
    for item in planned:
        found = _existing(repo, item)
        record = found[0] if found else None
        if found and not replace:
            record, why = found
            if why == "id":
                clashes.append(
                    f"{item.path}: this workflow is already stored as {record.name!r} "
                    f"(same document id {record.id}); use --replace to store the file as its "
                    "next version, or --name to import it as a new workflow"
                )
            else:
                clashes.append(
                    f"{item.path}: a workflow named {record.name!r} already exists "
                    f"(version {record.version}); use --replace to store the file as its "
                    "next version, or --name to import it under another name"
                )
            continue
        if record is not None:
            earlier = seen_targets.setdefault(record.id, item.path)
            if earlier != item.path:
                clashes.append(f"{item.path}: replaces {record.name!r} like {earlier} does")
        targets.append((item, record))
    if clashes:
        raise UsageError("\n".join([*clashes, "nothing was imported"]))
    lines: list[str] = []
    for item, record in targets:
        from glyphic_desktop.document.export import prepare_imported_document

        document, notes = prepare_imported_document(item.result.document, session, user_id)
        for note in notes:
            print(f"{item.path}: note: {note}", file=sys.stderr)
        summary = f"imported from {Path(item.path).name}"
        before = _schedule_ids(session, user_id, record.id) if record is not None else set()
        if record is None:
            document.metadata["name"] = item.name
            metadata = document.metadata
            description = metadata.get("description")
            tags = metadata.get("tags")
            stored = repo.create(
                item.name,
                document,
                description=description if isinstance(description, str) else None,
                tags=[str(tag) for tag in tags] if isinstance(tags, list) else (),
                change_summary=summary,
                keep_document_id=not item.explicit_name,
            )
            lines.append(f"imported {item.path} as {stored.name!r} ({stored.id}, version 1)")
        else:
            document.metadata["name"] = record.name
            stored = repo.save(
                record.id, document, base_version=record.version, change_summary=summary
            )
            lines.append(
                f"imported {item.path} as version {stored.version} of {stored.name!r} ({stored.id})"
            )
        lines.extend(_mark_untrusted(repo, stored, document, item.path))
        if item.result.format != "glyphic":
            lines.extend(_pause_new_schedules(session, user_id, stored, before))
    return lines


def _schedule_ids(session: Any, user_id: uuid.UUID, workflow_id: Any) -> set[Any]:
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    return {
        record.id for record in ScheduleRepository(session, user_id).list(workflow_id=workflow_id)
    }


def _pause_new_schedules(
    session: Any, user_id: uuid.UUID, stored: Any, before: set[Any]
) -> list[str]:
    """Pause the schedules this import created (an import never arms a schedule)."""
    from glyphic_desktop.store.repositories.schedules import ScheduleRepository

    repo = ScheduleRepository(session, user_id)
    lines: list[str] = []
    for record in repo.list(workflow_id=stored.id):
        if record.id in before or record.node_id is None:
            continue
        repo.pause(record.id)
        lines.append(
            f"  schedule {record.name!r} ({record.cron_expression}, {record.timezone}) "
            f"created paused: 'glyphic schedule resume {record.id}' enables it"
        )
    return lines


def _mark_untrusted(repo: Any, stored: Any, document: Any, path: str) -> list[str]:
    """Store the imported nodes that run code as untrusted; the line saying so, if any."""
    from glyphic_desktop.engine.trust import (
        describe_nodes,
        mark_file_import,
        refused_nodes,
        trust_command,
    )
    from glyphic_desktop.nodes.registry import default_registry

    registry = default_registry()
    ids = mark_file_import(repo, stored.id, document, path, registry)
    nodes = refused_nodes(document, ids, registry)
    if not nodes:
        return []
    return [
        f"  untrusted: {describe_nodes(nodes)} run{'s' if len(nodes) == 1 else ''} code or "
        f"commands; runs are refused until '{trust_command(stored.name)}'"
    ]
