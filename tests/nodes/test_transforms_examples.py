"""The shipped transform and LLM examples, stored like ``glyphic run FILE`` stores them and
run recorded in the database (the LLM one against the local OpenAI-compatible server
through a stored ``openai_compatible`` credential)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from support.llm_server import llm_app
from support.servers import AppServer

from glyphic_desktop.cli.run import store_file
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.paths import resources_dir
from glyphic_desktop.store.repositories.executions import ExecutionRepository
from glyphic_desktop.store.repositories.users import current_user_id

EXAMPLES = resources_dir() / "examples"
MINE = ("transform-orders.json", "llm-local-summary.json")


def _run(db: Any, name: str) -> tuple[Any, Any, list[Any]]:
    user_id = current_user_id(db)
    record, _ = store_file(db, user_id, EXAMPLES / name)
    result = run_workflow(db, user_id, record)
    with db.session() as session:
        repo = ExecutionRepository(session, user_id)
        return result, repo.get(result.execution_id), repo.logs(result.execution_id)


def test_examples_are_valid_and_laid_out_left_to_right() -> None:
    registry = default_registry()
    for name in MINE:
        raw = json.loads((EXAMPLES / name).read_text())
        doc = WorkflowDocument.model_validate(raw)
        assert doc.metadata["name"] and doc.metadata["description"] and doc.metadata["example"]
        positions = {n.id: n.pos for n in doc.nodes}
        for node in doc.nodes:
            assert registry.get(node.type) is not None, (name, node.type)
        for edge in doc.edges:
            assert positions[edge.source][0] < positions[edge.target][0], (name, edge.id)
        assert WorkflowDocument.model_validate(raw).to_data()["nodes"] == raw["nodes"], name


def test_transform_orders_example_writes_the_customer_csv(db: Any) -> None:
    result, row, _ = _run(db, "transform-orders.json")
    assert row.status == "completed", row.error_message
    info = result.result
    assert Path(info["path"]).name == "customers.csv"
    rows = list(csv.DictReader(io.StringIO(Path(info["path"]).read_text())))
    assert rows == [
        {"customer": "Grace", "orders": "2", "spent": "111.9", "days": "Monday, Wednesday"},
        {"customer": "Ada", "orders": "2", "spent": "59.5", "days": "Monday, Tuesday"},
    ]


def test_llm_example_against_the_local_server(db: Any) -> None:
    from glyphic_desktop.secrets.keys import require_keyset
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository

    with AppServer(llm_app()) as server:
        with db.session() as session:
            repo = IntegrationRepository(session, current_user_id(db), require_keyset())
            repo.create(
                "openai_compatible", "Local LLM", {"base_url": server.url("/v1"), "api_key": ""}
            )
        result, row, logs = _run(db, "llm-local-summary.json")
    assert row.status == "completed", row.error_message
    answer_json = result.result["json"]  # Log passes the LLM node's output on
    assert set(answer_json) == {"summary", "keywords"} and len(answer_json["keywords"]) == 3
    assert result.result["usage"]["output_tokens"] == 1
    answer = json.loads(server.requests[-1].text)
    assert answer["model"] == "llama3.2" and answer["stream"] is True
    messages = [line.message for line in logs if line.node_id == "node-3"]
    assert messages[0] == f"{answer_json['summary']} (1 tokens out)"
    streamed = [line.message for line in logs if line.node_id == "node-2"]
    assert any('"summary"' in m for m in streamed)  # the streamed answer reached the log
