"""Hostile expressions: every evaluation is bounded in time and size, compiling runs no user
work, too-deep nesting is one clear error, Ctrl-C and the node timeout stop a busy render,
and the event loop keeps turning while one runs (issue 10, item 5)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.cli_runs import events_until_node_started, start_json_run

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.engine.executor import Executor
from glyphic_desktop.engine.expressions import (
    ExpressionError,
    check_syntax,
    needs_thread,
    render_fields,
    render_string,
)
from glyphic_desktop.engine.limits import ExpressionLimits
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.store.repositories.executions import ExecutionRepository

GLYPHIC = [sys.executable, "-m", "glyphic_desktop.cli.main"]
HANG_GUARD = 90  # seconds: a run still going by then is stuck (the old code hangs forever)
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ 1 }}"
PARENS = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"


def _nodes(value: Any, **data: Any) -> list[dict[str, Any]]:
    """A Manual trigger, then a Set node 'Compute' whose one field holds ``value`` (its
    node data also holds ``data``)."""
    return [
        {"id": "start", "type": "manual", "data": {"label": "Start", "fields": {}}},
        {
            "id": "compute",
            "type": "set",
            "data": {
                "label": "Compute",
                "fields": {"fields": [{"name": "v", "value": value}]},
                **data,
            },
        },
    ]


def _workflow(path: Path, value: Any, *, config: dict[str, Any] | None = None, **data: Any):
    """A Manual trigger, then a Set node 'Compute' whose one field holds ``value``."""
    document = {
        "nodes": _nodes(value, **data),
        "edges": [
            {
                "id": 1,
                "source": "start",
                "sourceHandle": "output",
                "target": "compute",
                "targetHandle": "input",
            }
        ],
        "config": config or {},
        "metadata": {"name": path.stem},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _run(path: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    """`glyphic run FILE --json` in a child process: (exit code, JSON events, stderr)."""
    proc = subprocess.run(
        [*GLYPHIC, "run", str(path), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=os.environ.copy(),
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def _row(db, user_id, execution_id: str):
    with db.session() as session:
        return ExecutionRepository(session, user_id).get(uuid.UUID(execution_id))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{{ 9**(9**9) }}", "bits, over the limit"),
        ("{{ 'x' * 10**9 }}", "over the limit of 10 MB"),
        ("{{ '{:>999999999}'.format(1) }}", "over the size limit"),
        ("{{ range(100000)|join('x' * 1000) }}", "over the limit of 10 MB"),
        (LOOP, "over its time budget of 1 s"),
    ],
    ids=["power", "repeat", "format-width", "join", "nested-loops"],
)
def test_a_hostile_expression_fails_its_run_naming_node_and_field(
    database_url, db, user_id, tmp_path, value, says
):
    path = _workflow(tmp_path / "hostile.json", value, config={"expressionTimeout": 1})
    code, events, err = _run(path)
    assert code == 1, err
    summary = events[-1]
    assert summary["event"] == "summary" and summary["status"] == "failed"
    error = summary["error"]
    assert "'Compute'" in error and "field 'fields[0].value'" in error and says in error
    assert "\n" not in error
    row = _row(db, user_id, summary["execution_id"])
    assert row.status == "failed" and says in row.error_message


def test_too_deep_nesting_is_one_preflight_problem_not_a_crash(database_url, db, user_id, tmp_path):
    code, events, err = _run(_workflow(tmp_path / "parens.json", PARENS))
    assert code == 2, err
    assert "Traceback" not in err
    problems = [e for e in events if e["event"] == "problem"]
    assert len(problems) == 1
    assert problems[0]["node_id"] == "compute" and "nested too deeply" in problems[0]["message"]
    assert len(problems[0]["message"]) < 300  # the expression is quoted shortened
    summary = events[-1]
    assert _row(db, user_id, summary["execution_id"]).status == "failed"


def test_compiling_never_evaluates():
    """The optimizer is off and operators are intercepted: compiling is instant."""
    assert check_syntax("{{ 9**(9**9) }}") is None
    assert check_syntax("{{ 'x'|center(999999999) }}") is None
    assert check_syntax("{{ (" * 40 + "1" + ") }}" * 40) is not None  # unbalanced: one line
    assert "nested too deeply" in check_syntax(PARENS)


@pytest.mark.parametrize(
    "text",
    [
        "{{ 7 ** 999999 }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('\t' * 1000).expandtabs(10**7) }}",
        "{{ 'ab'.replace('a', 'a' * 10**7) * 2 }}",
        "{{ 'a'|replace('a', 'b' * 11000000) }}",
        "{{ 'x'|center(10**9) }}",
        "{{ ('x\n' * 100000)|indent(1000) }}",
        "{{ ('x ' * 100000)|wordwrap(1, wrapstring='y' * 1000) }}",
        "{{ '%s'|format('x') ~ '%999999999s'|format('x') }}",
        "{{ '%*s' % (10**9, 'x') }}",
        "{{ [1]|batch(10**9, 0)|list }}",
        "{{ [1]|slice(10**9)|list }}",
        "{{ [1, 2]|tojson(indent=10**6) }}",
        "{{ lipsum(10**6) }}",
        "{{ [1] * 10**8 }}",
        "{{ 'ab' * 4000000 + 'ab' * 4000000 }}",
        "{% set s = 'x' * 6000000 %}{{ s ~ s }}",
        "{% set l = [] %}{% for i in range(100000) %}{% for j in range(100) %}"
        "{% set _ = l.append(j) %}{% endfor %}{% endfor %}{{ l|length }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    ],
)
def test_size_and_recursion_bounds_give_one_clear_error(text):
    with pytest.raises(ExpressionError) as info:
        render_fields({"f": text}, {}, limits=ExpressionLimits(timeout=5.0))
    message = str(info.value)
    assert message.startswith("field 'f': expression ")
    assert "was stopped" in message or "nested too deeply" in message
    assert len(message) < 400


def test_ordinary_expressions_still_work_and_stay_on_the_loop():
    ctx = {"input": {"x": 2, "name": "Ada", "tags": ["a", "b"]}}
    assert render_string("{{ input.x * 10 + 1 }}", ctx) == 21
    assert render_string("{{ input.name ~ '!' }}", ctx) == "Ada!"
    assert render_string("{{ input.tags|join(',') }}", ctx) == "a,b"
    assert render_string("{% for t in input.tags %}[{{ t }}]{% endfor %}", ctx) == "[a][b]"
    assert render_string("{{ '%05d' % input.x }}", ctx) == "00002"
    assert render_string("{{ '{:>4}'.format(input.x) }}", ctx) == "   2"
    assert render_string("{{ 2 ** 100 }}", ctx) == 2**100
    assert render_string("{{ 'ab' * 3 }}", ctx) == "ababab"
    assert not needs_thread({"a": "{{ input.x }}", "b": ["{{ input.name|upper }} {{ 1 + 2 }}"]})
    assert needs_thread({"a": "{{ input.tags|join(',') }}"})
    assert needs_thread({"a": "{% for t in input.tags %}{{ t }}{% endfor %}"})


def _document(value: str, **data: Any) -> WorkflowDocument:
    return WorkflowDocument.model_validate(
        {
            "nodes": _nodes(value, **data),
            "edges": [{"id": 1, "source": "start", "target": "compute"}],
            "config": {"expressionTimeout": 1},
        }
    )


def test_the_event_loop_keeps_turning_while_an_expression_loops():
    """A heartbeat beside a run whose expression loops hard never waits long for its turn."""
    busy = "{% for i in range(100000) %}{% for j in range(300) %}{{ '' }}{% endfor %}{% endfor %}"

    async def main() -> tuple[float, Any]:
        # built before the heartbeat starts: loading the catalog imports modules
        executor = Executor(_document(busy), default_registry(), run_input={})
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.05)
        outcome = await executor.run()
        stop.set()
        await beat
        return len(gaps), outcome

    beats, outcome = asyncio.run(main())
    assert outcome.status == "failed"
    assert "over its time budget of 1 s" in outcome.error
    # the 1 s budget holds about 100 beats of 10 ms; a blocked loop gives one or two
    assert beats >= 30, f"the event loop turned only {beats} times during the render"


def test_the_node_timeout_bounds_a_render_shorter_than_the_budget():
    async def main() -> Any:
        document = _document(LOOP, timeout=0.3)
        document.config = {"expressionTimeout": 30}
        return await Executor(document, default_registry(), run_input={}).run()

    outcome = asyncio.run(asyncio.wait_for(main(), HANG_GUARD))
    assert outcome.status == "failed"
    assert "over the node's timeout of 0.3 s" in outcome.error


def test_ctrl_c_stops_a_busy_expression(database_url, db, user_id, tmp_path):
    path = _workflow(tmp_path / "busy.json", LOOP, config={"expressionTimeout": 600})
    proc = start_json_run(path)
    try:
        events = events_until_node_started(proc, "compute")
        time.sleep(0.5)  # the render is under way
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    assert proc.returncode == 1, err
    summary = events[-1]
    assert summary["status"] == "cancelled"
    assert _row(db, user_id, summary["execution_id"]).status == "cancelled"


def test_a_light_expression_building_big_values_moves_off_the_loop():
    """Lookups and operators render in place until they build over 1 MB; then a thread
    renders them (they call nothing, so rendering again has no side effect)."""
    from glyphic_desktop.engine.limits import MoveOffLoop

    big = "{{ [input.s * 1000000, input.s * 1000000]|length }}"
    assert not needs_thread({"v": big})
    with pytest.raises(MoveOffLoop):
        render_fields({"v": big}, {"input": {"s": "abcdefghi"}}, on_loop=True)
    document = _document(big)
    document.config = {}
    outcome = asyncio.run(Executor(document, default_registry(), run_input={"s": "abc"}).run())
    assert outcome.status == "completed", outcome.error
    assert outcome.result["v"] == 2
