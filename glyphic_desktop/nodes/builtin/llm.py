"""The LLM chat node: one chat completion from any OpenAI-compatible endpoint.

The endpoint comes from an ``openai_compatible`` credential (base URL such as
``https://api.openai.com/v1`` or ``http://127.0.0.1:11434/v1`` for Ollama, and an API
key, empty for a local server). The node POSTs ``/chat/completions``; streamed answers
(server-sent events) are written to the run log as they arrive, a line at a time (or
every half second). 429 and 5xx answers, and connections that fail before any token,
are retried with exponential backoff (``Retry-After`` is honoured, capped at 60 s).
Cancelling the run closes the stream (the ``async with`` of the request exits).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import connect_problem, masked_clip
from glyphic_desktop.nodes.registry import register_node

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_RETRY_AFTER = 60.0
#: Streamed text goes to the log at a newline, or after this many seconds.
LOG_FLUSH_SECONDS = 0.5
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class LlmChatFields(BaseModel):
    """Fields of the LLM chat node."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, description="Model name, e.g. gpt-4o-mini or llama3.2.")
    system: str = Field(
        default="",
        description="System message (expressions allowed).",
        json_schema_extra={"widget": "multiline"},
    )
    user: str = Field(
        min_length=1,
        description="User message, e.g. Summarise {{ input.text }}.",
        json_schema_extra={"widget": "multiline"},
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, ge=1, description="Most tokens to generate.")
    output: Literal["text", "json", "json_schema"] = Field(
        default="text",
        description="text; json (JSON mode); json_schema (JSON that must match the schema).",
    )
    json_schema: dict[str, Any] | None = Field(
        default=None,
        validate_default=True,
        description="The JSON schema the answer must match (output: json_schema).",
        json_schema_extra={"widget": "json"},
    )
    stream: bool = Field(default=True, description="Stream tokens into the log as they come.")
    timeout: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds to wait for the server (per read)."
    )
    retries: int = Field(default=2, ge=0, le=10, description="Retries on 429 / 5xx answers.")
    retry_delay: float = Field(
        default=1.0, ge=0, le=60, description="First backoff in seconds (doubles each retry)."
    )

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None, info: ValidationInfo) -> Any:
        if info.data.get("output") == "json_schema" and not value:
            raise ValueError("output json_schema needs a json_schema")
        if value:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"json_schema is not a valid JSON schema: {exc.message}") from None
        return value


class _Retryable(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class _StreamLog:
    """Collects streamed text and writes it to the run log a line (or half second) at a time."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.pending = ""
        self.last = time.monotonic()

    def add(self, text: str) -> None:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self._write(line)
        if self.pending and time.monotonic() - self.last >= LOG_FLUSH_SECONDS:
            self._write(self.pending)
            self.pending = ""

    def flush(self) -> None:
        if self.pending:
            self._write(self.pending)
            self.pending = ""

    def _write(self, text: str) -> None:
        self.last = time.monotonic()
        self.ctx.log("info", text, {"stream": "llm"})


def _body(fields: LlmChatFields) -> dict[str, Any]:
    messages = []
    if fields.system.strip():
        messages.append({"role": "system", "content": fields.system})
    messages.append({"role": "user", "content": fields.user})
    body: dict[str, Any] = {"model": fields.model, "messages": messages, "stream": fields.stream}
    if fields.stream:
        body["stream_options"] = {"include_usage": True}
    if fields.temperature is not None:
        body["temperature"] = fields.temperature
    if fields.max_tokens is not None:
        body["max_tokens"] = fields.max_tokens
    if fields.output == "json":
        body["response_format"] = {"type": "json_object"}
    elif fields.output == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fields.json_schema, "strict": True},
        }
    return body


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER) if raw else None
    except ValueError:
        return None


def _error_message(ctx: NodeContext, text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return masked_clip(ctx, str(error["message"]), 300)
        if isinstance(error, str):
            return masked_clip(ctx, error, 300)
        if data.get("message"):
            return masked_clip(ctx, str(data["message"]), 300)
    return masked_clip(ctx, text, 300) or "no details"


async def _check_status(ctx: NodeContext, response: httpx.Response, url: str) -> None:
    if response.is_success:
        return
    text = (await response.aread()).decode("utf-8", "replace")
    message = _error_message(ctx, text)
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retryable(status, message, _retry_after(response))
    if status in (401, 403):
        raise NodeError(
            f"the LLM endpoint {url} rejected the API key ({status}): {message}",
            field="credential",
        )
    field = "model" if status == 404 or "model" in message.lower() else None
    raise NodeError(
        f"the LLM endpoint {url} refused the request ({status}): {message}", field=field
    )


async def _sse_events(response: httpx.Response) -> AsyncIterator[Any]:
    """The JSON payloads of an SSE stream, up to ``[DONE]``; NodeError on a malformed one."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments (": keep-alive"), event: lines
        payload = line[5:].strip()
        if payload == "[DONE]":
            yield None
            return
        try:
            yield json.loads(payload)
        except ValueError:
            raise NodeError(
                f"the LLM endpoint sent a malformed stream event: {payload[:120]!r}"
            ) from None
    raise NodeError("the LLM endpoint's stream ended before [DONE] (the answer is incomplete)")


def _usage(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    tokens_in, tokens_out = raw.get("prompt_tokens"), raw.get("completion_tokens")
    total = raw.get("total_tokens")
    if total is None and isinstance(tokens_in, int) and isinstance(tokens_out, int):
        total = tokens_in + tokens_out
    return {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": total}


async def _streamed(
    ctx: NodeContext, response: httpx.Response, started: list[bool]
) -> dict[str, Any]:
    log = _StreamLog(ctx)
    parts: list[str] = []
    model = finish = None
    usage_raw: Any = None
    chunks = 0
    try:
        async for event in _sse_events(response):
            if event is None:
                break
            if not isinstance(event, dict):
                raise NodeError(
                    f"the LLM endpoint sent a stream event that is no object: {event!r}"
                )
            if isinstance(event.get("error"), dict | str):
                raise NodeError(
                    f"the LLM endpoint failed mid-stream: {_error_message(ctx, json.dumps(event))}"
                )
            model = event.get("model") or model
            usage_raw = event.get("usage") or usage_raw
            for choice in event.get("choices") or []:
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta") or {}
                text = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(text, str) and text:
                    started[0] = True
                    chunks += 1
                    parts.append(text)
                    log.add(text)
                finish = choice.get("finish_reason") or finish
    finally:
        log.flush()
    usage = _usage(usage_raw)
    if usage["output_tokens"] is None:
        usage["output_tokens"] = chunks
        usage["estimated"] = True
    return {"text": "".join(parts), "model": model, "finish_reason": finish, "usage": usage}


async def _whole(ctx: NodeContext, response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(await response.aread())
    except ValueError:
        raise NodeError("the LLM endpoint answered with no JSON") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise NodeError("the LLM endpoint's answer has no choices")
    message = choices[0].get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    return {
        "text": text if isinstance(text, str) else "",
        "model": data.get("model"),
        "finish_reason": choices[0].get("finish_reason"),
        "usage": _usage(data.get("usage")),
    }


def parse_json_answer(text: str, schema: dict[str, Any] | None) -> Any:
    """The answer as JSON (a ```json fence is allowed), checked against ``schema``."""
    fenced = _FENCE.match(text)
    try:
        value = json.loads(fenced.group(1) if fenced else text)
    except ValueError as exc:
        raise NodeError(f"the model's answer is not JSON: {exc}", field="output") from None
    if schema:
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: e.path)
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(the top)"
            raise NodeError(
                f"the model's answer does not match the schema at {where}: {first.message}",
                field="json_schema",
            )
    return value


@register_node
class LlmChatNode(NodeType):
    """Asks a chat model on an OpenAI-compatible endpoint and outputs its answer.

    Output: ``{text, json (JSON outputs), model, finish_reason, usage: {input_tokens,
    output_tokens, total_tokens}}``. The input is not used directly: the messages take it
    through expressions (``{{ input.text }}``); a list input is one prompt, not one per item.
    """

    key: ClassVar[str] = "llm_chat"
    title: ClassVar[str] = "LLM chat"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "bot"
    summary_field: ClassVar[str] = "model"
    description: ClassVar[str] = (
        "Asks a chat model (OpenAI, Ollama, llama.cpp, vLLM) and outputs the answer."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Input"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Answer"),)
    Fields: ClassVar[type[BaseModel]] = LlmChatFields
    credential_type: ClassVar[str | None] = "openai_compatible"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Call the endpoint with retries; parse and check JSON answers."""
        fields: LlmChatFields = ctx.fields  # type: ignore[assignment]
        credential = ctx.credential or {}
        base = str(credential.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        url = f"{base}/chat/completions"
        headers = {"Content-Type": "application/json"}
        if credential.get("api_key"):
            headers["Authorization"] = f"Bearer {credential['api_key']}"
        body = _body(fields)
        timeout = httpx.Timeout(fields.timeout, connect=min(fields.timeout, 10.0))
        attempt = 0
        async with httpx.AsyncClient(timeout=timeout) as client:
            while True:
                started = [False]
                try:
                    result = await self._attempt(ctx, client, url, headers, body, fields, started)
                    break
                except _Retryable as exc:
                    problem, wait = f"answered {exc.status}: {exc}", exc.retry_after
                except httpx.TimeoutException:
                    if started[0]:
                        raise NodeError(
                            f"the LLM endpoint {url} stopped sending for {fields.timeout:g} s"
                        ) from None
                    problem, wait = f"did not answer within {fields.timeout:g} s", None
                except httpx.TransportError as exc:
                    if started[0]:
                        raise NodeError(
                            f"the LLM endpoint {url} broke the stream: {connect_problem(exc)}"
                        ) from None
                    problem, wait = connect_problem(exc), None
                    if problem == "connection refused":
                        raise NodeError(
                            f"cannot reach the LLM endpoint {url}: connection refused",
                            field="credential",
                        ) from None
                if attempt >= fields.retries:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise NodeError(f"the LLM endpoint {url} {problem}{tries}")
                delay = wait if wait is not None else fields.retry_delay * (2**attempt)
                attempt += 1
                ctx.log("warn", f"the LLM endpoint {problem}; retry {attempt} in {delay:g} s")
                await asyncio.sleep(delay)
        if fields.output != "text":
            result["json"] = parse_json_answer(result["text"], fields.json_schema)
        usage = result["usage"]
        ctx.log(
            "info",
            f"{result['model'] or fields.model}: {usage['input_tokens']} token(s) in, "
            f"{usage['output_tokens']} out",
        )
        return {"output": result}

    @staticmethod
    async def _attempt(
        ctx: NodeContext,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        fields: LlmChatFields,
        started: list[bool],
    ) -> dict[str, Any]:
        async with client.stream("POST", url, headers=headers, json=body) as response:
            await _check_status(ctx, response, url)
            kind = response.headers.get("content-type", "")
            if fields.stream and "text/event-stream" in kind:
                return await _streamed(ctx, response, started)
            return await _whole(ctx, response)
