"""The HTTP request node against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest
from node_helpers import run_node
from pydantic import ValidationError
from support.servers import AppServer

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.http import HttpRequestNode


def test_get_json_and_text(http_server: AppServer) -> None:
    out = run_node(HttpRequestNode, {"url": http_server.url("/json")}).output
    assert out["status"] == 200 and out["ok"] is True
    assert out["body"] == {"hello": "world", "n": 42}
    assert out["headers"]["content-type"].startswith("application/json")
    text = run_node(HttpRequestNode, {"url": http_server.url("/text")}).output
    assert text["body"] == "plain text body"
    as_bytes = run_node(
        HttpRequestNode, {"url": http_server.url("/text"), "response_format": "bytes"}
    ).output
    assert base64.b64decode(as_bytes["body"]["base64"]) == b"plain text body"


def test_query_headers_and_json_body(http_server: AppServer) -> None:
    fields = {
        "method": "post",
        "url": http_server.url("/echo"),
        "query": {"page": 2, "q": "a b"},
        "headers": {"X-Trace": "t1"},
        "body_type": "json",
        "body": {"items": [1, 2]},
    }
    echo = run_node(HttpRequestNode, fields).output["body"]
    assert echo["method"] == "POST"
    assert echo["query"] == {"page": "2", "q": "a b"}
    assert echo["headers"]["X-Trace"] == "t1"
    assert echo["json"] == {"items": [1, 2]}


def test_form_and_raw_bodies(http_server: AppServer) -> None:
    form = run_node(
        HttpRequestNode,
        {
            "method": "PUT",
            "url": http_server.url("/echo"),
            "body_type": "form",
            "body": {"a": "1", "b": [1]},
        },
    ).output["body"]
    assert form["form"] == {"a": "1", "b": "[1]"}
    raw = run_node(
        HttpRequestNode,
        {
            "method": "POST",
            "url": http_server.url("/echo"),
            "body_type": "raw",
            "body": "<x/>",
            "content_type": "application/xml",
        },
    ).output["body"]
    assert raw["text"] == "<x/>"
    assert raw["headers"]["Content-Type"] == "application/xml"


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ({"token": "tok-1"}, "Bearer tok-1"),
        ({"username": "ann", "password": "pw"}, "Basic " + base64.b64encode(b"ann:pw").decode()),
    ],
)
def test_auth_from_credential(http_server: AppServer, credential: dict, expected: str) -> None:
    echo = run_node(
        HttpRequestNode, {"url": http_server.url("/echo")}, credential=credential
    ).output["body"]
    assert echo["headers"]["Authorization"] == expected


def test_header_credential(http_server: AppServer) -> None:
    echo = run_node(
        HttpRequestNode,
        {"url": http_server.url("/echo")},
        credential={"name": "X-API-Key", "value": "k-9"},
    ).output
    assert echo["body"]["headers"]["X-API-Key"] == "k-9"
    with pytest.raises(NodeError, match="not an http_header, http_basic or bearer"):
        run_node(HttpRequestNode, {"url": http_server.url("/echo")}, credential={"bot_token": "x"})


def test_non_2xx_fails_unless_told_otherwise(http_server: AppServer) -> None:
    url = http_server.url("/status/404")
    with pytest.raises(NodeError) as caught:
        run_node(HttpRequestNode, {"url": url})
    assert str(caught.value) == f"GET {url} returned 404 Not Found: status 404 from the test server"
    assert caught.value.field == "url"
    out = run_node(HttpRequestNode, {"url": url, "fail_on_error_status": False}).output
    assert (out["status"], out["ok"], out["body"]) == (
        404,
        False,
        "status 404 from the test server",
    )


def test_5xx_is_retried_with_backoff(http_server: AppServer) -> None:
    result = run_node(
        HttpRequestNode, {"url": http_server.url("/flaky/2"), "retries": 2, "retry_backoff": 0.01}
    )
    assert result.output["body"] == {"attempt": 3}
    assert len(result.messages("warn")) == 2
    assert "returned 503; retrying (1/2)" in result.messages("warn")[0]
    with pytest.raises(NodeError, match="returned 503 Service Unavailable"):
        run_node(
            HttpRequestNode, {"url": http_server.url("/flaky/5"), "retries": 1, "retry_backoff": 0}
        )


def test_unreachable_url_names_the_url(unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}/data"
    with pytest.raises(NodeError) as caught:
        run_node(HttpRequestNode, {"url": url, "retries": 1, "retry_backoff": 0})
    assert str(caught.value) == f"GET {url} failed after 2 attempts: connection refused"
    assert caught.value.field == "url"


def test_timeout(http_server: AppServer) -> None:
    with pytest.raises(NodeError, match="no response before the timeout"):
        run_node(
            HttpRequestNode,
            {"url": http_server.url("/slow?seconds=3"), "timeout": 0.3, "retries": 0},
        )


def test_bad_fields() -> None:
    with pytest.raises(ValidationError, match="not an http"):
        HttpRequestNode.Fields.model_validate({"url": "ftp://x/y"})
    with pytest.raises(ValidationError) as caught:
        HttpRequestNode.Fields.model_validate({"url": "http://x", "retries": "many"})
    assert caught.value.errors()[0]["loc"] == ("retries",)
    with pytest.raises(NodeError, match="form body must be an object"):
        run_node(HttpRequestNode, {"url": "http://127.0.0.1:1/", "body_type": "form", "body": "x"})
