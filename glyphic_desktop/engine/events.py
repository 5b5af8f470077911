"""Run events and their fan-out to listeners (the log dock, the terminal, the database).

Every event is a small frozen dataclass with ``kind`` (a class-level string),
``execution_id`` and ``time`` (``time.time()`` seconds). Node events also carry
``node_id``, ``node_type`` and ``label``. A listener is any sync callable taking one
event; it runs on the engine's thread (the editor hops to its GUI thread itself). A
listener that raises is logged once and otherwise ignored: it never stops the run.

=================  ===================================================================
kind               fields beyond the common ones
=================  ===================================================================
``run_started``    ``workflow_id``, ``trigger``, ``node_count``
``node_inputs``    ``inputs`` ({port: value} the node received, not copied), ``origin``
                   ("run"; "pinned": its pinned data stands in for it; "reused": a
                   partial run gives its outputs from an earlier run); once per time a
                   node is reached with its inputs, before ``node_started``
``node_started``   ``attempt`` (1 for the first try)
``log``            ``level`` (debug / info / warn / error), ``message``, ``data``
``node_output``    ``outputs`` ({port: value}, not copied: listeners must not mutate)
``node_finished``  ``duration_ms``, ``ports`` (names of the output ports taken)
``node_failed``    ``error``, ``duration_ms``, ``handled`` (True when onError continue /
                   error_output let the run go on)
``node_skipped``   ``reason`` ("branch not taken", "input skipped", "run stopped")
``run_finished``   ``status`` (completed / failed / cancelled), ``error``, ``duration_ms``
=================  ===================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Base of every event."""

    kind: ClassVar[str] = "event"
    execution_id: str | None
    time: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True, slots=True)
class NodeEvent(RunEvent):
    """Base of events about one node."""

    node_id: str
    node_type: str
    label: str


@dataclass(frozen=True, slots=True)
class RunStarted(RunEvent):
    """The run began (after preflight)."""

    kind: ClassVar[str] = "run_started"
    workflow_id: str | None = None
    trigger: str = "manual"
    node_count: int = 0


@dataclass(frozen=True, slots=True)
class NodeStarted(NodeEvent):
    """A node's ``run`` is about to be called (once per attempt)."""

    kind: ClassVar[str] = "node_started"
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class NodeInputs(NodeEvent):
    """What a node received (by reference), once per time it is reached, before it runs.

    ``origin`` is ``run`` (its ``run`` will be called), ``pinned`` (its pinned data is its
    output) or ``reused`` (a partial run gives it outputs recorded by an earlier run).
    """

    kind: ClassVar[str] = "node_inputs"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "run"


@dataclass(frozen=True, slots=True)
class LogLine(NodeEvent):
    """One log line from a node (or from the engine, with an empty node id)."""

    kind: ClassVar[str] = "log"
    level: str = "info"
    message: str = ""
    data: Any = None


@dataclass(frozen=True, slots=True)
class NodeOutput(NodeEvent):
    """The outputs a node produced (by reference)."""

    kind: ClassVar[str] = "node_output"
    outputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeFinished(NodeEvent):
    """A node completed."""

    kind: ClassVar[str] = "node_finished"
    duration_ms: float = 0.0
    ports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeFailed(NodeEvent):
    """A node failed (after its retries)."""

    kind: ClassVar[str] = "node_failed"
    error: str = ""
    duration_ms: float = 0.0
    handled: bool = False


@dataclass(frozen=True, slots=True)
class NodeSkipped(NodeEvent):
    """A node did not run."""

    kind: ClassVar[str] = "node_skipped"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunFinished(RunEvent):
    """The run ended."""

    kind: ClassVar[str] = "run_finished"
    status: str = "completed"
    error: str | None = None
    duration_ms: float = 0.0


Listener = Callable[[RunEvent], Any]


class EventBus:
    """Delivers events to listeners; a listener that raises is reported, never fatal."""

    __slots__ = ("_failed", "listener_errors", "listeners")

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: list[Listener] = list(listeners)
        self.listener_errors = 0
        self._failed: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.listeners)

    def add(self, listener: Listener) -> None:
        """Add a listener."""
        self.listeners.append(listener)

    def emit(self, event: RunEvent) -> None:
        """Call every listener with ``event``."""
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                self.listener_errors += 1
                if id(listener) not in self._failed:
                    self._failed.add(id(listener))
                    log.warning("event listener %r raised; it is ignored", listener, exc_info=True)
