"""A local OpenAI-compatible server (``/v1/chat/completions``, ``/v1/models``) for the LLM
node's tests and bench: served by :class:`support.servers.AppServer` on 127.0.0.1.

The model name picks the behaviour:

- ``echo``: answers ``You said: <user message>`` (streamed word by word when asked).
- ``json``: answers ``{"name": "Ann", "age": 3}``; ``json-fenced`` the same in a
  ```json fence; ``json-bad``: ``{"name": 5}``.
- ``limited-N``: 429 (``Retry-After: 0``) for the first N requests, then as ``echo``.
- ``flaky-N``: 500 for the first N requests, then as ``echo``.
- ``broken``: always 500.
- ``malformed``: a stream with an event that is not JSON.
- ``truncated``: a stream that ends without ``[DONE]``.
- ``slow``: one token every 0.2 s, 500 of them; a client that goes away is noted in
  ``app[LLM_STATE]["disconnected"]``.
- ``mute``: answers nothing for 5 s, then 404.
- ``tokens-N``: N one-character tokens (the bench).
- ``llama3.2`` (the shipped example's model): with a JSON schema, a JSON value that
  matches it; else ``Summary: <the user message>``.
- anything else: 404 ``model not found``.

With ``api_key`` set, a request without ``Authorization: Bearer <api_key>`` gets 401.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

#: Counters and notes of the server (``app[LLM_STATE]``).
LLM_STATE: web.AppKey[dict[str, Any]] = web.AppKey("llm_state", dict)
JSON_ANSWER = '{"name": "Ann", "age": 3}'


def _answer(model: str, body: dict[str, Any]) -> list[str] | None:
    messages = body.get("messages") or []
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    if model == "echo" or model.startswith(("limited-", "flaky-")):
        words = f"You said: {user}".split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]
    if model == "json":
        return ['{"name": ', '"Ann", ', '"age": 3}']
    if model == "json-fenced":
        return ["```json\n", JSON_ANSWER, "\n```"]
    if model == "json-bad":
        return ['{"name": 5}']
    if model == "llama3.2":  # what the shipped example asks for
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        if schema:
            return [json.dumps(_from_schema(schema, user))]
        return [f"Summary: {user[:40]}"]
    if model.startswith("tokens-"):
        return ["x"] * int(model.split("-", 1)[1])
    if model in ("malformed", "truncated", "slow"):
        return ["one", " two"]
    return None


def _from_schema(schema: dict[str, Any], user: str) -> Any:
    """A value matching a simple JSON schema (objects, arrays, strings, numbers)."""
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _from_schema(sub, user) for name, sub in props.items()}
    if kind == "array":
        return [_from_schema(schema.get("items") or {"type": "string"}, user) for _ in range(3)]
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    return user.split(":")[-1].strip()[:60] or "text"


def _chunk(model: str, text: str | None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    event = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(event)}\n\n".encode()


def llm_app(api_key: str = "") -> web.Application:
    """The app (see the module docstring)."""
    app = web.Application()
    state: dict[str, Any] = {"counts": {}, "disconnected": 0, "bodies": []}
    app[LLM_STATE] = state

    def denied(request: web.Request) -> web.Response | None:
        if api_key and request.headers.get("Authorization") != f"Bearer {api_key}":
            return web.json_response(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                    }
                },
                status=401,
            )
        return None

    async def models(request: web.Request) -> web.Response:
        if (refused := denied(request)) is not None:
            return refused
        return web.json_response({"object": "list", "data": [{"id": "echo"}, {"id": "json"}]})

    async def completions(request: web.Request) -> web.StreamResponse:
        if (refused := denied(request)) is not None:
            return refused
        body = await request.json()
        state["bodies"].append(body)
        model = str(body.get("model", ""))
        count = state["counts"][model] = state["counts"].get(model, 0) + 1
        if model == "mute":
            await asyncio.sleep(5)
        if model.startswith("limited-") and count <= int(model.split("-")[1]):
            return web.json_response(
                {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                status=429,
                headers={"Retry-After": "0"},
            )
        if (model.startswith("flaky-") and count <= int(model.split("-")[1])) or model == "broken":
            return web.json_response({"error": {"message": "The server had an error"}}, status=500)
        tokens = _answer(model, body)
        if tokens is None:
            return web.json_response(
                {"error": {"message": f"The model `{model}` does not exist"}}, status=404
            )
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(tokens)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await response.write(b": keep-alive\n\n")
            if model == "slow":
                for _ in range(500):
                    await response.write(_chunk(model, "tick "))
                    await asyncio.sleep(0.2)
            for token in tokens:
                await response.write(_chunk(model, token))
            if model == "malformed":
                await response.write(b"data: {not json\n\n")
            if model == "truncated":
                return response
            await response.write(_chunk(model, None, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                event = {"id": "chatcmpl-test", "model": model, "choices": [], "usage": usage}
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            state["disconnected"] += 1
            raise
        return response

    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    return app
