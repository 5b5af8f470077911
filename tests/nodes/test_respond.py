"""The Respond to webhook node: its declaration, the reply it builds from its fields and
input (JSON, text, a file, nothing), bad fields, and the answer it hands to a request
waiting in this process (the listener side is in tests/agent/test_webhooks_respond.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from node_helpers import make_context, run_node
from pydantic import ValidationError

from glyphic_desktop.agent.responses import BOARD, RunEnded, WebhookReply
from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.respond import RespondToWebhook, reply_from_outputs
from glyphic_desktop.nodes.registry import default_registry, validate_declaration


def test_declared_in_the_palette_with_a_one_line_description() -> None:
    registry = default_registry()
    cls = registry.get("respond_webhook")
    assert cls is RespondToWebhook
    validate_declaration(cls)
    assert cls.description and "\n" not in cls.description and len(cls.description) <= 100
    assert registry.search("Respond to webhook")[0] is cls
    assert cls.summary({}) == "json"
    for name, prop in cls.Fields.model_json_schema()["properties"].items():
        assert prop.get("description"), name


def test_json_body_defaults_to_the_incoming_item_and_passes_it_on() -> None:
    run = run_node(RespondToWebhook, {"status": 201}, inputs={"input": {"a": [1, "é"]}})
    assert run.outputs["output"] == {"a": [1, "é"]}
    sent = run.outputs["response"]
    assert sent["status"] == 201
    assert sent["headers"]["Content-Type"].startswith("application/json")
    reply = reply_from_outputs({"n1": run.outputs})
    assert reply == WebhookReply(
        201, sent["headers"], json.dumps({"a": [1, "é"]}, ensure_ascii=False).encode()
    )


def test_text_no_data_and_a_file() -> None:
    text = run_node(RespondToWebhook, {"respond_with": "text", "body": "hello"})
    assert reply_from_outputs({"x": text.outputs}).body == b"hello"
    empty = run_node(RespondToWebhook, {"respond_with": "no_data", "status": 204})
    reply = reply_from_outputs({"x": empty.outputs})
    assert (reply.status, reply.body, reply.headers) == (204, b"", {})


def test_a_file_from_the_input(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'{"x": 1}')
    info = {"path": str(path), "name": "a.json", "mime_type": "application/json"}
    run = run_node(RespondToWebhook, {"respond_with": "file"}, inputs={"input": info})
    reply = reply_from_outputs({"x": run.outputs})
    assert reply.body == b'{"x": 1}'
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Content-Disposition"] == 'inline; filename="a.json"'
    with pytest.raises(NodeError, match="file not found"):
        run_node(RespondToWebhook, {"respond_with": "file", "body": str(tmp_path / "nope")})
    with pytest.raises(NodeError, match="neither body nor the input is a file"):
        run_node(RespondToWebhook, {"respond_with": "file"}, inputs={"input": 3})


def test_bad_headers_and_status_are_refused() -> None:
    for fields in (
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-A": "a\r\nSet-Cookie: evil"}},
        {"headers": {"Content-Length": "3"}},
        {"status": 99},
        {"status": 600},
    ):
        with pytest.raises(ValidationError):
            RespondToWebhook.Fields.model_validate(fields)


def test_the_answer_goes_to_the_request_waiting_for_this_execution() -> None:
    execution = uuid.uuid4()

    async def scenario():
        answer = BOARD.expect(execution)
        try:
            ctx = make_context(RespondToWebhook, {"body": {"ok": True}, "headers": {"X-A": "1"}})
            ctx.execution_id = str(execution)
            await RespondToWebhook().run(ctx)
            # the run's end afterwards does not replace the answer
            BOARD.finished(execution, "completed", None, {"late": True})
            return await asyncio.wait_for(answer, 5)
        finally:
            BOARD.discard(execution)

    reply = asyncio.run(scenario())
    assert isinstance(reply, WebhookReply)
    assert (reply.status, reply.headers["X-A"], json.loads(reply.body)) == (200, "1", {"ok": True})
    assert not BOARD.waiting(execution)


def test_without_a_waiting_request_nothing_is_sent_and_the_log_says_so() -> None:
    run = run_node(RespondToWebhook, {})
    assert any("no webhook request waits" in m for m in run.messages())
    assert BOARD.finished(uuid.uuid4(), "completed") is False


def test_a_run_stored_waiting_has_not_ended_for_the_request() -> None:
    execution = uuid.uuid4()

    async def scenario():
        answer = BOARD.expect(execution)
        try:
            assert BOARD.finished(execution, "waiting") is False
            await asyncio.sleep(0.05)
            assert not answer.done()
            BOARD.finished(execution, "completed", None, {"after": "the wait"})
            return await asyncio.wait_for(answer, 5)
        finally:
            BOARD.discard(execution)

    assert asyncio.run(scenario()) == RunEnded("completed", None, {"after": "the wait"})


def test_the_run_end_settles_a_waiter_from_another_thread() -> None:
    execution = uuid.uuid4()

    async def scenario():
        answer = BOARD.expect(execution)
        try:
            await asyncio.to_thread(BOARD.finished, execution, "failed", "boom")
            return await asyncio.wait_for(answer, 5)
        finally:
            BOARD.discard(execution)

    assert asyncio.run(scenario()) == RunEnded("failed", "boom", None)
