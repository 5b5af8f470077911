"""The LLM chat node against a local OpenAI-compatible server (streamed and not, 401 /
429 / 500, a malformed and a truncated stream, JSON outputs, cancellation)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from node_helpers import make_context, run_node
from pydantic import ValidationError
from support.llm_server import LLM_STATE, llm_app
from support.servers import AppServer, closed_port

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.llm import LlmChatNode
from glyphic_desktop.secrets.types import credential_types, run_check

KEY = "sk-local-test-key-789"


@pytest.fixture
def llm() -> Iterator[AppServer]:
    """The OpenAI-compatible stand-in, demanding KEY."""
    with AppServer(llm_app(KEY)) as server:
        yield server


def cred(server: AppServer, key: str = KEY) -> dict:
    return {"type": "openai_compatible", "base_url": server.url("/v1"), "api_key": key}


def fields(**extra) -> dict:
    return {"model": "echo", "user": "hello there", "retry_delay": 0, **extra}


def test_streamed_answer_logs_tokens_and_reports_usage(llm: AppServer) -> None:
    run = run_node(
        LlmChatNode,
        fields(system="Be brief.", temperature=0.2, max_tokens=50),
        credential=cred(llm),
    )
    out = run.output
    assert out["text"] == "You said: hello there"
    assert out["model"] == "echo" and out["finish_reason"] == "stop"
    assert out["usage"] == {"input_tokens": 4, "output_tokens": 4, "total_tokens": 8}
    streamed = [m for lv, m, data in run.logs if data == {"stream": "llm"}]
    assert "".join(streamed) == "You said: hello there"
    assert "echo: 4 token(s) in, 4 out" in run.messages("info")
    body = llm.app[LLM_STATE]["bodies"][-1]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert body["stream"] is True and body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert llm.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_answer_without_streaming(llm: AppServer) -> None:
    run = run_node(LlmChatNode, fields(stream=False), credential=cred(llm))
    assert run.output["text"] == "You said: hello there"
    assert run.output["usage"]["output_tokens"] == 4
    assert not [m for lv, m, data in run.logs if data == {"stream": "llm"}]
    assert "stream_options" not in llm.app[LLM_STATE]["bodies"][-1]


def test_wrong_key_fails_on_the_credential_without_retry(llm: AppServer) -> None:
    with pytest.raises(NodeError) as caught:
        run_node(LlmChatNode, fields(), credential=cred(llm, "sk-wrong"))
    assert "rejected the API key (401): Incorrect API key provided" in str(caught.value)
    assert caught.value.field == "credential"
    assert len(llm.requests) == 1
    assert "sk-wrong" not in str(caught.value)


def test_429_and_500_are_retried_then_succeed(llm: AppServer) -> None:
    run = run_node(LlmChatNode, fields(model="limited-2"), credential=cred(llm))
    assert run.output["text"] == "You said: hello there"
    warnings = run.messages("warn")
    assert warnings == [
        "the LLM endpoint answered 429: Rate limit reached; retry 1 in 0 s",
        "the LLM endpoint answered 429: Rate limit reached; retry 2 in 0 s",
    ]
    flaky = run_node(LlmChatNode, fields(model="flaky-1", stream=False), credential=cred(llm))
    assert flaky.output["text"] == "You said: hello there"
    assert len(flaky.messages("warn")) == 1


def test_retries_give_up_with_the_last_answer(llm: AppServer) -> None:
    with pytest.raises(NodeError, match=r"answered 500: The server had an error after 3 attempts"):
        run_node(LlmChatNode, fields(model="broken", retries=2), credential=cred(llm))
    assert llm.app[LLM_STATE]["counts"]["broken"] == 3
    with pytest.raises(NodeError, match=r"answered 429: Rate limit reached$"):
        run_node(LlmChatNode, fields(model="limited-5", retries=0), credential=cred(llm))


def test_unknown_model_names_the_model_field(llm: AppServer) -> None:
    with pytest.raises(NodeError) as caught:
        run_node(LlmChatNode, fields(model="nope"), credential=cred(llm))
    assert "refused the request (404): The model `nope` does not exist" in str(caught.value)
    assert caught.value.field == "model"


def test_malformed_and_truncated_streams_fail_clearly(llm: AppServer) -> None:
    with pytest.raises(NodeError, match=r"malformed stream event: '\{not json'"):
        run_node(LlmChatNode, fields(model="malformed"), credential=cred(llm))
    with pytest.raises(NodeError, match=r"stream ended before \[DONE\]"):
        run_node(LlmChatNode, fields(model="truncated"), credential=cred(llm))


def test_json_mode_and_schema_checked(llm: AppServer) -> None:
    out = run_node(LlmChatNode, fields(model="json", output="json"), credential=cred(llm)).output
    assert out["json"] == {"name": "Ann", "age": 3}
    assert llm.app[LLM_STATE]["bodies"][-1]["response_format"] == {"type": "json_object"}
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name"],
    }
    fenced = run_node(
        LlmChatNode,
        fields(model="json-fenced", output="json_schema", json_schema=schema, stream=False),
        credential=cred(llm),
    ).output
    assert fenced["json"] == {"name": "Ann", "age": 3}
    sent = llm.app[LLM_STATE]["bodies"][-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema
    with pytest.raises(NodeError, match="does not match the schema at name: 5 is not of type"):
        run_node(
            LlmChatNode,
            fields(model="json-bad", output="json_schema", json_schema=schema),
            credential=cred(llm),
        )
    with pytest.raises(NodeError, match="the model's answer is not JSON"):
        run_node(LlmChatNode, fields(output="json"), credential=cred(llm))


def test_bad_fields() -> None:
    with pytest.raises(ValidationError, match="output json_schema needs a json_schema"):
        LlmChatNode.Fields.model_validate(fields(output="json_schema"))
    with pytest.raises(ValidationError, match="not a valid JSON schema"):
        LlmChatNode.Fields.model_validate(fields(json_schema={"type": 12}))
    with pytest.raises(ValidationError):
        LlmChatNode.Fields.model_validate({"model": "echo", "user": ""})


def test_unreachable_endpoint() -> None:
    port = closed_port()
    credential = {"base_url": f"http://127.0.0.1:{port}/v1", "api_key": ""}
    with pytest.raises(NodeError, match="connection refused") as caught:
        run_node(LlmChatNode, fields(), credential=credential)
    assert caught.value.field == "credential"


def test_cancellation_closes_the_stream(llm: AppServer) -> None:
    logs: list = []
    ctx = make_context(LlmChatNode, fields(model="slow"), credential=cred(llm), logs=logs)

    async def go() -> None:
        task = asyncio.create_task(LlmChatNode().run(ctx))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if any(data == {"stream": "llm"} for _, _, data in logs):
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    state = llm.app[LLM_STATE]
    for _ in range(100):  # the server notices the closed connection on its next write
        if state["disconnected"]:
            break
        asyncio.run(asyncio.sleep(0.05))
    assert state["disconnected"] == 1


def test_credential_check(llm: AppServer) -> None:
    ctype = credential_types.get("openai_compatible")
    good = ctype.validate({"base_url": llm.url("/v1"), "api_key": KEY})
    assert run_check(ctype, good) == "the LLM endpoint answered (2 model(s))"
    bad = ctype.validate({"base_url": llm.url("/v1"), "api_key": "nope"})
    with pytest.raises(Exception, match="rejected the key"):
        run_check(ctype, bad)


def test_timeouts_before_and_during_the_stream(llm: AppServer) -> None:
    with pytest.raises(NodeError, match=r"did not answer within 0.2 s after 2 attempts"):
        run_node(LlmChatNode, fields(model="mute", timeout=0.2, retries=1), credential=cred(llm))
    assert llm.app[LLM_STATE]["counts"]["mute"] == 2
    # "slow" sends a token every 0.2 s: a 0.05 s read timeout trips after the first one,
    # and a stream that already started is not retried
    with pytest.raises(NodeError, match=r"stopped sending for 0.05 s"):
        run_node(LlmChatNode, fields(model="slow", timeout=0.05), credential=cred(llm))
    assert llm.app[LLM_STATE]["counts"]["slow"] == 1
