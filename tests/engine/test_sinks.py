"""The terminal sink, event → log line mapping, masking of listeners, COPY escaping."""

from __future__ import annotations

import io
import json

from engine.helpers import doc, make_registry, run
from glyphic_desktop.engine.events import (
    EventBus,
    LogLine,
    NodeFailed,
    NodeFinished,
    NodeOutput,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunStarted,
)
from glyphic_desktop.engine.sinks import (
    IdentityMasker,
    TerminalSink,
    copy_text,
    default_masker,
    event_line,
    mask_event,
    masked_listener,
    normalise_level,
)
from glyphic_desktop.secrets.masking import SecretMasker

ARGS = ("ex", "n1", "t.set", "Set it")


def _sink(**options):
    stream = io.StringIO()
    return stream, TerminalSink(stream, clock=lambda t: "12:00:00.000", **options)


def test_event_lines_for_every_kind():
    assert event_line(RunStarted("ex", trigger="schedule", node_count=3)) == (
        "info",
        "run started (schedule, 3 nodes)",
        None,
    )
    assert event_line(NodeStarted(*ARGS, attempt=2))[1] == "started (attempt 2)"
    assert event_line(LogLine(*ARGS, level="warning", message="m", data=[1])) == ("warn", "m", [1])
    assert event_line(NodeFinished(*ARGS, duration_ms=1.25)) == ("info", "finished in 1.2 ms", None)
    assert event_line(NodeFailed(*ARGS, error="x")) == ("error", "failed: x", None)
    assert event_line(NodeFailed(*ARGS, error="x", handled=True))[0] == "warn"
    assert (
        event_line(NodeSkipped(*ARGS, reason="branch not taken"))[1] == "skipped: branch not taken"
    )
    assert event_line(NodeOutput(*ARGS, outputs={})) is None
    assert event_line(RunFinished("ex", status="failed", error="boom"))[1] == "run failed: boom"
    assert event_line(RunFinished("ex", status="cancelled"))[0] == "warn"
    assert normalise_level("CRITICAL") == "error" and normalise_level("odd") == "info"


def test_terminal_text_lines_without_colour_on_a_pipe():
    stream, sink = _sink()
    assert sink.color is False
    for event in (
        NodeStarted(*ARGS),
        LogLine(*ARGS, level="info", message="hello", data={"k": 1}),
        NodeFinished(*ARGS, duration_ms=2.0),
        NodeFailed(*ARGS, error="bad"),
        NodeSkipped(*ARGS, reason="input skipped"),
        RunFinished("ex", status="completed", duration_ms=5),
    ):
        sink(event)
    assert stream.getvalue().splitlines() == [
        '12:00:00.000 INFO  [Set it] hello {"k":1}',
        "12:00:00.000 ✓ [Set it] finished in 2.0 ms",
        "12:00:00.000 ✗ [Set it] failed: bad",
        "12:00:00.000 run completed in 5 ms",
    ]


def test_terminal_verbose_colour_and_masking():
    stream, sink = _sink(color=True, verbose=True, masker=SecretMasker(["s3cr3t"]))
    sink(NodeStarted(*ARGS))
    sink(LogLine(*ARGS, level="error", message="token s3cr3t"))
    text = stream.getvalue()
    assert "\033[31m" in text and "started" in text
    assert "s3cr3t" not in text and "••••" in text


def test_terminal_json_lines():
    stream, sink = _sink(json_lines=True, masker=SecretMasker(["pw123456"]))
    sink(NodeOutput(*ARGS, outputs={"output": {"big": "x" * 10_000, "pw": "pw123456"}}))
    sink(NodeFinished(*ARGS, duration_ms=1.0, ports=("output",)))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "node_output" and first["node_id"] == "n1"
    assert first["outputs"]["output"]["__truncated__"] is True
    assert "pw123456" not in stream.getvalue()
    assert second["ports"] == ["output"] and second["time"].endswith("+00:00")


def test_a_run_streams_to_the_terminal():
    stream, sink = _sink()
    run(
        doc([("s", "t.start"), ("l", "t.log")], ["s->l"]),
        make_registry(),
        run_input=1,
        listeners=[sink],
    )
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("run started (manual, 2 nodes)")
    assert "INFO  [l] got 1" in lines[2]
    assert lines[-1].split(" ", 1)[1].startswith("run completed in")


def test_masked_listener_and_mask_event():
    masker = SecretMasker(["abcdef12"])
    seen = []
    listener = masked_listener(seen.append, masker)
    listener(LogLine(*ARGS, message="key abcdef12", data={"k": "abcdef12"}))
    listener(NodeOutput(*ARGS, outputs={"output": "abcdef12"}))
    listener(NodeFailed(*ARGS, error="abcdef12 failed"))
    listener(RunFinished("ex", status="failed", error="abcdef12"))
    assert "abcdef12" not in repr(seen)
    plain = LogLine(*ARGS, message="x")
    assert mask_event(plain, IdentityMasker()) is plain
    assert mask_event(plain, SecretMasker()) is plain


def test_event_bus_reports_a_raising_listener_once(caplog):
    calls = []

    def bad(event):
        calls.append(event)
        raise ValueError("no")

    bus = EventBus([bad])
    bus.emit(RunStarted("ex"))
    bus.emit(RunStarted("ex"))
    assert bus.listener_errors == 2 and len(calls) == 2
    assert caplog.text.count("event listener") == 1


def test_copy_text_escaping_and_default_masker():
    assert copy_text(None) == "\\N"
    assert copy_text("plain") == "plain"
    # NUL and a lone surrogate take records.storable_text's marker (then COPY's escaping).
    assert copy_text("a\tb\nc\rd\\e\x00") == "a\\tb\\nc\\rd\\\\e\\\\u0000"
    assert copy_text("x\ud800y") == "x\\\\ud800y"
    assert isinstance(default_masker(), SecretMasker)
