"""Fixtures for the editor tests: a small registry of typed node types and an editor."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from pydantic import BaseModel

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.base import NodeType, PortSpec
from glyphic_desktop.ui import gc_guard


class TextFields(BaseModel):
    """Fields of the test Text node."""

    text: str = "hello"


class NumberFields(BaseModel):
    """Fields of the test Number node."""

    value: float = 1.0


class TextNode(NodeType):
    key = "test.text"
    title = "Text"
    category = "Test"
    inputs = (PortSpec("input", "any"),)
    outputs = (PortSpec("output", "string"),)
    Fields = TextFields


class NumberNode(NodeType):
    key = "test.number"
    title = "Number"
    category = "Test"
    inputs = (PortSpec("input", "any"),)
    outputs = (PortSpec("output", "number"),)
    Fields = NumberFields


class SumNode(NodeType):
    key = "test.sum"
    title = "Sum"
    category = "Test"
    inputs = (PortSpec("a", "number"), PortSpec("b", "number"))
    outputs = (PortSpec("output", "number"),)


class StringSink(NodeType):
    key = "test.upper"
    title = "Upper"
    category = "Test"
    inputs = (PortSpec("input", "string"),)
    outputs = (PortSpec("output", "string"),)


class SmallRegistry:
    """The minimal registry shape the editor uses: ``get(key)`` and ``all()``."""

    def __init__(self, *types: type[NodeType]) -> None:
        self._types = {t.key: t for t in types}

    def get(self, key: str) -> Any:
        return self._types.get(key)

    def all(self) -> list[type[NodeType]]:
        return list(self._types.values())


@pytest.fixture(scope="session", autouse=True)
def _collect_garbage_on_the_gui_thread_only(qapp):
    """The app's own guard (``ui/gc_guard.py``): no cyclic collection in worker threads.

    Without it, a cycle holding a Qt object could be collected in a run thread, and its
    timers would later fire on freed memory (seen as segfaults in pytest-qt's
    event processing).
    """
    guard = gc_guard.install(qapp)
    yield
    guard.stop()
    # Offscreen Qt crashes at interpreter exit while the app still owns clipboard data
    # (a copy or cut test put it there): give it up while the application is alive.
    qapp.clipboard().clear()
    qapp.processEvents()


@pytest.fixture(autouse=True)
def _collect_after_each_test():
    """Collect on the GUI thread between tests, so garbage does not pile up."""
    yield
    gc.collect()


@pytest.fixture
def registry() -> SmallRegistry:
    """Text, Number, Sum and Upper node types."""
    return SmallRegistry(TextNode, NumberNode, SumNode, StringSink)


@pytest.fixture
def editor(qtbot, registry):
    """An Editor on an empty document, its view shown at 1000×700 and zoom 1."""
    from glyphic_desktop.ui.canvas import Editor

    ed = Editor(WorkflowDocument(), registry)
    qtbot.addWidget(ed.widget)
    ed.widget.resize(1000, 700)
    ed.widget.show()
    qtbot.waitExposed(ed.widget)
    ed.view.set_zoom(1.0)
    ed.view.centerOn(400, 300)
    return ed
