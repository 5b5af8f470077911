"""Remove Duplicates across runs: keys kept in PostgreSQL (dedupe_keys, schema/0011) per
workflow and node, bounded, shared by concurrent runs, deleted with the workflow."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from node_helpers import run_node, workflow

from glyphic_desktop.cli.run import store_file
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.transforms import RemoveDuplicatesNode
from glyphic_desktop.store.repositories.dedupe_keys import SeenKeys
from glyphic_desktop.store.repositories.users import current_user_id


def _stored(db: Any, tmp_path: Path, fields: dict[str, Any], name: str = "dedupe") -> Any:
    doc = workflow(
        [
            {"id": "start", "type": "manual"},
            {"id": "dedupe", "type": "remove_duplicates", "fields": fields},
        ],
        ["start -> dedupe"],
    )
    data = doc.to_data()
    data["metadata"] = {"name": name}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    record, _ = store_file(db, current_user_id(db), path)
    return record


def _run(db: Any, record: Any, items: list[Any]) -> Any:
    result = run_workflow(db, current_user_id(db), record, input=items)
    assert result.status == "completed", result.error
    return result.result


def test_items_seen_by_earlier_runs_are_dropped(db: Any, tmp_path: Path) -> None:
    record = _stored(db, tmp_path, {"compare": "fields", "fields": ["id"], "across_runs": True})
    first = _run(db, record, [{"id": 1, "v": "a"}, {"id": 2}, {"id": 1, "v": "again"}])
    assert first == [{"id": 1, "v": "a"}, {"id": 2}]
    second = _run(db, record, [{"id": 2, "v": "new"}, {"id": 3}, {"id": 1.0}])
    assert second == [{"id": 3}]
    assert SeenKeys(db, record.id).count("dedupe") == 3
    # Another workflow (or node) has its own keys
    other = _stored(
        db, tmp_path, {"compare": "fields", "fields": ["id"], "across_runs": True}, "other"
    )
    assert _run(db, other, [{"id": 1}]) == [{"id": 1}]


def test_the_keys_are_bounded_to_the_newest(db: Any, tmp_path: Path) -> None:
    record = _stored(db, tmp_path, {"across_runs": True, "remember": 2})
    _run(db, record, [{"n": 1}])
    _run(db, record, [{"n": 2}])
    _run(db, record, [{"n": 3}])
    seen = SeenKeys(db, record.id)
    assert seen.count("dedupe") == 2
    assert _run(db, record, [{"n": 1}, {"n": 3}]) == [{"n": 1}]  # {"n": 1} was forgotten
    assert seen.forget("dedupe") == 2


def test_concurrent_runs_let_an_item_through_once(db: Any, tmp_path: Path) -> None:
    record = _stored(db, tmp_path, {"across_runs": True})
    items = [{"k": i} for i in range(200)]
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(_run(db, record, items))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3
    through = [item for result in results for item in result]
    assert sorted(item["k"] for item in through) == list(range(200))


def test_deleting_the_workflow_deletes_its_keys(db: Any, tmp_path: Path) -> None:
    from sqlalchemy import text

    record = _stored(db, tmp_path, {"across_runs": True})
    _run(db, record, [{"a": 1}])
    with db.session() as session:
        session.execute(text("DELETE FROM executions WHERE workflow_id = :w"), {"w": record.id})
        session.execute(text("DELETE FROM workflows WHERE id = :w"), {"w": record.id})
    assert SeenKeys(db, record.id).count("dedupe") == 0


def test_across_runs_needs_a_recorded_run() -> None:
    with pytest.raises(NodeError, match="across_runs needs a run recorded in the database"):
        run_node(RemoveDuplicatesNode, {"across_runs": True}, inputs={"input": [{"a": 1}]})
    # nothing to check: no database needed
    assert run_node(RemoveDuplicatesNode, {"across_runs": True}, inputs={}).output == []
