"""Checked and compiled documents kept between runs of the same document (the agent's queue).

An agent runs the same stored version of a workflow many times. Preflight and the
executor's :class:`~glyphic_desktop.engine.executor.Plan` depend only on the document,
the node registry and the disabled node types, except for credential checks, which ask
the credential store: so a document none of whose nodes needs a credential is checked
and compiled once and its :class:`Compiled` reused by every later run.

The cache holds the document itself and keys on its identity: callers give it documents
they never change (the queue's parsed stored versions), never the editor's live one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.engine.executor import Plan
    from glyphic_desktop.engine.preflight import Problem
    from glyphic_desktop.nodes.registry import NodeRegistry

DEFAULT_SIZE = 64


@dataclass(frozen=True)
class Compiled:
    """What preflight found (``problems``) and, when it found none, the compiled plan."""

    problems: tuple[Problem, ...]
    plan: Plan | None


def needs_credentials(document: WorkflowDocument, registry: NodeRegistry) -> bool:
    """Whether preflight of ``document`` asks the credential store (then nothing is kept)."""
    for node in document.nodes:
        cls = registry.get(node.type)
        if cls is None or cls.credential_type:
            return True
    return False


class CompiledDocuments:
    """The :class:`Compiled` of the last ``size`` documents, by identity (thread-safe)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.hits = 0
        self._items: OrderedDict[tuple[int, int, frozenset[Any]], tuple[Any, Any, Compiled]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    @staticmethod
    def _key(
        document: WorkflowDocument, registry: NodeRegistry, disabled: Mapping[str, str]
    ) -> tuple[int, int, frozenset[Any]]:
        return id(document), id(registry), frozenset(disabled.items())

    def get(
        self, document: WorkflowDocument, registry: NodeRegistry, disabled: Mapping[str, str]
    ) -> Compiled | None:
        """The kept result for this document, registry and disabled types, or None."""
        key = self._key(document, registry, disabled)
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] is not document or found[1] is not registry:
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[2]

    def put(
        self,
        document: WorkflowDocument,
        registry: NodeRegistry,
        disabled: Mapping[str, str],
        compiled: Compiled,
    ) -> None:
        """Keep ``compiled``; a document that needs credentials is not kept."""
        if needs_credentials(document, registry):
            return
        key = self._key(document, registry, disabled)
        with self._lock:
            # both are held, so neither id can be reused while the entry lives
            self._items[key] = (document, registry, compiled)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
