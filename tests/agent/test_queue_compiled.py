"""The agent checks and compiles a stored workflow version once and reuses it (engine/compiled.py).

What must not change: every run still gets its own input and outputs; a preflight
failure is still a failure; a node type disabled since the last run stops the next one;
a document whose nodes need credentials is checked every run (the credential may be gone);
a new version of the workflow is checked anew.
"""

from __future__ import annotations

import asyncio
import time

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.compiled import Compiled, CompiledDocuments, needs_credentials
from glyphic_desktop.engine.disabled_nodes import write_setting
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.agent.test_queue import _document, get, queue, runner, store


def _echo_document() -> WorkflowDocument:
    return _document(
        ("start", "manual", {}),
        ("set", "set", {"fields": [{"name": "seen", "value": "{{ input.n }}"}]}),
    )


def test_runs_of_one_version_share_the_compiled_plan_and_keep_their_own_data(db, user_id):
    with db.session() as session:
        workflow_id = WorkflowRepository(session, user_id).create("echo", _echo_document()).id
    ids = [queue(db, user_id, workflow_id, input_data={"n": n}) for n in range(6)]
    queue_runner = runner(db, concurrency=3)
    assert asyncio.run(queue_runner.run_pending()) == 6
    for n, execution_id in enumerate(ids):
        record = get(db, user_id, execution_id)
        assert record.status == "completed", record.error_message
        assert record.output_data["set"]["output"]["seen"] == n
    # checked and compiled once: the five other runs took it from the cache
    assert queue_runner._compiled.hits == 5


def test_a_failed_preflight_is_remembered_and_still_fails_every_run(db, user_id):
    broken = store(
        db, user_id, "broken", ("start", "manual", {}), ("say", "log", {"message": "{{ oops"})
    )
    ids = [queue(db, user_id, broken) for _ in range(3)]
    queue_runner = runner(db)
    asyncio.run(queue_runner.run_pending())
    messages = {get(db, user_id, execution_id).error_message for execution_id in ids}
    assert {get(db, user_id, execution_id).status for execution_id in ids} == {"failed"}
    assert len(messages) == 1 and "node say" in messages.pop()
    assert queue_runner._compiled.hits == 2


def test_a_type_disabled_between_runs_stops_the_next_run(db, user_id):
    workflow_id = store(
        db, user_id, "logs", ("start", "manual", {}), ("say", "log", {"message": "hi"})
    )
    queue_runner = runner(db)
    first = queue(db, user_id, workflow_id)
    asyncio.run(queue_runner.run_pending())
    assert get(db, user_id, first).status == "completed"
    with db.session() as session:
        write_setting(session, user_id, ["log"])
    time.sleep(2.1)  # the runner re-reads a person's disabled types after two seconds
    second = queue(db, user_id, workflow_id)
    asyncio.run(queue_runner.run_pending())
    record = get(db, user_id, second)
    assert record.status == "failed"
    assert "node type 'log' is disabled" in record.error_message


def test_a_new_version_is_checked_anew(db, user_id):
    workflow_id = store(db, user_id, "grows", ("start", "manual", {}))
    queue_runner = runner(db)
    asyncio.run(queue_runner.run_pending())  # nothing queued yet
    first = queue(db, user_id, workflow_id)
    asyncio.run(queue_runner.run_pending())
    assert get(db, user_id, first).status == "completed"
    with db.session() as session:
        WorkflowRepository(session, user_id).save(
            workflow_id,
            _document(("start", "manual", {}), ("what", "no.such.type", {})),
            base_version=1,
        )
    second = queue(db, user_id, workflow_id)
    asyncio.run(queue_runner.run_pending())
    assert get(db, user_id, second).status == "failed"


def test_documents_that_need_credentials_are_not_kept():
    registry = default_registry()
    plain = _echo_document()
    with_credential = _document(("start", "manual", {}), ("mail", "gmail", {}))
    assert not needs_credentials(plain, registry)
    assert needs_credentials(with_credential, registry)
    cache = CompiledDocuments()
    cache.put(with_credential, registry, {}, Compiled((), None))
    assert cache.get(with_credential, registry, {}) is None
    cache.put(plain, registry, {}, Compiled((), None))
    assert cache.get(plain, registry, {}) is not None
    # keyed on identity and on the disabled types: an equal copy or another setting misses
    assert cache.get(plain.model_copy(deep=True), registry, {}) is None
    assert cache.get(plain, registry, {"set": "the setting"}) is None


def test_the_cache_keeps_only_the_last_documents():
    registry = default_registry()
    cache = CompiledDocuments(size=2)
    documents = [_echo_document() for _ in range(3)]
    for document in documents:
        cache.put(document, registry, {}, Compiled((), None))
    assert cache.get(documents[0], registry, {}) is None
    assert cache.get(documents[1], registry, {}) is not None
    assert cache.get(documents[2], registry, {}) is not None
