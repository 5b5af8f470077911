"""The editing session of one workflow: open, save, conflicts, drafts, runs — no widgets.

:class:`WorkflowSession` is a ``QObject`` (signals only) over a :class:`GraphModel` and
its undo stack. The main window lays out widgets and wires them to it; tests drive a
session without any window::

    session = WorkflowSession(db, user_id, model, stack, prompts=my_prompts)
    session.open_workflow(workflow_id)
    ... edit through commands on ``stack`` ...
    session.save()                     # a new version, written on a worker thread

Every question goes through ``session.prompts`` (see :class:`SessionPrompts`).

Saves and autosaves serialise a copy-on-write snapshot of the document on a worker
thread (:func:`~glyphic_desktop.ui.run_thread.call_in_worker`), so the GUI thread
keeps painting and answering input while a 10,000-node document is written.

Signals: ``status(text, ms)`` for the status bar; ``title_changed()``;
``document_loaded(workflow_id)`` after a new document was put in the model;
``imported(path)``; ``saved(record)``; ``run_started()``, ``run_events(lines, changed
node ids)``, ``run_finished(result)``, ``run_failed(message)``, ``run_cancelled()``,
``run_state_changed()``; ``problems(list)`` when preflight refuses a run.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.errors import ConflictError, DatabaseUnavailable, GlyphicError
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.workflows import WorkflowRecord, WorkflowRepository
from glyphic_desktop.ui.conflict_dialog import ConflictChoice
from glyphic_desktop.ui.drafts import Autosaver, Draft, DraftStore
from glyphic_desktop.ui.graph_model import GraphModel
from glyphic_desktop.ui.run_thread import RunProgress, RunThread, call_in_worker, describe_failure

log = logging.getLogger(__name__)

UNTITLED = "Untitled"

_LIVE_THREADS: set[RunThread] = set()  # runs outlive a window closed mid-run, then go


class _Reaper(QObject):
    """Drops the reference to a finished run thread, on the GUI thread."""

    def reap(self) -> None:
        """Forget the thread that just finished."""
        _LIVE_THREADS.discard(self.sender())


_REAPER: _Reaper | None = None


def _reaper() -> _Reaper:
    global _REAPER
    if _REAPER is None:
        _REAPER = _Reaper()
    return _REAPER


def one_line(exc: BaseException) -> str:
    """The first line of an error's user-facing text."""
    text = exc.message if isinstance(exc, GlyphicError) else str(getattr(exc, "orig", None) or exc)
    return (text.strip().splitlines() or [exc.__class__.__name__])[0]


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached or used."""
    return isinstance(exc, DatabaseUnavailable | DBAPIError | SQLAlchemyError)


class SessionPrompts(Protocol):
    """The questions a session asks (the window's :class:`Prompts`, or a test's)."""

    def ask_text(self, title: str, label: str, text: str = "") -> str | None: ...
    def unsaved_changes(self, name: str) -> str: ...
    def conflict(self, name: str, base_version: int, stored_version: int) -> ConflictChoice: ...
    def offer_draft(self, draft: Draft) -> bool: ...
    def error(self, title: str, text: str, details: str = "") -> None: ...
    def open_file(self, title: str) -> str | None: ...
    def save_file(self, title: str, suggested: str) -> str | None: ...


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def change_summary(stack: QUndoStack) -> str:
    """What changed since the stack's clean state, e.g. "3 nodes added, 1 field changed".

    Counted from the commands between the clean index and the current one (a macro
    counts its children); after undoing past the saved state: "earlier changes undone".
    """
    from glyphic_desktop.ui import commands as c

    clean, index = stack.cleanIndex(), stack.index()
    if clean < 0 or clean > index:
        return "earlier changes undone" if clean > index else "changes"
    counts: dict[str, int] = {}

    def add(kind: str, n: int = 1) -> None:
        if n:
            counts[kind] = counts.get(kind, 0) + n

    def visit(command: QUndoCommand) -> None:
        if isinstance(command, c.RemoveCommand):
            add("node removed", len(command.node_ids))
            add("connection removed", len(command.extra_edge_ids))
            add("group removed", len(command.group_keys))
        elif isinstance(command, c.AddNodesCommand):
            add("node added", len(command.node_ids))
            add("group added", len(command.group_keys))
        elif isinstance(command, c.ConnectCommand):
            add("connection added")
        elif isinstance(command, c.SetFieldCommand):
            add("field changed")
        elif isinstance(command, c.SetSettingCommand):
            add("setting changed")
        elif isinstance(command, c.RenameCommand | c.RenameGroupCommand):
            add("rename")
        elif isinstance(command, c.MoveCommand):
            add("node moved", len(command.nodes))
        elif isinstance(command, c.GroupCommand):
            add("group added")
        elif isinstance(command, c.UngroupCommand):
            add("group removed")
        elif isinstance(command, c.ResizeGroupCommand):
            add("group resized")
        elif isinstance(command, c.ReplaceDocumentCommand):
            add("whole workflow replaced")
        for i in range(command.childCount()):
            visit(command.child(i))

    for i in range(clean, index):
        command = stack.command(i)
        if command is not None:
            visit(command)
    if not counts:
        return "changes"
    parts = []
    for kind, n in counts.items():
        noun, _, verb = kind.partition(" ")
        parts.append(f"{_plural(n, noun)} {verb}".strip() if verb else _plural(n, noun))
    return ", ".join(parts)


async def _partial_job(
    db: Database, user_id: uuid.UUID, document: Any, partial: tuple[str, str, Any], options: Any
) -> Any:
    """Plan a partial run from the stored node records, then run it (on the run thread)."""
    from glyphic_desktop.engine.partial import plan_from_store
    from glyphic_desktop.engine.runner import run_workflow_async

    mode, node_id, execution_id = partial
    plan = plan_from_store(
        db,
        user_id,
        document,
        document.id,
        mode,
        node_id,
        execution_id=execution_id,
        registry=options.get("registry"),
    )
    return await run_workflow_async(db, user_id, document, partial=plan, **options)


class WorkflowSession(QObject):
    """One open workflow: its identity, whether it is saved, its drafts and its runs."""

    status = Signal(str, int)
    title_changed = Signal()
    document_loaded = Signal(object)
    imported = Signal(str)
    saved = Signal(object)
    run_started = Signal()
    run_events = Signal(list, set)
    run_finished = Signal(object)
    run_failed = Signal(str)
    run_cancelled = Signal()
    run_state_changed = Signal()
    problems = Signal(list)

    def __init__(
        self,
        db: Database,
        user_id: uuid.UUID,
        model: GraphModel,
        stack: QUndoStack,
        *,
        prompts: SessionPrompts,
        registry: Any = None,
        drafts: DraftStore | None = None,
        autosave_ms: int = 3000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.user_id = user_id
        self.model = model
        self.stack = stack
        self.prompts = prompts
        self.registry = registry if registry is not None else model.registry
        self.workflow_id: uuid.UUID | None = None
        self.workflow_name = UNTITLED
        self.base_version: int | None = None
        self.draft_key = f"new-{uuid.uuid4().hex[:12]}"
        self.dirty_without_undo = False
        #: Called before a save or a run (the window commits a half-typed field).
        self.commit_pending_edits: Callable[[], None] = lambda: None
        #: Asked before a run (the trust banner refuses untrusted workflows).
        self.allow_run: Callable[[], bool] = lambda: True
        self.run_thread: RunThread | None = None
        self.progress = RunProgress()
        self.last_run_result: Any = None
        self.last_run_error: BaseException | None = None
        self._run_document_key: str | None = None
        self._busy = 0
        #: The document came from a file (import, an example): its first save creates the
        #: schedules of its Schedule nodes paused, since an import never arms a schedule.
        self.from_file = False
        self.drafts = drafts or DraftStore()
        self.autosaver = Autosaver(
            self.draft_snapshot, self.drafts, delay_ms=autosave_ms, parent=self
        )
        self.autosaver.failed.connect(lambda text: self.status.emit(text, 8000))
        stack.cleanChanged.connect(self._clean_changed)
        stack.indexChanged.connect(self._index_changed)

    # -- state -----------------------------------------------------------------------

    def is_dirty(self) -> bool:
        """Whether the document differs from what was last saved (or loaded)."""
        return self.dirty_without_undo or not self.stack.isClean()

    def busy(self) -> bool:
        """Whether a save or an autosave is being written on a worker thread."""
        return bool(self._busy) or self.autosaver.busy()

    def mark_dirty(self) -> None:
        """Treat the document as unsaved (e.g. after swapping it in without a command)."""
        self.dirty_without_undo = True
        self.title_changed.emit()

    def mark_clean_for_close(self) -> None:
        """Forget unsaved changes (closing without asking, in scripts and benches)."""
        self.dirty_without_undo = False
        self.stack.setClean()

    def title_text(self) -> str:
        """``Name • — Glyphic`` while unsaved, ``Name — Glyphic`` otherwise."""
        mark = " •" if self.is_dirty() else ""
        return f"{self.workflow_name}{mark} — Glyphic"

    def _clean_changed(self, _clean: bool) -> None:
        self.title_changed.emit()

    def _index_changed(self, _index: int = 0) -> None:
        try:
            dirty = self.is_dirty()
        except RuntimeError:  # the stack is being destroyed with its window
            return
        self.title_changed.emit()
        if dirty:
            self.autosaver.schedule()
        else:
            self.autosaver.discard(self.draft_key)

    def is_running(self) -> bool:
        """Whether a run is in progress."""
        return self.run_thread is not None

    # -- documents -------------------------------------------------------------------

    def set_document(
        self,
        document: WorkflowDocument,
        *,
        workflow_id: uuid.UUID | None,
        name: str,
        base_version: int | None,
        dirty: bool = False,
    ) -> None:
        """Show ``document`` as a fresh editing session (the undo history starts over)."""
        self.from_file = False
        if workflow_id is None or str(workflow_id) != self.draft_key:
            self.autosaver.discard(self.draft_key)
        self.stack.clear()
        self.model.set_document(document)
        self.stack.setClean()
        self.workflow_id = workflow_id
        self.workflow_name = name
        self.base_version = base_version
        self.draft_key = str(workflow_id) if workflow_id else f"new-{uuid.uuid4().hex[:12]}"
        self.dirty_without_undo = dirty
        self.document_loaded.emit(workflow_id)
        self.title_changed.emit()
        if dirty:
            self.autosaver.schedule()

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the document now."""
        self.commit_pending_edits()
        if not self.is_dirty():
            return True
        answer = self.prompts.unsaved_changes(self.workflow_name)
        if answer == "save":
            return self.save()
        if answer == "discard":
            self.autosaver.discard(self.draft_key)
            return True
        return False

    def new_workflow(self) -> bool:
        """Start an empty, unsaved workflow (after asking about unsaved changes)."""
        if not self.maybe_save():
            return False
        self.set_document(WorkflowDocument(), workflow_id=None, name=UNTITLED, base_version=None)
        return True

    def open_workflow(self, workflow_id: uuid.UUID | str, *, ask: bool = True) -> bool:
        """Open the stored workflow ``workflow_id`` (after asking about unsaved changes)."""
        if ask and not self.maybe_save():
            return False
        try:
            with self.db.session() as session:
                record = WorkflowRepository(session, self.user_id).get(uuid.UUID(str(workflow_id)))
        except Exception as exc:
            self.prompts.error("Cannot open the workflow", one_line(exc))
            return False
        self._load_record(record)
        return True

    def _load_record(self, record: WorkflowRecord, *, dirty: bool = False) -> None:
        self.set_document(
            record.document,
            workflow_id=record.id,
            name=record.name,
            base_version=record.version,
            dirty=dirty,
        )
        self.status.emit(f"Opened “{record.name}” (version {record.version})", 5000)

    def open_reference(self, reference: str) -> bool:
        """Open a workflow file or a stored workflow, by the rule every command shares: an
        existing file, else an id, an exact name, a unique name in any case (else "did you
        mean …")."""
        from glyphic_desktop.store.repositories.workflows import is_workflow_file

        if is_workflow_file(reference):
            return self.import_file(reference)
        try:
            with self.db.session() as session:
                record = WorkflowRepository(session, self.user_id).resolve(reference)
        except Exception as exc:
            self.prompts.error("Cannot open the workflow", one_line(exc))
            return False
        if not self.maybe_save():
            return False
        self._load_record(record)
        return True

    def import_file(self, path: str | None = None, *, name: str | None = None) -> bool:
        """Open a workflow file (any format Glyphic reads) as a new, unsaved workflow.

        A file that fails validation lists its problems and changes nothing.
        """
        from glyphic_desktop.document.export import prepare_imported_document
        from glyphic_desktop.document.io import read_workflow_file
        from glyphic_desktop.document.validation import DocumentError

        path = path or self.prompts.open_file("Import workflow")
        if not path:
            return False
        try:
            result = read_workflow_file(path)
        except DocumentError as exc:
            count = len(exc.problems)
            self.prompts.error(
                "Cannot open the workflow file",
                f"{Path(path).name} is not a valid workflow "
                f"({_plural(count, 'problem')}); nothing was changed.",
                "\n".join(str(problem) for problem in exc.problems),
            )
            return False
        if not self.maybe_save():
            return False
        document = result.document
        notes = list(result.notes)
        try:
            with self.db.session() as session:
                document, more = prepare_imported_document(document, session, self.user_id)
            notes += more
        except Exception as exc:  # credentials not re-bound: say so, keep the document
            notes.append(f"credentials were not re-bound: {one_line(exc)}")
        document.id = None
        document.revision = 0
        name = name or result.suggested_name or Path(path).stem
        self.set_document(document, workflow_id=None, name=name, base_version=None, dirty=True)
        self.from_file = True
        self.imported.emit(str(path))
        if notes:
            self.prompts.error(
                "Imported with notes", f"{Path(path).name} was imported.", "\n".join(notes)
            )
        return True

    def export_file(self, path: str | None = None) -> bool:
        """Write the document to a workflow file (credentials as references only)."""
        self.commit_pending_edits()
        from glyphic_desktop.document.export import export_document_data

        path = path or self.prompts.save_file("Export workflow", f"{self.workflow_name}.json")
        if not path:
            return False
        try:
            with self.db.session() as session:
                data = export_document_data(self.model.doc, session, self.user_id)
            data.setdefault("metadata", {})["name"] = self.workflow_name
            Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        except Exception as exc:
            self.prompts.error("Cannot export the workflow", one_line(exc))
            return False
        self.status.emit(f"Exported to {path}", 5000)
        return True

    # -- saving ----------------------------------------------------------------------

    def _write(
        self, write: Callable[[WorkflowRepository, WorkflowDocument], WorkflowRecord]
    ) -> Any:
        """Run ``write(repository, snapshot)`` on a worker thread; its record."""
        snapshot = self.model.snapshot()
        db, user_id = self.db, self.user_id

        def call() -> WorkflowRecord:
            with db.session() as session:
                return write(WorkflowRepository(session, user_id), snapshot)

        self._busy += 1
        try:
            return call_in_worker(call)
        finally:
            self._busy -= 1
            self.model.release(snapshot)

    def save(self, summary: str | None = None) -> bool:
        """Save a new version (a new workflow asks for a name); True when saved.

        Without changes nothing is written (and the status bar says so). The version's
        change summary is ``summary``, else one counted from the undo history.
        """
        self.commit_pending_edits()
        if self.workflow_id is None or self.base_version is None:
            return self.save_as()
        if self._busy:
            self.status.emit("Still saving the previous version…", 4000)
            return False
        if not self.is_dirty():
            self.status.emit(f"No changes to save: version {self.base_version} is current", 5000)
            return True
        summary = summary or change_summary(self.stack)
        index = self.stack.index()
        workflow_id, base_version = self.workflow_id, self.base_version
        try:
            record = self._write(
                lambda repo, doc: repo.save(
                    workflow_id, doc, base_version=base_version, change_summary=summary
                )
            )
        except ConflictError as exc:
            return self._resolve_conflict(exc, summary)
        except Exception as exc:
            return self._save_failed(exc)
        self._saved(record, index)
        return True

    def save_as(self, name: str | None = None) -> bool:
        """Store the document as a new workflow under a name the user gives."""
        self.commit_pending_edits()
        if self._busy:
            self.status.emit("Still saving the previous version…", 4000)
            return False
        suggested = self.workflow_name if self.workflow_name != UNTITLED else ""
        if self.workflow_id is not None and suggested:
            suggested = f"{suggested} (copy)"
        name = name or self.prompts.ask_text("Save workflow", "Workflow name:", suggested)
        if not name:
            return False
        index = self.stack.index()
        arm = not self.from_file
        try:
            record = self._write(lambda repo, doc: repo.create(name, doc, arm_schedules=arm))
        except Exception as exc:
            return self._save_failed(exc)
        self.autosaver.discard(self.draft_key)
        self._saved(record, index)
        if not arm:
            self.from_file = False
            self._say_schedules_paused()
        return True

    def _say_schedules_paused(self) -> None:
        """Tell the user the stored copy's schedules wait to be resumed (if it has any)."""
        from glyphic_desktop.store.repositories.schedules import schedule_trigger_nodes

        count = len(schedule_trigger_nodes(self.model.doc))
        if count:
            self.status.emit(
                f"Saved; {_plural(count, 'schedule')} from the file created paused "
                "(an import never arms a schedule): 'glyphic schedule resume' enables them",
                10000,
            )

    def _saved(self, record: WorkflowRecord, index: int) -> None:
        old_key = self.draft_key
        self.model.doc.id = str(record.id)
        self.model.doc.revision = record.version
        self.workflow_id = record.id
        self.workflow_name = record.name
        self.base_version = record.version
        self.draft_key = str(record.id)
        if self.stack.index() == index:  # no edit came in while the worker wrote
            self.dirty_without_undo = False
            self.stack.setClean()
        self.autosaver.discard(old_key)
        if not self.is_dirty():
            self.autosaver.discard(self.draft_key)
        self.saved.emit(record)
        self.title_changed.emit()
        self.status.emit(f"Saved “{record.name}” as version {record.version}", 5000)

    def _save_failed(self, exc: BaseException) -> bool:
        if is_database_error(exc):
            path = self.autosaver.flush()
            kept = f" Your changes are kept in the draft {path}." if path else ""
            self.prompts.error(
                "Cannot save",
                f"The database is not reachable: {one_line(exc)}.{kept} "
                "Save again when the database is back.",
            )
            self.status.emit("Not saved: the database is not reachable", 10000)
        else:
            self.prompts.error("Cannot save", one_line(exc))
        return False

    def _resolve_conflict(self, exc: ConflictError, summary: str | None = None) -> bool:
        choice = self.prompts.conflict(self.workflow_name, exc.base_version, exc.stored_version)
        if choice is ConflictChoice.RELOAD:
            self.autosaver.discard(self.draft_key)
            return self.open_workflow(self.workflow_id, ask=False) and False
        if choice is ConflictChoice.OVERWRITE:
            self.base_version = exc.stored_version
            return self.save(summary)
        if choice is ConflictChoice.SAVE_AS_COPY:
            return self.save_as()
        self.status.emit("Not saved: the stored workflow is newer", 8000)
        return False

    # -- drafts ----------------------------------------------------------------------

    def draft_snapshot(self) -> Draft | None:
        """The draft to autosave now (a copy-on-write snapshot), or None when saved."""
        if not self.is_dirty():
            return None
        return Draft(
            key=self.draft_key,
            document=self.model.snapshot(),
            workflow_id=str(self.workflow_id) if self.workflow_id else None,
            name=self.workflow_name,
            base_version=self.base_version,
            release=self.model.release,
        )

    def offer_drafts(self) -> bool:
        """Offer back the drafts a crash left behind (newest first); True if one was restored."""
        for draft in self.drafts.list():
            if not self.prompts.offer_draft(draft):
                self.drafts.discard(draft.key)
                continue
            try:
                document = WorkflowDocument.model_validate(draft.document)
            except Exception as exc:
                self.prompts.error("Cannot restore the draft", one_line(exc))
                self.drafts.discard(draft.key)
                continue
            workflow_id = uuid.UUID(draft.workflow_id) if draft.workflow_id else None
            self.set_document(
                document,
                workflow_id=workflow_id,
                name=draft.name,
                base_version=draft.base_version,
                dirty=True,
            )
            self.draft_key = draft.key
            self.status.emit(f"Restored the unsaved changes to “{draft.name}”", 8000)
            return True
        return False

    # -- running ---------------------------------------------------------------------

    def ensure_stored(self) -> bool:
        """Save a workflow that was never stored (every run is recorded against one)."""
        if self.workflow_id is not None:
            return True
        self.status.emit("Every run is recorded against a workflow: save it first", 8000)
        return self.save()

    def preflight(self) -> list[Any]:
        """The problems that stop the document from running (empty: it may run)."""
        from glyphic_desktop.engine.preflight import preflight

        return list(preflight(self.model.doc, self.registry))

    def run(self, partial: tuple[str, str, Any] | None = None) -> bool:
        """Run the document on a background thread; True when a run started.

        ``partial`` = ``(mode, node_id, execution_id)`` runs part of it instead
        (``engine/partial.py``: mode ``only`` / ``to`` / ``from``), planned on the run
        thread from the node records of ``execution_id`` (None: the workflow's last run).
        """
        if self.is_running():
            return False
        self.commit_pending_edits()
        if not self.allow_run():
            return False
        problems = self.preflight()
        if problems:
            self.problems.emit(problems)
            return False
        if not self.ensure_stored():
            return False
        from glyphic_desktop.engine.runner import run_workflow_async

        document = self.model.doc.model_copy(deep=True)
        document.id = str(self.workflow_id)
        db, user_id, registry = self.db, self.user_id, self.registry

        def job(listeners: list[Any], cancel_event: Any) -> Any:
            options = {
                "trigger": "manual",
                "listeners": listeners,
                "cancel_event": cancel_event,
                "registry": registry,
                "process_kind": "editor",  # registered for the run: a killed editor's run fails
            }
            if partial is None:
                return run_workflow_async(db, user_id, document, **options)
            return _partial_job(db, user_id, document, partial, options)

        self.progress = RunProgress(labels={node.id: node.label for node in document.nodes})
        self.last_run_result = None
        self.last_run_error = None
        # No parent: a session deleted mid-run must not destroy a running QThread.
        thread = RunThread(job)
        _LIVE_THREADS.add(thread)
        thread.finished.connect(_reaper().reap)
        self.destroyed.connect(thread.stop)
        thread.eventsReady.connect(self._run_events)
        thread.runFinished.connect(self._run_finished)
        thread.runFailed.connect(self._run_failed)
        thread.finished.connect(self._thread_done)
        self.run_thread = thread
        self._run_document_key = self.draft_key
        self.run_started.emit()
        self.run_state_changed.emit()
        thread.start()
        return True

    def stop(self) -> None:
        """Cancel the run in progress."""
        if self.run_thread is not None:
            self.run_thread.stop()

    def _run_events(self, events: list[Any]) -> None:
        if self._run_document_key != self.draft_key:
            return  # another document was opened meanwhile: its canvas shows nothing of it
        lines, changed = self.progress.apply(events)
        self.run_events.emit(lines, changed)

    def _run_finished(self, result: Any) -> None:
        self.last_run_result = result
        self.run_finished.emit(result)

    def _run_failed(self, exc: BaseException) -> None:
        self.last_run_error = exc
        message, problems = describe_failure(exc)
        if problems:
            self.problems.emit(problems)
        elif exc.__class__.__name__ == "CancelledError":
            self.run_cancelled.emit()
        else:
            self.run_failed.emit(message)

    def _thread_done(self) -> None:
        self.run_thread = None
        self.run_state_changed.emit()

    def run_in_background(self) -> bool:
        """Queue a run of the saved workflow for the tray agent (saves first when needed)."""
        if not self.allow_run():
            return False
        problems = self.preflight()
        if problems:
            self.problems.emit(problems)
            return False
        if (self.workflow_id is None or self.is_dirty()) and not self.save():
            return False
        from glyphic_desktop.store.repositories.executions import ExecutionRepository

        try:
            with self.db.session() as session:
                execution_id = ExecutionRepository(session, self.user_id).create_pending(
                    self.workflow_id, trigger_type="manual", trigger_data={"queued_by": "editor"}
                )
        except Exception as exc:
            self.prompts.error("Cannot queue the run", one_line(exc))
            return False
        self.status.emit(
            f"Queued run {str(execution_id)[:8]} for the agent ('glyphic agent' runs it)", 8000
        )
        self.run_state_changed.emit()
        return True

    def close(self) -> None:
        """Stop a run and the autosave timer; drop the draft when nothing is unsaved."""
        if self.run_thread is not None:
            self.run_thread.stop()
            self.run_thread.wait(10_000)
        self.autosaver.timer.stop()
        self.autosaver.wait()
        if not self.is_dirty():
            self.autosaver.discard(self.draft_key)
