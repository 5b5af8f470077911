"""Trust: workflows from outside that run code or commands wait for the person's consent,
like macros in an office suite.

A node *came from outside* when it arrived by ``glyphic import``, by pasting foreign
workflow JSON in the editor, by opening a file in the editor, or in a copy of another
user's workflow. Such nodes are recorded in ``workflows.untrusted_nodes`` when they run
code or commands (their type declares ``runs_code``: Code, Run command) or when their
type is unknown at that time (a plugin installed later might make it run code).

A run is refused while the document holds an untrusted node whose type runs code: one
line naming those nodes (:class:`UntrustedWorkflow`, exit code 2, recorded as a failed
execution like a failed preflight, before any node runs). The person trusts them with
``glyphic trust NAME``, the editor's "Trust and enable", or by editing a node's code in
the editor. ``glyphic run FILE`` is the person's explicit consent for that file, and the
examples shipped in ``resources/examples`` are trusted (they come with the product).
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glyphic_desktop.engine.preflight import PreflightFailed, Problem, resolve_type
from glyphic_desktop.errors import GlyphicError

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node, WorkflowDocument
    from glyphic_desktop.nodes.registry import NodeRegistry

UNTRUSTED_KIND = "untrusted"


def runs_code(registry: NodeRegistry, node: Node) -> bool:
    """Whether ``node``'s type (as it would run) declares ``runs_code``."""
    cls = resolve_type(registry, node)
    return bool(cls is not None and cls.runs_code)


def needs_trust(registry: NodeRegistry, node: Node) -> bool:
    """Whether ``node``, coming from outside, must wait for trust: its type runs code or
    commands, or is unknown (a plugin installed later might make it run code)."""
    cls = resolve_type(registry, node)
    return cls is None or bool(cls.runs_code)


def outside_nodes(document: WorkflowDocument, registry: NodeRegistry) -> list[str]:
    """The ids of the nodes of ``document`` that must wait for trust when it came from
    outside (see :func:`needs_trust`)."""
    return [node.id for node in document.nodes if needs_trust(registry, node)]


def refused_nodes(
    document: WorkflowDocument, untrusted: Iterable[str], registry: NodeRegistry
) -> list[Node]:
    """The nodes of ``document`` that are untrusted and run code (a run is refused while
    there is one), in document order."""
    ids = set(untrusted)
    if not ids:
        return []
    return [node for node in document.nodes if node.id in ids and runs_code(registry, node)]


def describe_nodes(nodes: Sequence[Node]) -> str:
    """``'Transform' (code), 'Shell' (run_command)``: each node's label (else id) and type."""
    return ", ".join(f"{(node.label or node.id)!r} ({node.type})" for node in nodes)


def trust_command(name: str) -> str:
    """The command that trusts workflow ``name``, quoted for a shell."""
    return f"glyphic trust {shlex.quote(name)}"


def refusal_message(name: str, nodes: Sequence[Node], source: str | None) -> str:
    """The one line a refused run shows (terminal, editor, the execution's error)."""
    origin = f" ({source})" if source else ""
    count = len(nodes)
    return (
        f"workflow {name!r} is not trusted: {count} node{'s' if count != 1 else ''} that "
        f"came from outside{origin} run{'s' if count == 1 else ''} code or commands: "
        f"{describe_nodes(nodes)}; trust {'it' if count == 1 else 'them'} with "
        f"'{trust_command(name)}' or the editor's \"Trust and enable\""
    )


class UntrustedWorkflow(PreflightFailed):
    """A run refused because untrusted nodes run code (exit code 2); ``problems`` has one
    entry per node so the editor can mark them."""

    exit_code = 2

    def __init__(self, name: str, nodes: Sequence[Node], source: str | None) -> None:
        GlyphicError.__init__(self, refusal_message(name, nodes, source))
        self.nodes = list(nodes)
        self.problems = [
            Problem(
                UNTRUSTED_KIND,
                f"runs code or commands and came from outside{f' ({source})' if source else ''}"
                ": not trusted yet",
                node.id,
                node.label,
            )
            for node in nodes
        ]


@dataclass
class RunPolicy:
    """What a run must respect besides preflight: untrusted nodes and disabled types."""

    untrusted: tuple[str, ...] = ()
    source: str | None = None
    disabled: dict[str, str] = field(default_factory=dict)

    def refusal(
        self, document: WorkflowDocument, registry: NodeRegistry, name: str
    ) -> UntrustedWorkflow | None:
        """The refusal of a run of ``document``, or None when it may run."""
        nodes = refused_nodes(document, self.untrusted, registry)
        return UntrustedWorkflow(name, nodes, self.source) if nodes else None


def load_run_policy(db: Any, user_id: uuid.UUID, workflow_id: uuid.UUID) -> RunPolicy:
    """The workflow's untrusted nodes and the disabled node types, in one session."""
    from glyphic_desktop.engine.disabled_nodes import disabled_node_types
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    with db.session() as session:
        untrusted, source = WorkflowRepository(session, user_id).trust_state(workflow_id)
        disabled = disabled_node_types(session, user_id)
    return RunPolicy(untrusted, source, disabled)


# -- where a document came from --------------------------------------------------------


def is_bundled_example(path: str | Path) -> bool:
    """Whether ``path`` is one of the example workflows shipped in ``resources/examples``
    (trusted: they come with the product)."""
    from glyphic_desktop.paths import resources_dir

    try:
        resolved = Path(path).resolve(strict=True)
        examples = (resources_dir() / "examples").resolve(strict=True)
    except OSError:
        return False
    return resolved.is_file() and resolved.parent == examples


def mark_from_outside(
    repo: Any,
    workflow_id: uuid.UUID,
    document: WorkflowDocument,
    registry: NodeRegistry,
    source: str,
) -> list[str]:
    """Record the nodes of ``document`` that must wait for trust (see :func:`outside_nodes`)
    on the stored workflow, in the caller's transaction; returns their ids."""
    ids = outside_nodes(document, registry)
    repo.mark_untrusted(workflow_id, ids, source)
    return ids


def mark_file_import(
    repo: Any,
    workflow_id: uuid.UUID,
    document: WorkflowDocument,
    path: str | Path,
    registry: NodeRegistry | None = None,
) -> list[str]:
    """:func:`mark_from_outside` for a file imported from ``path`` (nothing for a bundled
    example)."""
    if is_bundled_example(path):
        return []
    if registry is None:
        from glyphic_desktop.nodes.registry import default_registry

        registry = default_registry()
    return mark_from_outside(
        repo, workflow_id, document, registry, f"imported from {Path(path).name}"
    )
