"""One call that runs a stored workflow and records it: the editor, the agent and the CLI use it.

:func:`run_workflow` (sync; runs its own event loop; fine on a ``QThread``) and
:func:`run_workflow_async` (inside a running loop, e.g. the agent's) do, in order:

1. resolve the target: a :class:`WorkflowRecord`, a :class:`WorkflowDocument` whose
   ``id`` is a stored workflow of the user (its content may be newer than the stored
   one: the editor runs what is on screen), or a workflow id / name;
2. create the ``executions`` row (``pending``), unless ``execution_id`` names one the
   caller already created (the agent's queue);
3. refuse a workflow whose untrusted nodes run code (``engine/trust.py``:
   :class:`UntrustedWorkflow`, a :class:`PreflightFailed` with a one-line message), else
   preflight it (with the disabled node types of ``engine/disabled_nodes.py``); a refused
   workflow or one with problems is recorded as ``failed`` with the message in
   ``error_message`` and the error is raised (its ``execution_id`` set); no node runs;
4. mark the row ``running``, run the executor with the database log sink, the output
   recorder and the caller's listeners (which only ever see masked events);
5. finalise the row (status, capped outputs, masked error and stack, timings, the
   workflow's counters and a ``files`` row for every file a node recorded with
   ``ctx.services.record_file``, in one transaction; each node's record in
   ``execution_node_data`` (inputs, item counts, status: ``engine/node_data.py``) is
   written while the run goes on, the last ones before that transaction) and return a
   :class:`RunResult` (its ``files`` are the recorded rows). Files are recorded whatever
   the status: a failed or cancelled run keeps what it wrote before it stopped.

The agent passes ``claimed_by`` (its name): the row records it and ``heartbeat_at`` is
touched every ``heartbeat_interval`` seconds while the run goes on.

Cancelling: set ``cancel_event`` (a ``threading.Event`` or ``asyncio.Event``); the run
ends ``cancelled`` within a second. Secrets: every credential a node loads is registered
with the run's masker, which every sink, listener and the stored record go through.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.compiled import Compiled, CompiledDocuments
from glyphic_desktop.engine.events import EventBus, RunEvent
from glyphic_desktop.engine.executor import Executor, Plan
from glyphic_desktop.engine.finish import fail_row, finish_surely, one_line_reason
from glyphic_desktop.engine.node_data import NodeDataRecorder, NodeRowStream
from glyphic_desktop.engine.preflight import PreflightFailed, Problem, preflight
from glyphic_desktop.engine.records import (
    DEFAULT_NODE_OUTPUT_CAP,
    DEFAULT_TOTAL_OUTPUT_CAP,
    OutputRecorder,
    to_jsonable,
)
from glyphic_desktop.engine.sinks import DatabaseLogSink, default_masker, masked_listener
from glyphic_desktop.engine.trust import RunPolicy, load_run_policy
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.nodes.base import NodeError

if TYPE_CHECKING:
    from glyphic_desktop.nodes.registry import NodeRegistry
    from glyphic_desktop.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """The outcome of one recorded run."""

    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    status: str  # completed / failed / cancelled
    error: str | None = None
    error_stack: str | None = None
    error_node: str | None = None
    result: Any = None  # the leaves' primary output (see SubgraphResult.value)
    outputs: dict[str, Any] = field(default_factory=dict)  # as stored: capped and masked
    duration_ms: float = 0.0
    nodes_run: int = 0
    nodes_skipped: int = 0
    nodes_failed: int = 0
    nodes_reused: int = 0  # pinned, or outputs a partial run re-used: not run
    log_rows: int = 0
    log_errors: int = 0
    problems: list[Problem] = field(default_factory=list)
    files: list[Any] = field(default_factory=list)  # FileRecord rows of produced files
    resume_token: str | None = None  # a waiting run's resume token (engine/waits.py)
    error_execution: uuid.UUID | None = None  # the error workflow's run it queued

    @property
    def ok(self) -> bool:
        """Whether the run completed."""
        return self.status == "completed"

    def __repr__(self) -> str:  # never format the outputs (they may be huge)
        return (
            f"RunResult(execution_id={self.execution_id!s}, status={self.status!r}, "
            f"error={self.error!r}, nodes_run={self.nodes_run}, "
            f"duration_ms={self.duration_ms:.1f})"
        )


class DbCredentialResolver:
    """The engine's credential resolver over the user's stored credentials.

    Each call opens its own short session; the keyset is loaded on the first ``load``.
    Loaded secrets are registered with ``masker``.
    """

    def __init__(self, db: Database, user_id: uuid.UUID, masker: Any = None) -> None:
        self.db = db
        self.user_id = user_id
        self.masker = masker
        self._keyset: Any = None

    def _resolver(self, session: Any, keyset: Any) -> Any:
        from glyphic_desktop.secrets.references import RepositoryCredentialResolver
        from glyphic_desktop.store.repositories.integrations import IntegrationRepository

        masker = self.masker if hasattr(self.masker, "add") else None
        repo = IntegrationRepository(session, self.user_id, keyset)
        return RepositoryCredentialResolver(repo, masker)

    def problem(self, binding: Mapping[str, Any], credential_type: str) -> str | None:
        """Why ``binding`` cannot be used (None when it can)."""
        with self.db.session() as session:
            return self._resolver(session, None).problem(binding, credential_type)

    __call__ = problem

    def load(self, binding: Mapping[str, Any], credential_type: str) -> Mapping[str, Any]:
        """The decrypted credential."""
        if self._keyset is None:
            from glyphic_desktop.secrets.keys import require_keyset

            self._keyset = require_keyset()
        with self.db.session() as session:
            return self._resolver(session, self._keyset).load(binding, credential_type)


def _default_resolver(db: Database, user_id: uuid.UUID, masker: Any) -> Any:
    try:
        import glyphic_desktop.secrets.references
        import glyphic_desktop.store.repositories.integrations  # noqa: F401
    except ImportError:
        return None
    return DbCredentialResolver(db, user_id, masker)


@dataclass(frozen=True)
class ResolvedWorkflow:
    """A workflow its caller already loaded (the agent's claim reads it with the row)."""

    document: WorkflowDocument
    id: uuid.UUID
    name: str


def _resolve_target(
    db: Database, user_id: uuid.UUID, workflow: Any
) -> tuple[WorkflowDocument, uuid.UUID, str]:
    from glyphic_desktop.store.repositories.workflows import WorkflowRecord, WorkflowRepository

    if isinstance(workflow, ResolvedWorkflow):
        return workflow.document, workflow.id, workflow.name
    if isinstance(workflow, WorkflowRecord):
        return workflow.document, workflow.id, workflow.name
    if isinstance(workflow, WorkflowDocument):
        if not workflow.id:
            raise GlyphicError(
                "the workflow must be saved before it runs (every run is recorded against it)"
            )
        with db.session() as session:
            record = WorkflowRepository(session, user_id).resolve(workflow.id)
        return workflow, record.id, record.name
    if isinstance(workflow, uuid.UUID | str):
        with db.session() as session:
            record = WorkflowRepository(session, user_id).resolve(workflow)
        return record.document, record.id, record.name
    raise TypeError(f"cannot run {workflow!r}: give a WorkflowRecord, a document, an id or a name")


def _workflow_loader(
    db: Database, user_id: uuid.UUID, registry: NodeRegistry, policy: RunPolicy
) -> Callable[[str], WorkflowDocument]:
    def load(ref: str) -> WorkflowDocument:
        from glyphic_desktop.store.repositories.workflows import WorkflowRepository

        try:
            with db.session() as session:
                record = WorkflowRepository(session, user_id).resolve(ref)
        except GlyphicError as exc:
            raise NodeError(exc.message) from None
        # A sub-workflow obeys its own trust and the run's disabled node types.
        sub_policy = RunPolicy(record.untrusted_nodes, record.untrusted_source, policy.disabled)
        refusal = sub_policy.refusal(record.document, registry, record.name)
        if refusal is not None:
            raise NodeError(f"sub-{refusal.message}")
        off = [node for node in record.document.nodes if node.type in policy.disabled]
        if off:
            raise NodeError(
                f"sub-workflow {record.name!r} cannot run: "
                + "; ".join(
                    f"node {node.label or node.id!r} ({node.type}) is disabled by "
                    f"{policy.disabled[node.type]}"
                    for node in off
                )
            )
        return record.document

    return load


def _mask_text(masker: Any, text: str | None) -> str | None:
    if text is None or not masker:
        return text
    return masker.mask(text)


#: Documents up to this many nodes, none with a credential and their expressions short,
#: are checked on the loop.
_INLINE_PREFLIGHT_NODES = 32
_INLINE_EXPRESSION_CHARS = 4096


def _checked_inline(document: WorkflowDocument, registry: NodeRegistry) -> bool:
    """Whether preflight may run on the event loop: a few nodes, no credential lookup (the
    database) and short expressions (compiling a hostile megabyte would hold the loop,
    and with it the agent's webhook listener) take less than a hop to a thread and back."""
    from glyphic_desktop.engine.expressions import expression_chars

    nodes = document.nodes
    if len(nodes) > _INLINE_PREFLIGHT_NODES:
        return False
    budget = _INLINE_EXPRESSION_CHARS
    for node in nodes:
        cls = registry.get(node.type)
        if cls is None or cls.credential_type:
            return False
        budget -= expression_chars(node.data.fields, budget)
        if budget < 0:
            return False
    return True


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


_HOLD = "UPDATE executions SET process_id = :process, heartbeat_at = now() WHERE id = :id"


def _create(
    db: Database,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    process_id: uuid.UUID | None = None,
    claimed_by: str | None = None,
    **kwargs: Any,
) -> uuid.UUID:
    """Insert the pending row; held by ``process_id`` at once, so no agent claims it."""
    from sqlalchemy import text

    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    with db.session() as session:
        new_id = ExecutionRepository(session, user_id).create_pending(workflow_id, **kwargs)
        if process_id is not None:
            session.execute(
                text(
                    "UPDATE executions SET process_id = :process, claimed_by = :name, "
                    "heartbeat_at = now() WHERE id = :id"
                ),
                {"process": process_id, "name": claimed_by, "id": new_id},
            )
        return new_id


def _mark_running(
    db: Database,
    user_id: uuid.UUID,
    execution_id: uuid.UUID,
    *,
    process_id: uuid.UUID | None = None,
    **kwargs: Any,
) -> Any:
    from sqlalchemy import text

    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    with db.session() as session:
        started = ExecutionRepository(session, user_id).mark_running(execution_id, **kwargs)
        if process_id is not None:
            session.execute(text(_HOLD), {"process": process_id, "id": execution_id})
        return started


def _cancel_setter(cancel_event: Any) -> Callable[[], None]:
    """A thread-safe way to set ``cancel_event`` (threading or asyncio Event)."""
    if isinstance(cancel_event, asyncio.Event):
        loop = asyncio.get_running_loop()
        return lambda: loop.call_soon_threadsafe(cancel_event.set)
    return cancel_event.set


def _finish(
    db: Database,
    user_id: uuid.UUID,
    execution_id: uuid.UUID,
    status: str,
    *,
    files: Iterable[Any] = (),
    node_rows: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> list[Any]:
    """Finish the execution and record its produced files and per-node records in one
    transaction (a failing node-record write is logged and never loses the final status).

    Returns the ``FileRecord`` rows written.
    """
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    with db.session() as session:
        ExecutionRepository(session, user_id).finish(
            execution_id, status, return_record=False, **kw
        )
        if node_rows:
            _write_node_rows(session, user_id, execution_id, node_rows)
        specs = [each.as_row() for each in files]
        if not specs:
            return []
        from glyphic_desktop.store.repositories.files import FileRepository

        return FileRepository(session, user_id).record_many(execution_id, specs)


def _write_node_rows(
    session: Any, user_id: uuid.UUID, execution_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """Write the per-node rows in a savepoint of ``session`` (errors are logged only)."""
    from glyphic_desktop.store.repositories.node_data import NodeDataRepository

    try:
        with session.begin_nested():
            NodeDataRepository(session, user_id).write(execution_id, rows)
    except Exception:
        log.warning("could not record the node data of execution %s", execution_id, exc_info=True)


def _write_node_rows_alone(
    db: Database, user_id: uuid.UUID, execution_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """Write the per-node rows in their own transaction (errors are logged only)."""
    from glyphic_desktop.store.repositories.node_data import NodeDataRepository

    try:
        with db.session() as session:
            NodeDataRepository(session, user_id).write(execution_id, rows)
    except Exception:
        log.warning("could not record the node data of execution %s", execution_id, exc_info=True)


def _source_input(db: Database, user_id: uuid.UUID, execution_id: Any) -> Any:
    """The input of the execution a partial run starts from (None when it is gone)."""
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    try:
        with db.session() as session:
            return ExecutionRepository(session, user_id).get(execution_id).input_data
    except GlyphicError:
        return None


async def run_workflow_async(
    db: Database,
    user_id: uuid.UUID,
    workflow: Any,
    *,
    trigger: str = "manual",
    trigger_data: Any = None,
    input: Any = None,
    listeners: Iterable[Callable[[RunEvent], Any]] = (),
    cancel_event: Any = None,
    registry: NodeRegistry | None = None,
    credential_resolver: Any = None,
    masker: Any = None,
    execution_id: uuid.UUID | None = None,
    claimed_by: str | None = None,
    node_output_cap: int = DEFAULT_NODE_OUTPUT_CAP,
    total_output_cap: int = DEFAULT_TOTAL_OUTPUT_CAP,
    concurrency: int | None = None,
    log_batch_size: int = 2000,
    log_flush_interval: float = 0.05,
    heartbeat_interval: float = 30.0,
    process_id: uuid.UUID | None = None,
    process_kind: str = "cli",
    started_at: Any = None,
    policy: RunPolicy | None = None,
    writer: Any = None,
    partial: Any = None,
    on_executed: Callable[[], Any] | None = None,
    compiled: CompiledDocuments | None = None,
) -> RunResult:
    """Preflight, record and run ``workflow`` (see the module docstring).

    ``partial`` (a :class:`~glyphic_desktop.engine.partial.PartialPlan`) runs only part
    of the workflow; ``trigger_data`` then records ``{"partial": ...}``, ``input``
    defaults to the source execution's, and only problems of nodes that run stop it.

    Process registration (DESIGN.md §7): a caller that holds no registered process
    (``process_id`` None and no ``claimed_by``: ``glyphic run``, the editor) registers
    one of ``process_kind`` for the length of the run; it heartbeats, so a run whose
    process dies is failed by a live agent. ``started_at`` says the row is already
    ``running`` (the agent's claim started it); ``policy`` and a
    :class:`ResolvedWorkflow` spare their lookups; ``writer`` (the agent's batch
    writer) takes the log rows and the final row of many runs in one transaction.
    ``on_executed`` is called once the nodes have run, before the final row is written
    (the agent's slot is free from then on: the writer batches the rest).
    ``compiled`` keeps the checked and compiled document between runs of a
    :class:`ResolvedWorkflow` whose document never changes (``engine/compiled.py``).
    """
    own_process = None
    if process_id is None and claimed_by is None:
        own_process, cancel_event = await _register_own(db, process_kind, cancel_event)
        process_id, claimed_by = own_process.id, own_process.name
    try:
        return await _run_recorded(
            db,
            user_id,
            workflow,
            trigger=trigger,
            trigger_data=trigger_data,
            input=input,
            listeners=listeners,
            cancel_event=cancel_event,
            registry=registry,
            credential_resolver=credential_resolver,
            masker=masker,
            execution_id=execution_id,
            claimed_by=claimed_by,
            node_output_cap=node_output_cap,
            total_output_cap=total_output_cap,
            concurrency=concurrency,
            log_batch_size=log_batch_size,
            log_flush_interval=log_flush_interval,
            heartbeat_interval=heartbeat_interval,
            process_id=process_id,
            started_at=started_at,
            policy=policy,
            writer=writer,
            partial=partial,
            on_executed=on_executed,
            compiled=compiled,
        )
    finally:
        if own_process is not None:
            await asyncio.shield(_in_thread(own_process.stop))


async def _register_own(db: Database, kind: str, cancel_event: Any) -> tuple[Any, Any]:
    """Register this process for one run; ``glyphic db stop --force`` cancels the run."""
    import os
    import socket
    import threading

    from glyphic_desktop.agent.processes import ProcessHeartbeat

    if cancel_event is None:
        cancel_event = threading.Event()
    process = ProcessHeartbeat(
        db,
        kind,
        name=f"{kind} {socket.gethostname()}:{os.getpid()}",
        on_stop_requested=_cancel_setter(cancel_event),
    )
    await _in_thread(process.start)
    return process, cancel_event


async def _run_recorded(
    db: Database,
    user_id: uuid.UUID,
    workflow: Any,
    *,
    trigger: str,
    trigger_data: Any,
    input: Any,
    listeners: Iterable[Callable[[RunEvent], Any]],
    cancel_event: Any,
    registry: NodeRegistry | None,
    credential_resolver: Any,
    masker: Any,
    execution_id: uuid.UUID | None,
    claimed_by: str | None,
    node_output_cap: int,
    total_output_cap: int,
    concurrency: int | None,
    log_batch_size: int,
    log_flush_interval: float,
    heartbeat_interval: float,
    process_id: uuid.UUID | None,
    started_at: Any,
    policy: RunPolicy | None,
    writer: Any,
    partial: Any = None,
    on_executed: Callable[[], Any] | None = None,
    compiled: CompiledDocuments | None = None,
) -> RunResult:
    from glyphic_desktop.nodes.registry import default_registry

    registry = registry or default_registry()
    masker = masker if masker is not None else default_masker()
    if credential_resolver is None:
        credential_resolver = _default_resolver(db, user_id, masker)
    if isinstance(workflow, ResolvedWorkflow):
        document, workflow_id, name = workflow.document, workflow.id, workflow.name
    else:
        document, workflow_id, name = await _in_thread(_resolve_target, db, user_id, workflow)
    if policy is None:
        policy = await _in_thread(load_run_policy, db, user_id, workflow_id)
    if partial is not None:
        base = trigger_data if isinstance(trigger_data, Mapping) else {}
        trigger_data = {**base, **partial.trigger_data()}
        if input is None and partial.source_execution:
            input = await _in_thread(_source_input, db, user_id, partial.source_execution)
    json_input = to_jsonable(input)
    if execution_id is None:
        execution_id = await _in_thread(
            _create,
            db,
            user_id,
            workflow_id,
            trigger_type=trigger,
            trigger_data=to_jsonable(trigger_data),
            input_data=json_input,
            process_id=process_id,
            claimed_by=claimed_by,
        )

    async def write(status: str, **kw: Any) -> list[Any]:
        if writer is not None:  # node rows go in the writer's transaction too
            return await writer.finish(user_id, execution_id, status, **kw)
        return await _in_thread(_finish, db, user_id, execution_id, status, **kw)

    unstored: list[str | None] = [None]  # why the row could not be written as asked

    async def last_resort(message: str) -> None:
        await _in_thread(fail_row, db, user_id, execution_id, message)

    async def finish(status: str, **kw: Any) -> list[Any]:  # the row always ends
        done = await finish_surely(write, status, last_resort=last_resort, **kw)
        unstored[0] = done.error
        return done.files

    validated: dict[str, Any] = {}
    checked = document  # a partial run checks only the part it compiles
    if partial is not None:
        from glyphic_desktop.engine.partial import restrict_document

        checked, _starts = restrict_document(document, **partial.executor_options())
        compiled = None
    kept = compiled.get(document, registry, policy.disabled) if compiled is not None else None
    try:
        # Untrusted nodes that run code refuse the run before preflight (engine/trust.py).
        refusal = policy.refusal(document, registry, name)
        check = functools.partial(
            preflight,
            checked,
            registry,
            credential_resolver=credential_resolver,
            validated=validated,
            disabled_types=policy.disabled,
        )
        if refusal:
            problems = []
        elif kept is not None:
            problems = list(kept.problems)
        elif _checked_inline(checked, registry):
            problems = check()
        else:
            problems = await _in_thread(check)
        if compiled is not None and kept is None and not refusal and problems:
            compiled.put(document, registry, policy.disabled, Compiled(tuple(problems), None))
    except Exception as exc:  # a crashing preflight fails the run like a failed one
        refusal = None
        problems = [Problem("internal", f"preflight crashed: {one_line_reason(exc)}")]
    if partial is not None and problems:  # only the nodes that run must be sound
        problems = [
            p
            for p in problems
            if (p.node_id is None or p.node_id in partial.run)
            # a node started with recorded inputs has no edges in the checked part
            and not (p.kind == "required_input" and p.node_id in partial.start_inputs)
        ]
    if refusal or problems:
        failure = refusal or PreflightFailed(problems, name)
        await finish("failed", error_message=_mask_text(masker, failure.message))
        failure.execution_id = execution_id  # type: ignore[attr-defined]
        if document.config.get("errorWorkflow") and _whole(partial):  # its error workflow too
            await _error_run(
                db,
                user_id,
                document,
                workflow_id,
                name,
                execution_id,
                trigger,
                trigger_data,
                _mask_text(masker, failure.message),
                None,
            )
        raise failure
    sink: Any = None
    stream: NodeRowStream | None = None
    try:
        if started_at is None:
            started_at = await _in_thread(
                _mark_running,
                db,
                user_id,
                execution_id,
                claimed_by=claimed_by,
                process_id=process_id,
            )
        recorder = OutputRecorder(
            node_cap=node_output_cap, total_cap=total_output_cap, masker=masker
        )
        if writer is not None:
            sink = writer.sink(execution_id, masker)
        else:
            sink = DatabaseLogSink(
                db,
                execution_id,
                masker=masker,
                batch_size=log_batch_size,
                flush_interval=log_flush_interval,
            )
        if writer is None:  # nodes' rows are written while the run goes on
            stream = NodeRowStream(db, user_id, execution_id)
        nodes = NodeDataRecorder(
            node_cap=node_output_cap,
            total_cap=total_output_cap,
            masker=masker,
            seeds=partial.seeds() if partial is not None else None,
            stream=stream,
        )
        bus = EventBus(
            [recorder, nodes, sink, *(masked_listener(each, masker) for each in listeners)]
        )
        if kept is not None and kept.plan is not None:
            plan = kept.plan
        else:
            plan = Plan(
                document,
                registry,
                validated,
                **(partial.executor_options() if partial is not None else {}),
            )
            if compiled is not None:
                compiled.put(document, registry, policy.disabled, Compiled((), plan))
        executor = Executor(
            document,
            registry,
            plan=plan,
            bus=bus,
            execution_id=str(execution_id),
            workflow_id=str(workflow_id),
            trigger=trigger,
            trigger_data=trigger_data,
            run_input=input,
            concurrency=concurrency,
            credentials=credential_resolver,
            workflow_loader=_workflow_loader(db, user_id, registry, policy),
            cancel_event=cancel_event,
            started_at=started_at,
        )
        from glyphic_desktop.store.repositories.dedupe_keys import SeenKeys

        executor.seen_keys = SeenKeys(db, workflow_id)  # Remove Duplicates across runs
    except Exception as exc:  # whatever stops the run from starting ends its row
        if sink is not None and writer is None:
            await _in_thread(sink.close)
        if stream is not None:
            await _in_thread(stream.close)
        await finish("failed", error_message=f"the run could not start: {one_line_reason(exc)}")
        raise
    beat = None
    if claimed_by and heartbeat_interval and process_id is None:  # the process heartbeats
        beat = asyncio.create_task(_heartbeat(db, user_id, execution_id, heartbeat_interval))
    try:
        outcome = await executor.run()
    except BaseException as exc:
        # Cancelled from outside (the agent stopping, Ctrl-C) or an engine bug.
        status = "failed" if isinstance(exc, Exception) else "cancelled"
        message = f"internal engine error: {exc!r}" if status == "failed" else None
        await asyncio.shield(_closed(sink.close))
        if stream is not None:
            await asyncio.shield(_closed(stream.close, nodes.remaining(), nodes.rewrite))
        await asyncio.shield(
            finish(
                status,
                output_data=recorder.outputs,
                error_message=_mask_text(masker, message) or "the run was cancelled",
                error_stack=_mask_text(masker, "".join(traceback.format_exception(exc))),
                files=list(executor.files),
                node_rows=nodes.rows() if stream is None else None,
            )
        )
        raise
    finally:
        if beat is not None:
            beat.cancel()
    if on_executed is not None:
        on_executed()
    if executor.suspension is not None:  # a long Wait: stored as 'waiting' (engine/waits.py)
        from glyphic_desktop.engine.waits import store_waiting

        return await store_waiting(
            db, executor, execution_id, workflow_id, outcome, sink, stream, nodes, recorder
        )
    node_rows: list[dict[str, Any]] | None = None
    if stream is not None:  # the last nodes' rows go in while the last log lines do
        await asyncio.gather(
            _closed(sink.close),
            _closed(stream.close, nodes.remaining(), nodes.rewrite),
        )
    else:
        if writer is None:
            await _closed(sink.close)
        node_rows = nodes.rows()
    error = _mask_text(masker, outcome.error)
    stack = _mask_text(masker, outcome.error_stack)
    files = await finish(
        outcome.status,
        output_data=recorder.outputs,
        error_message=error,
        error_stack=stack,
        files=list(executor.files),
        node_rows=node_rows,
    )
    result = outcome.result
    if masker:
        result = masker.mask(result)
    if unstored[0] is not None:  # the row says failed: so does the result
        outcome.status, error = "failed", unstored[0]
    error_run = None
    if outcome.status == "failed" and document.config.get("errorWorkflow") and _whole(partial):
        error_run = await _error_run(
            db,
            user_id,
            document,
            workflow_id,
            name,
            execution_id,
            trigger,
            trigger_data,
            error,
            outcome.error_node,
        )
    return RunResult(
        execution_id=execution_id,
        workflow_id=workflow_id,
        status=outcome.status,
        error=error,
        error_stack=stack,
        error_node=outcome.error_node,
        result=result,
        outputs=recorder.outputs,
        duration_ms=outcome.duration_ms,
        nodes_run=outcome.nodes_run,
        nodes_skipped=outcome.nodes_skipped,
        nodes_failed=outcome.nodes_failed,
        nodes_reused=outcome.nodes_reused,
        log_rows=sink.rows_written,
        log_errors=sink.errors,
        files=files,
        error_execution=error_run,
    )


def _whole(partial: Any) -> bool:
    """A whole run (or a waiting one resumed), not a partial run from the editor or CLI:
    only those start the error workflow."""
    return partial is None or bool(getattr(partial, "resumes", False))


async def _error_run(
    db: Database,
    user_id: uuid.UUID,
    document: WorkflowDocument,
    workflow_id: uuid.UUID,
    name: str,
    execution_id: uuid.UUID,
    trigger: str,
    trigger_data: Any,
    error: str | None,
    error_node: str | None,
) -> uuid.UUID | None:
    """Queue the failed run's error workflow (``engine/error_workflow.py``); never raises."""
    from glyphic_desktop.engine.error_workflow import queue_error_workflow

    return await _in_thread(
        queue_error_workflow,
        db,
        user_id,
        document,
        workflow_id=workflow_id,
        workflow_name=name,
        execution_id=execution_id,
        trigger=trigger,
        trigger_data=trigger_data,
        error=error,
        error_node=error_node,
    )


async def _closed(close: Callable[..., Any], *args: Any) -> None:
    """Close a log or node-row writer on a thread; a failure is logged, never raised, so
    the run's row is still finished after it."""
    try:
        await _in_thread(close, *args)
    except Exception as exc:
        log.warning("closing %r failed: %s", close, one_line_reason(exc))


async def _heartbeat(db: Database, user_id: uuid.UUID, execution_id: uuid.UUID, every: float):
    from glyphic_desktop.store.repositories.executions import ExecutionRepository

    def touch() -> None:
        with db.session() as session:
            ExecutionRepository(session, user_id).heartbeat(execution_id)

    while True:
        await asyncio.sleep(every)
        try:
            await _in_thread(touch)
        except Exception:  # a missed heartbeat is not worth failing the run for
            log.warning("could not record the heartbeat of execution %s", execution_id)


def run_workflow(db: Database, user_id: uuid.UUID, workflow: Any, **options: Any) -> RunResult:
    """:func:`run_workflow_async` in a fresh event loop (for threads without a loop)."""
    return asyncio.run(run_workflow_async(db, user_id, workflow, **options))
