"""The Code node: a real child process, its prints, its result, and every way it can fail."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time

import psutil
import pytest
from node_helpers import make_context, run_node
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.code_runner import CodeNode


def code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def test_main_return_value_is_the_output_and_prints_are_logged() -> None:
    src = code(
        """
        def main(input):
            print("items:", len(input["items"]))
            print("second line")
            return {"total": sum(i["price"] for i in input["items"])}
        """
    )
    result = run_node(
        CodeNode, {"code": src}, inputs={"input": {"items": [{"price": 2}, {"price": 3.5}]}}
    )
    assert result.output == {"total": 5.5}
    assert result.messages("info") == ["items: 2", "second line"]


def test_result_variable_async_main_and_special_values() -> None:
    assert run_node(
        CodeNode, {"code": "result = [x * 2 for x in input]"}, inputs={"input": [1, 2]}
    ).output == [2, 4]
    src = code(
        """
        import asyncio, datetime
        async def main(input):
            await asyncio.sleep(0)
            return {"when": datetime.date(2026, 1, 2), "tags": {"a"}, "raw": b"hi"}
        """
    )
    out = run_node(CodeNode, {"code": src}).output
    assert out == {"when": "2026-01-02", "tags": ["a"], "raw": {"base64": "aGk=", "size": 2}}
    assert run_node(CodeNode, {"code": "x = 1"}).output is None


def test_stderr_goes_to_the_log_as_warnings() -> None:
    src = "import sys\nprint('careful', file=sys.stderr)\nresult = 1"
    result = run_node(CodeNode, {"code": src})
    assert result.output == 1
    assert result.messages("warn") == ["careful"]


def test_exception_names_type_message_and_line() -> None:
    src = code(
        """
        def main(input):
            x = 1
            return x / 0
        """
    )
    with pytest.raises(NodeError) as caught:
        run_node(CodeNode, {"code": src})
    assert str(caught.value) == "Code failed: ZeroDivisionError: division by zero (line 3)"
    assert caught.value.field == "code"


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(NodeError, match=r"syntax error at line 2"):
        run_node(CodeNode, {"code": "x = 1\nif x\n    pass\n"})


def test_non_json_result_and_exit_are_reported() -> None:
    with pytest.raises(NodeError, match="not JSON data: a value of type object"):
        run_node(CodeNode, {"code": "result = object()"})
    with pytest.raises(NodeError, match=r"called exit\(3\)"):
        run_node(CodeNode, {"code": "import sys\nsys.exit(3)"})


def test_infinite_loop_times_out_and_the_process_is_killed() -> None:
    src = "import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n"
    started = time.perf_counter()
    with pytest.raises(NodeError) as caught:
        run_node(CodeNode, {"code": src, "timeout": 1})
    assert time.perf_counter() - started < 5
    assert str(caught.value) == "Code timed out after 1 s; its process was killed"
    assert caught.value.field == "timeout"


def test_memory_exhaustion_fails_with_a_clear_message() -> None:
    src = "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n"
    with pytest.raises(NodeError) as caught:
        run_node(CodeNode, {"code": src, "memory_mb": 256, "timeout": 30})
    assert "ran out of memory (limit 256 MB)" in str(caught.value)
    assert caught.value.field == "memory_mb"


def test_crash_by_signal_is_reported() -> None:
    with pytest.raises(NodeError, match=r"the Code process crashed \(SIGKILL\)"):
        run_node(CodeNode, {"code": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"})


def test_cancellation_kills_the_child_and_reports_it_to_the_engine() -> None:
    tracked = []

    class Services:
        def track_process(self, proc) -> None:
            tracked.append(proc)

    async def scenario() -> int:
        ctx = make_context(
            CodeNode, {"code": "import time\ntime.sleep(60)", "timeout": 120}, services=Services()
        )
        task = asyncio.create_task(CodeNode().run(ctx))
        while not tracked:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return tracked[0].pid

    pid = asyncio.run(scenario())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_wrong_field_types() -> None:
    with pytest.raises(ValidationError) as caught:
        CodeNode.Fields.model_validate({"code": "x", "timeout": "forever"})
    assert caught.value.errors()[0]["loc"] == ("timeout",)
    with pytest.raises(ValidationError):
        CodeNode.Fields.model_validate({"code": "x", "memory_mb": 1})


def test_input_that_is_not_json_fails_before_starting() -> None:
    with pytest.raises(NodeError, match="cannot be sent"):
        run_node(CodeNode, {"code": "result = 1"}, inputs={"input": {1, 2}})
    assert os.getpid()
