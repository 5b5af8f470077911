"""A background run's node log lines in the agent's log.

:func:`run_log_listener` is a run listener (it sees events already masked) that writes
each node log line, and each failed node, to the ``glyphic_desktop.agent.runs`` logger,
prefixed with the execution and the node's label. ``glyphic agent --run-log-level``
sets that logger's level (default info), so ``debug`` adds node starts and skips and
``warn`` keeps only warnings and errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

RUN_LOGGER = "glyphic_desktop.agent.runs"
RUN_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

runs_log = logging.getLogger(RUN_LOGGER)


def set_run_log_level(level: str) -> None:
    """Set the level of the run log lines the agent writes (debug, info, warn, error)."""
    runs_log.setLevel(RUN_LOG_LEVELS[level.lower()])


def run_log_listener(label: str) -> Callable[[Any], None]:
    """A listener that logs a run's node lines as ``<label> [node] message``."""
    from glyphic_desktop.engine.events import LogLine, NodeFailed, NodeSkipped, NodeStarted
    from glyphic_desktop.engine.records import cap_value
    from glyphic_desktop.engine.sinks import event_line

    def listen(event: Any) -> None:
        kind = type(event)
        if (
            kind is not LogLine
            and kind is not NodeFailed
            and kind
            not in (
                NodeStarted,
                NodeSkipped,
            )
        ):
            return
        line = event_line(event)
        if line is None:
            return
        level, message, data = line
        number = RUN_LOG_LEVELS.get(level, logging.INFO)
        if not runs_log.isEnabledFor(number):
            return
        node = getattr(event, "label", "") or getattr(event, "node_id", "")
        text = f"{label} [{node}] {message}" if node else f"{label} {message}"
        if data is not None:
            text += " " + json.dumps(cap_value(data, 2048)[0], ensure_ascii=False, default=str)
        runs_log.log(number, "%s", text)

    return listen
