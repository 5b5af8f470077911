"""The log sink keeps lines while the database cannot be reached, within a bound, and says
how many it had to drop (the restart case itself: tests/agent/test_queue_outage.py)."""

from __future__ import annotations

import logging
import socket
import uuid

from glyphic_desktop.engine.events import LogLine
from glyphic_desktop.engine.sinks import DatabaseLogSink
from glyphic_desktop.store.database import Database


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_lines_are_kept_within_the_bound_and_the_true_dropped_count_is_reported(caplog):
    db = Database(f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing")
    execution_id = uuid.uuid4()
    sink = DatabaseLogSink(db, execution_id, batch_size=5, flush_interval=0.01, max_buffered=10)
    try:
        with caplog.at_level(logging.WARNING, logger="glyphic_desktop.engine.sinks"):
            for n in range(25):
                sink(LogLine(str(execution_id), "n", "t", "L", message=f"line {n}"))
            sink.close(timeout=1.0)
    finally:
        db.dispose()
    assert sink.rows_written == 0
    assert sink.dropped == 25  # 15 over the bound, then the 10 kept when close gave up
    text = caplog.text
    assert "keeping them and retrying" in text
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    counts = sum(int(word) for m in dropped for word in m.split() if word.isdigit())
    assert counts - 10 * sum("more than 10" in m for m in dropped) == 25, dropped


def test_a_batch_refused_for_its_content_is_dropped_at_once_and_counted(db, user_id):
    sink = DatabaseLogSink(db, uuid.uuid4())  # no such execution: the FK refuses the rows
    for n in range(3):
        sink(LogLine(None, "n", "t", "L", message=f"lost {n}"))
    sink.close(timeout=5)
    assert sink.rows_written == 0 and sink.dropped == 3 and sink.errors == 1
