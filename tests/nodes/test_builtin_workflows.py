"""Every built-in node type run in a real workflow by the executor (no database).

Runs recorded in the database (and the shipped examples) are in test_builtin_recorded.py.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from node_helpers import GITHUB_TOKEN, SLACK_TOKEN, StaticCredentials, execute_doc, workflow
from support.servers import AppServer, SmtpServer

from glyphic_desktop.engine.preflight import PreflightFailed

MANUAL = {"id": "start", "type": "manual", "label": "Start"}


def test_manual_set_log_code_chain() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "set",
                "type": "set",
                "label": "Count",
                "fields": {"fields": [{"name": "count", "value": "{{ input['items'] | length }}"}]},
            },
            {
                "id": "log",
                "type": "log",
                "label": "Say",
                "fields": {"message": "{{ input['count'] }} items", "level": "warn"},
            },
            {
                "id": "code",
                "type": "code",
                "label": "Sum",
                "fields": {
                    "code": (
                        "def main(input):\n    print('summing')\n    return sum(input['items'])\n"
                    )
                },
            },
        ],
        ["start -> set", "set -> log", "log -> code"],
    )
    run = execute_doc(doc, run_input={"items": [1, 2, 3]})
    assert run.status == "completed", run.error
    assert run.output("set") == {"items": [1, 2, 3], "count": 3}
    assert run.logs("log", "warn") == ["3 items"]
    assert run.logs("code", "info") == ["summing"]
    assert run.outcome.result == 6


def test_webhook_and_schedule_triggers_output_the_run_input() -> None:
    hook = workflow(
        [
            {"id": "hook", "type": "webhook", "fields": {"path": "echo", "method": "POST"}},
            {
                "id": "reply",
                "type": "set",
                "fields": {
                    "fields": [{"name": "echo", "value": "{{ input.body.msg }}"}],
                    "keep_other_fields": False,
                },
            },
        ],
        ["hook -> reply"],
    )
    request = {"method": "POST", "path": "echo", "headers": {}, "query": {}, "body": {"msg": "hi"}}
    assert execute_doc(hook, run_input=request).outcome.result == {"echo": "hi"}
    sched = workflow(
        [
            {
                "id": "tick",
                "type": "schedule",
                "fields": {"cron": "*/5 * * * *", "timezone": "Europe/Berlin"},
            },
            {"id": "log", "type": "log"},
        ],
        ["tick -> log"],
    )
    run = execute_doc(sched, run_input={"scheduled_at": "2026-05-01T10:05:00+02:00"})
    assert run.outcome.result == {
        "scheduled_at": "2026-05-01T10:05:00+02:00",
        "cron": "*/5 * * * *",
        "timezone": "Europe/Berlin",
    }


def _if_doc() -> object:
    return workflow(
        [
            MANUAL,
            {
                "id": "check",
                "type": "if",
                "label": "Big?",
                "fields": {"value": "{{ input.total }}", "operator": "gt", "compare_to": 100},
            },
            {"id": "big", "type": "set", "fields": {"fields": [{"name": "size", "value": "big"}]}},
            {
                "id": "small",
                "type": "set",
                "fields": {"fields": [{"name": "size", "value": "small"}]},
            },
            {"id": "join", "type": "merge"},
        ],
        [
            "start -> check",
            "check:true -> big",
            "check:false -> small",
            "big -> join:input_1",
            "small -> join:input_2",
        ],
    )


def test_if_takes_one_branch_and_merge_receives_it() -> None:
    big = execute_doc(_if_doc(), run_input={"total": 150})
    assert big.ran("big") and big.skipped("small")
    assert big.outcome.result == [{"total": 150, "size": "big"}]
    small = execute_doc(_if_doc(), run_input={"total": 5})
    assert small.ran("small") and small.skipped("big")
    assert small.outcome.result == [{"total": 5, "size": "small"}]


@pytest.mark.parametrize(("kind", "taken"), [("book", "b"), ("tool", "t"), ("pen", "other")])
def test_switch_routes_to_one_output(kind: str, taken: str) -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "route",
                "type": "switch",
                "fields": {
                    "value": "{{ input.kind }}",
                    "rules": [
                        {"operator": "equals", "compare_to": "book"},
                        {"operator": "equals", "compare_to": "tool"},
                    ],
                },
            },
            {"id": "b", "type": "log", "label": "Books"},
            {"id": "t", "type": "log", "label": "Tools"},
            {"id": "other", "type": "log", "label": "Other"},
        ],
        ["start -> route", "route:case_0 -> b", "route:case_1 -> t", "route:fallback -> other"],
    )
    run = execute_doc(doc, run_input={"kind": kind})
    assert run.status == "completed"
    assert [n for n in ("b", "t", "other") if run.ran(n)] == [taken]


def test_merge_by_key_waits_for_both_branches() -> None:
    doc = workflow(
        [
            MANUAL,
            {"id": "slow", "type": "delay", "fields": {"seconds": 0.2}},
            {
                "id": "prices",
                "type": "code",
                "fields": {
                    "code": "result = [{'id': i['id'], 'price': i['id'] * 10} for i in input]"
                },
            },
            {"id": "join", "type": "merge", "fields": {"mode": "by_key", "key": "id"}},
        ],
        ["start -> slow", "start -> prices", "slow -> join:input_1", "prices -> join:input_2"],
    )
    run = execute_doc(doc, run_input=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    assert run.outcome.result == [
        {"id": 1, "name": "a", "price": 10},
        {"id": 2, "name": "b", "price": 20},
    ]


def test_loop_runs_its_body_per_item_with_concurrency() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "loop",
                "type": "loop",
                "label": "Each item",
                "fields": {"items": "{{ input['items'] }}", "concurrency": 2},
            },
            {"id": "wait", "type": "delay", "fields": {"seconds": 0.2}},
            {
                "id": "double",
                "type": "set",
                "fields": {"fields": [{"name": "double", "value": "{{ input.n * 2 }}"}]},
            },
            {
                "id": "done",
                "type": "log",
                "label": "Finished",
                "fields": {"message": "{{ input | length }} results"},
            },
        ],
        ["start -> loop", "loop:item -> wait", "wait -> double", "loop:done -> done"],
    )
    started = time.perf_counter()
    run = execute_doc(doc, run_input={"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]})
    elapsed = time.perf_counter() - started
    assert run.status == "completed", run.error
    assert run.output("loop", "done") == [
        {"n": 1, "double": 2},
        {"n": 2, "double": 4},
        {"n": 3, "double": 6},
        {"n": 4, "double": 8},
    ]
    assert run.logs("done") == ["4 results"]
    assert 0.4 <= elapsed < 3  # two at a time: two rounds of 0.2 s


def test_loop_body_failure_names_the_item_and_node() -> None:
    doc = workflow(
        [
            MANUAL,
            {"id": "loop", "type": "loop", "label": "Each"},
            {
                "id": "check",
                "type": "code",
                "label": "Check",
                "fields": {"code": "assert input < 3, 'too big'\nresult = input"},
            },
        ],
        ["start -> loop", "loop:item -> check"],
    )
    run = execute_doc(doc, run_input=[1, 2, 3])
    assert run.status == "failed"
    assert (
        run.error == "node 'Each' (loop): item 2: node 'Check' (check): "
        "Code failed: AssertionError: too big (line 1)"
    )


def test_delay_is_cancelled_within_a_second() -> None:
    doc = workflow(
        [
            MANUAL,
            {"id": "wait", "type": "delay", "fields": {"seconds": 30}},
            {"id": "log", "type": "log"},
        ],
        ["start -> wait", "wait -> log"],
    )
    started = time.perf_counter()
    run = execute_doc(doc, cancel_after=0.2)
    assert run.status == "cancelled"
    assert time.perf_counter() - started < 1.5
    assert not run.ran("log")


def test_cancel_kills_a_running_code_child() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "spin",
                "type": "code",
                "fields": {"code": "while True:\n    pass", "timeout": 60},
            },
        ],
        ["start -> spin"],
    )
    started = time.perf_counter()
    run = execute_doc(doc, cancel_after=0.5)
    assert run.status == "cancelled"
    assert time.perf_counter() - started < 2


def test_stop_error_fails_the_run_with_its_message() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "check",
                "type": "if",
                "fields": {"value": "{{ input.spent }}", "operator": "gt", "compare_to": 10},
            },
            {
                "id": "stop",
                "type": "stop_error",
                "label": "Over budget",
                "fields": {"message": "Budget exceeded: {{ input.spent }}"},
            },
        ],
        ["start -> check", "check:true -> stop"],
    )
    assert execute_doc(doc, run_input={"spent": 3}).status == "completed"
    run = execute_doc(doc, run_input={"spent": 30})
    assert run.status == "failed"
    assert run.error == "node 'Over budget' (stop): Budget exceeded: 30"


def test_subworkflow_by_name_and_its_depth_limit() -> None:
    child = workflow(
        [
            MANUAL,
            {
                "id": "twice",
                "type": "set",
                "fields": {"fields": [{"name": "twice", "value": "{{ input.n * 2 }}"}]},
            },
        ],
        ["start -> twice"],
    )
    parent = workflow(
        [
            MANUAL,
            {
                "id": "call",
                "type": "subworkflow",
                "label": "Double",
                "fields": {"workflow": "Doubler"},
            },
        ],
        ["start -> call"],
    )
    loaded = []

    def loader(ref: str):
        loaded.append(ref)
        return {"Doubler": child, "Forever": forever}[ref]

    forever = workflow(
        [
            MANUAL,
            {
                "id": "again",
                "type": "subworkflow",
                "label": "Again",
                "fields": {"workflow": "Forever", "max_depth": 3},
            },
        ],
        ["start -> again"],
    )
    run = execute_doc(parent, run_input={"n": 21}, workflow_loader=loader)
    assert run.status == "completed", run.error
    assert run.outcome.result == {"n": 21, "twice": 42}
    deep = execute_doc(forever, workflow_loader=loader)
    assert deep.status == "failed"
    assert "nesting depth 4 exceeds max_depth 3" in deep.error
    assert deep.error.startswith("node 'Again' (again): sub-workflow 'Forever' failed:")


def test_code_timeout_fails_that_node_naming_it() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "spin",
                "type": "code",
                "label": "Spin",
                "fields": {"code": "while True:\n    pass", "timeout": 1},
            },
            {"id": "after", "type": "log"},
        ],
        ["start -> spin", "spin -> after"],
    )
    run = execute_doc(doc)
    assert run.status == "failed"
    assert run.error == "node 'Spin' (spin): Code timed out after 1 s; its process was killed"


def test_code_memory_failure_can_continue_the_run() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "hog",
                "type": "code",
                "label": "Hog",
                "fields": {"code": "x = bytearray(2 * 1024 ** 3)", "memory_mb": 128},
                "data": {"onError": "continue"},
            },
            {
                "id": "after",
                "type": "log",
                "label": "After",
                "fields": {"message": "{{ input.error.message }}"},
            },
        ],
        ["start -> hog", "hog -> after"],
    )
    run = execute_doc(doc)
    assert run.status == "completed"
    assert run.logs("after") == [
        "Code ran out of memory (limit 128 MB); raise memory_mb or process less data"
    ]


def test_write_then_read_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    doc = workflow(
        [
            MANUAL,
            {
                "id": "write",
                "type": "write_file",
                "fields": {"path": str(target), "content": "{{ input }}"},
            },
            {
                "id": "read",
                "type": "read_file",
                "fields": {"path": "{{ input.path }}", "format": "json"},
            },
        ],
        ["start -> write", "write -> read"],
    )
    run = execute_doc(doc, run_input={"total": 7})
    assert run.status == "completed", run.error
    assert json.loads(target.read_text()) == {"total": 7}
    assert run.outcome.result == {"total": 7}


def test_run_command_and_a_missing_command() -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "cmd",
                "type": "run_command",
                "label": "Python",
                "fields": {"command": [sys.executable, "-c", "print(6 * 7)"]},
            },
            {
                "id": "pick",
                "type": "set",
                "fields": {
                    "fields": [{"name": "answer", "value": "{{ input.stdout | trim | int }}"}],
                    "keep_other_fields": False,
                },
            },
        ],
        ["start -> cmd", "cmd -> pick"],
    )
    assert execute_doc(doc).outcome.result == {"answer": 42}
    missing = workflow(
        [
            MANUAL,
            {
                "id": "cmd",
                "type": "run_command",
                "label": "Tool",
                "fields": {"command": ["glyphic-missing-tool"]},
            },
        ],
        ["start -> cmd"],
    )
    run = execute_doc(missing)
    assert run.status == "failed"
    assert (
        run.error == "node 'Tool' (cmd): command not found: 'glyphic-missing-tool' "
        "(is it installed and on PATH?)"
    )


def test_http_request_in_a_workflow_and_an_unreachable_url(
    http_server: AppServer, unused_port: int
) -> None:
    doc = workflow(
        [
            MANUAL,
            {
                "id": "fetch",
                "type": "http_request",
                "label": "Fetch",
                "fields": {"url": "{{ input.url }}", "retries": 0},
            },
            {
                "id": "pick",
                "type": "set",
                "fields": {
                    "fields": [{"name": "n", "value": "{{ input.body.n }}"}],
                    "keep_other_fields": False,
                },
            },
        ],
        ["start -> fetch", "fetch -> pick"],
    )
    assert execute_doc(doc, run_input={"url": http_server.url("/json")}).outcome.result == {"n": 42}
    url = f"http://127.0.0.1:{unused_port}/json"
    run = execute_doc(doc, run_input={"url": url})
    assert run.status == "failed"
    assert run.error == f"node 'Fetch' (fetch): GET {url} failed: connection refused"


def test_http_request_uses_an_optional_credential(http_server: AppServer) -> None:
    credentials = StaticCredentials({"api": {"type": "bearer", "token": "tok-7"}})
    binding = {"integrationId": "api", "integration": {"type": "bearer", "name": "API"}}
    doc = workflow(
        [
            MANUAL,
            {"id": "plain", "type": "http_request", "fields": {"url": http_server.url("/echo")}},
            {
                "id": "auth",
                "type": "http_request",
                "fields": {"url": http_server.url("/echo")},
                "data": {"credential": binding},
            },
        ],
        ["start -> plain", "start -> auth"],
    )
    run = execute_doc(doc, credentials=credentials)
    assert run.status == "completed", run.error
    assert run.output("auth")["body"]["headers"]["Authorization"] == "Bearer tok-7"
    assert "Authorization" not in run.output("plain")["body"]["headers"]


def test_integrations_in_a_workflow(
    smtp_server: SmtpServer, slack_server: AppServer, github_server: AppServer
) -> None:
    credentials = StaticCredentials(
        {
            "smtp-1": smtp_server.credential(),
            "slack-1": {"bot_token": SLACK_TOKEN, "base_url": slack_server.url("/api")},
            "gh-1": {"token": GITHUB_TOKEN, "base_url": github_server.base_url},
        }
    )
    doc = workflow(
        [
            MANUAL,
            {
                "id": "mail",
                "type": "gmail",
                "label": "Mail",
                "fields": {
                    "to": "{{ input.to }}",
                    "subject": "Report",
                    "messageBody": "Total {{ input.total }}",
                },
                "data": {"credential": {"integrationId": "smtp-1"}},
            },
            {
                "id": "chat",
                "type": "slack",
                "fields": {"channel": "#ops", "text": "Total {{ input.total }}"},
                "data": {"credential": {"integrationId": "slack-1"}},
            },
            {
                "id": "issue",
                "type": "github",
                "fields": {"owner": "octo", "repo": "demo", "title": "Total {{ input.total }}"},
                "data": {"credential": {"integrationId": "gh-1"}},
            },
        ],
        ["start -> mail", "start -> chat", "start -> issue"],
    )
    run = execute_doc(doc, run_input={"to": "ann@example.com", "total": 9}, credentials=credentials)
    assert run.status == "completed", run.error
    assert smtp_server.received[0].message.get_payload().strip() == "Total 9"
    assert slack_server.requests[0].json()["text"] == "Total 9"
    assert run.output("issue")["title"] == "Total 9"


def test_unbound_credential_and_wrong_field_type_fail_preflight() -> None:
    doc = workflow(
        [
            MANUAL,
            {"id": "wait", "type": "delay", "label": "Wait", "fields": {"seconds": "soon"}},
            {
                "id": "mail",
                "type": "gmail",
                "label": "Mail",
                "fields": {"to": "a@b.c"},
                "data": {"credential": {"integration": {"type": "smtp", "name": "Local SMTP"}}},
            },
        ],
        ["start -> wait", "wait -> mail"],
    )
    with pytest.raises(PreflightFailed) as caught:
        execute_doc(doc, credentials=StaticCredentials({}))
    text = str(caught.value)
    assert "'Wait' (wait)" in text and "seconds" in text
    assert "node 'Mail' (mail): no smtp credential named 'Local SMTP'" in text
