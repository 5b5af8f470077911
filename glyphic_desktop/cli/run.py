"""`glyphic run FILE|NAME|ID [--input JSON] [--json]`: run one workflow headless.

A FILE is stored first: it updates the stored workflow with the same document ``id``
(or, without one, the workflow with the same name) when its content changed, else it
is created (named after ``metadata.name`` or the file's stem). Running a file is the
person's consent: the stored workflow is trusted (``engine/trust.py``). A stored workflow
(NAME or ID) whose nodes from outside run code and are not trusted is refused: one line
naming them, exit 2, recorded as a failed execution; no node runs. Log lines stream as they
happen (colour on a TTY), then a summary. ``--json`` prints one JSON object per line:
each event, then ``{"event": "summary", ...}``.

``--only NODE`` / ``--to NODE`` / ``--from NODE [--execution ID]`` run part of the
workflow (``cli/partial.py``); the run is recorded with its mode in ``trigger_data``.

Exit codes: 0 completed; 1 failed or cancelled (Ctrl-C cancels the run cleanly; a
second Ctrl-C interrupts at once); 2 bad usage, a file that cannot be loaded, or a
failed preflight (every problem listed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glyphic_desktop.errors import GlyphicError, NotFoundError, UsageError

if TYPE_CHECKING:
    import uuid


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` command."""
    parser = subparsers.add_parser(
        "run",
        help="run a workflow headless (a file, or a stored workflow's name or id)",
        description="Run one workflow headless, stream its log, and exit 0 only when it "
        "completed (1 failed or cancelled, 2 bad usage or failed preflight). A file is "
        "stored first, since every run is recorded against a stored workflow.",
    )
    parser.add_argument("target", metavar="FILE|NAME|ID", help="workflow file, name or id")
    parser.add_argument(
        "--input",
        metavar="JSON",
        help="the run's input as JSON text (or @FILE to read it from a file)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="also show node starts and skips"
    )
    from glyphic_desktop.cli.partial import add_arguments as add_partial_arguments

    add_partial_arguments(parser)
    parser.set_defaults(handler=run_command)


def parse_input(text: str | None) -> Any:
    """The ``--input`` value: JSON text, or ``@path`` to a JSON file."""
    if text is None:
        return None
    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--input: cannot read {path}: {exc.strerror or exc}") from None
        source = str(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number"
        )
        raise UsageError(f'{source} must be a JSON object such as {{"x": 1}}, not {kind}')
    return value


def _comparable(document: Any) -> str:
    data = document.to_data()
    data.pop("id", None)
    data.pop("revision", None)
    return json.dumps(data, sort_keys=True, default=str)


def store_file(db: Any, user_id: uuid.UUID, path: Path) -> tuple[Any, str]:
    """Store (or update) the workflow of ``path``; returns (record, what happened)."""
    from glyphic_desktop.document.io import load_document_file
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        document = load_document_file(path)
    except GlyphicError as exc:
        raise UsageError(exc.message) from None
    name = str((document.metadata or {}).get("name") or path.stem)
    with db.session() as session:
        repo = WorkflowRepository(session, user_id)
        record, how = _store(repo, document, name)
        repo.mark_trusted(record.id)  # running a file is the person's consent
        return record, how


def _store(repo: Any, document: Any, name: str) -> tuple[Any, str]:
    """The stored workflow of a file's document: found by id or name, updated or created."""
    existing = None
    if document.id:
        try:
            import uuid  # not at the top: it imports platform (slow --help)

            existing = repo.get(uuid.UUID(str(document.id)))
        except (ValueError, NotFoundError):
            existing = None
    if existing is None:
        existing = repo.get_by_name(name)
    if existing is None:
        return repo.create(name, document, keep_document_id=True), "stored as"
    if _comparable(existing.document) == _comparable(document):
        return existing, "same as stored"
    document.id = str(existing.id)
    record = repo.save(existing.id, document, base_version=existing.version)
    return record, "updated stored"


def _resolve(db: Any, user_id: uuid.UUID, target: str) -> tuple[Any, str]:
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository, is_workflow_file

    if is_workflow_file(target):  # an existing file first, then an id or a name
        return store_file(db, user_id, Path(target))
    with db.session() as session:
        try:
            return WorkflowRepository(session, user_id).resolve(target), "stored"
        except NotFoundError as exc:
            if target.lower().endswith(".json"):
                raise UsageError(f"{target}: no such file (nor a workflow by that name)") from None
            raise UsageError(exc.message) from None


class _Interrupts:
    """SIGINT → cancel event (the first time); the second one interrupts at once."""

    def __init__(self, event: threading.Event, notify: Any) -> None:
        self.event = event
        self.notify = notify
        self.previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        self.notify()

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def run_command(args: argparse.Namespace) -> int:
    """Handler of `glyphic run`."""
    from glyphic_desktop.engine.preflight import PreflightFailed
    from glyphic_desktop.engine.runner import run_workflow
    from glyphic_desktop.engine.sinks import TerminalSink
    from glyphic_desktop.store.database import open_database
    from glyphic_desktop.store.repositories.users import current_user_id

    run_input = parse_input(args.input)
    out = sys.stdout
    db = open_database()
    try:
        user_id = current_user_id(db)
        record, how = _resolve(db, user_id, args.target)
        from glyphic_desktop.cli.partial import plan_for

        partial = plan_for(db, user_id, record, args)
        sink = TerminalSink(out, json_lines=args.json, verbose=args.verbose)
        if not args.json:
            print(f"workflow {record.name!r} ({how} {record.id}, version {record.version})")
        cancel = threading.Event()

        def notify() -> None:
            if not args.json:
                print("cancelling… (Ctrl-C again to stop at once)", file=sys.stderr)

        try:
            with _Interrupts(cancel, notify):
                result = run_workflow(
                    db,
                    user_id,
                    record,
                    trigger="manual",
                    trigger_data={"source": "cli"},
                    input=run_input,
                    listeners=[sink],
                    cancel_event=cancel,
                    partial=partial,
                )
        except PreflightFailed as failure:
            if args.json:
                for problem in failure.problems:
                    print(json.dumps({"event": "problem", **problem.to_dict()}))
                summary = {
                    "event": "summary",
                    "status": "failed",
                    "preflight": False,
                    "execution_id": str(getattr(failure, "execution_id", "")) or None,
                    "error": failure.message,
                }
                print(json.dumps(summary))
            else:
                print(f"glyphic: {failure.message}", file=sys.stderr)
            return 2
        return _summary(result, record, args.json)
    finally:
        db.dispose()


def _summary(result: Any, record: Any, as_json: bool) -> int:
    code = 0 if result.status in ("completed", "waiting") else 1
    if as_json:
        from glyphic_desktop.engine.records import cap_value
        from glyphic_desktop.engine.sinks import JSON_OUTPUT_CAP, json_line

        print(
            json_line(
                {
                    "event": "summary",
                    "status": result.status,
                    "workflow_id": str(record.id),
                    "execution_id": str(result.execution_id),
                    "duration_ms": round(result.duration_ms, 3),
                    "nodes_run": result.nodes_run,
                    "nodes_skipped": result.nodes_skipped,
                    "nodes_failed": result.nodes_failed,
                    "nodes_reused": result.nodes_reused,
                    "error": result.error,
                    "result": cap_value(result.result, JSON_OUTPUT_CAP)[0],
                }
            )
        )
        return code
    counts = f"{result.nodes_run} ran, {result.nodes_skipped} skipped, {result.nodes_failed} failed"
    if result.nodes_reused:
        counts += f", {result.nodes_reused} pinned or re-used"
    if result.status == "completed":
        print(
            f"completed in {result.duration_ms:.0f} ms ({counts}); execution {result.execution_id}"
        )
    elif result.status == "waiting":  # a long Wait node: a running agent resumes it
        print(
            f"waiting ({counts}): stored, a running agent resumes it when due; execution "
            f"{result.execution_id} ('glyphic cancel {result.execution_id}' cancels it)"
        )
    elif result.status == "cancelled":
        print(
            f"cancelled after {result.duration_ms:.0f} ms ({counts}); execution "
            f"{result.execution_id}",
            file=sys.stderr,
        )
    else:
        print(f"failed: {result.error}", file=sys.stderr)
        print(f"({counts}; execution {result.execution_id})", file=sys.stderr)
    return code
