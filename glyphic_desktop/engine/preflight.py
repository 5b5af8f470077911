"""Preflight: every problem of a workflow found at once, before any node runs.

:func:`preflight` returns a list of :class:`Problem` (empty when the workflow may run);
:func:`ensure_runnable` raises :class:`PreflightFailed` (exit code 2) listing them all.
Each problem names its node by id and label. What is checked:

- duplicate node ids; unknown node types (and unknown ``data.typeVersion``);
- dangling edges (an end that is not a node), edges from or to ports the type does not
  declare, port type mismatches (an output's type as its node's fields make it:
  ``nodes/ports.py``'s ``output_port_types``, the editor's answer too), required inputs
  left unconnected;
- cycles, naming the nodes on each cycle;
- fields: missing required ones and values failing the type's field model (a field
  holding an expression is skipped: its value is only known at run time), and
  expression syntax errors anywhere in the fields;
- credentials: a type that needs one and a node with no ``data.credential`` (or, without
  a resolver, none with an ``integrationId``), or one the resolver says is unusable;
- pinned data (``data.pinnedData``) naming an output the type does not have; a pinned
  node never runs, so its fields and credential are not checked;
- disabled node types (``GLYPHIC_DISABLE_NODES`` or the person's setting, see
  ``engine/disabled_nodes.py``): each node of such a type, naming what disabled it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ValidationError

from glyphic_desktop.engine.expressions import (
    check_syntax,
    has_expression,
    iter_expressions,
    shorten,
)
from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.nodes.base import NodeType, mismatch_reason, ports_compatible
from glyphic_desktop.nodes.ports import output_port_types

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Edge, Node, WorkflowDocument
    from glyphic_desktop.nodes.registry import NodeRegistry


class CredentialResolver(Protocol):
    """What the engine needs from the credential store.

    ``problem`` says why a node's binding (``data.credential``) cannot be used for a
    type needing ``credential_type`` (None when it can); ``load`` returns the decrypted
    credential as a dict. A plain callable ``(binding, credential_type) -> str | None``
    is accepted where only checking is needed.
    """

    def problem(self, binding: Mapping[str, Any], credential_type: str) -> str | None: ...

    def load(self, binding: Mapping[str, Any], credential_type: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workflow; ``str()`` gives the user-facing line."""

    kind: str
    message: str
    node_id: str | None = None
    label: str | None = None
    field: str | None = None
    edge_id: int | None = None

    def __str__(self) -> str:
        if self.node_id is None:
            where = f"edge {self.edge_id}" if self.edge_id is not None else "workflow"
        elif self.label and self.label != self.node_id:
            where = f"node {self.label!r} ({self.node_id})"
        else:
            where = f"node {self.node_id}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready data (``glyphic run --json``)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "node_id": self.node_id,
            "label": self.label,
            "field": self.field,
            "edge_id": self.edge_id,
            "text": str(self),
        }


class PreflightFailed(GlyphicError):
    """A workflow with problems; it never starts. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem], name: str | None = None) -> None:
        count = len(problems)
        what = f"workflow {name!r}" if name else "the workflow"
        lines = [f"{what} cannot run: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  - {problem}" for problem in problems]
        super().__init__("\n".join(lines))
        self.problems = problems


def node_type_version(node: Node) -> int | None:
    """``data.typeVersion`` of a node, when it pins one."""
    extra = node.data.model_extra or {}
    value = extra.get("typeVersion")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def resolve_type(registry: NodeRegistry, node: Node) -> type[NodeType] | None:
    """The node type a node runs as (its pinned version, else the newest)."""
    return registry.get(node.type, node_type_version(node))


def _problem(kind: str, node: Node, message: str, **extra: Any) -> Problem:
    return Problem(kind, message, node.id, node.label, **extra)


def _unknown_port(
    edge: Edge, node: Node, cls: type[NodeType], direction: Literal["input", "output"]
) -> Problem:
    """The problem of an edge naming a port ``node``'s type does not have."""
    if direction == "output":
        verb, handle, ports = "leaves", edge.sourceHandle, cls.outputs
    else:
        verb, handle, ports = "enters", edge.targetHandle, cls.inputs
    names = ", ".join(p.name for p in ports) or "none"
    return _problem(
        "unknown_port",
        node,
        f"edge {edge.id} {verb} {direction} {handle!r}, which "
        f"{cls.key!r} does not have ({direction}s: {names})",
        edge_id=edge.id,
    )


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_problems(
    node: Node, model: type[BaseModel], validated: dict[str, BaseModel] | None = None
) -> list[Problem]:
    """Fields failing ``model`` (fields holding an expression are not checked).

    When ``validated`` is given and the node has no expression, its validated model is
    stored there by node id (the executor's plan reuses it instead of validating again).
    """
    fields = node.data.fields
    dynamic = (
        {key for key, value in fields.items() if has_expression(value)}
        if has_expression(fields)
        else ()
    )
    static = (
        {key: value for key, value in fields.items() if key not in dynamic} if dynamic else fields
    )
    try:
        instance = model.model_validate(static)
        if validated is not None and not dynamic:
            validated[node.id] = instance
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error.get("loc", ()))
            if loc and loc[0] in dynamic:
                continue
            path = _format_loc(loc) or "(fields)"
            if error.get("type") == "missing":
                message = f"field {path!r} is required"
            elif error.get("type") == "extra_forbidden":
                message = f"field {path!r} is not a field of this node type"
            else:
                message = f"field {path!r}: {error.get('msg', 'invalid')}"
                if "input" in error and not isinstance(error["input"], dict | list):
                    message += f" (got {error['input']!r})"
            problems.append(_problem("field", node, message, field=path))
        return problems
    return []


def pinned_data_problems(node: Node, cls: type[NodeType]) -> list[Problem]:
    """Pinned data naming outputs the node's type does not have."""
    problems = []
    for port in node.data.pinnedData or {}:
        if cls.output_port(port) is None:
            names = ", ".join(p.name for p in cls.outputs) or "none"
            problems.append(
                _problem(
                    "pinned_data",
                    node,
                    f"pinned data names output {port!r}, which {cls.key!r} does not have "
                    f"(outputs: {names})",
                    field="pinnedData",
                )
            )
    return problems


def expression_problems(node: Node) -> list[Problem]:
    """Expressions in the node's fields that do not parse."""
    problems = []
    for path, text in iter_expressions(node.data.fields, ""):
        error = check_syntax(text)
        if error:
            problems.append(
                _problem(
                    "expression",
                    node,
                    f"field {path!r}: expression {shorten(text)!r} does not parse: {error}",
                    field=path,
                )
            )
    return problems


def credential_problem(
    node: Node, credential_type: str, resolver: CredentialResolver | Callable[..., Any] | None
) -> Problem | None:
    """Why the node's credential binding cannot be used, or None."""
    binding = node.data.credential or {}
    if not binding.get("integrationId") and (resolver is None or not binding):
        ref = binding.get("integration")
        if isinstance(ref, Mapping) and ref.get("name"):
            message = (
                f"needs a {credential_type!r} credential: the reference "
                f"{ref.get('type', credential_type)}/{ref['name']} is not bound to a stored one"
            )
        else:
            message = f"needs a {credential_type!r} credential and none is chosen"
        return _problem("credential", node, message, field="credential")
    if resolver is None:
        return None
    check = getattr(resolver, "problem", None)
    reason = check(binding, credential_type) if check else resolver(binding, credential_type)
    if reason:
        return _problem("credential", node, str(reason), field="credential")
    return None


def find_cycles(nodes: list[str], successors: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with a cycle (iterative Tarjan), in document order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = successors.get(node, [])
            recurse = False
            while child_i < len(children):
                child = children[child_i]
                child_i += 1
                if child not in index:
                    work.append((node, child_i))
                    work.append((child, 0))
                    recurse = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in successors.get(node, []):
                    order = {n: i for i, n in enumerate(nodes)}
                    cycles.append(sorted(component, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def preflight(
    document: WorkflowDocument,
    registry: NodeRegistry,
    *,
    credential_resolver: CredentialResolver | Callable[..., Any] | None = None,
    validated: dict[str, BaseModel] | None = None,
    disabled_types: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of ``document`` at once (an empty list means it may run).

    ``validated`` (optional, filled in): the field models of nodes without expressions,
    by node id, for :class:`~glyphic_desktop.engine.executor.Plan`.
    ``disabled_types``: disabled type keys, each mapped to what disabled it (default:
    ``GLYPHIC_DISABLE_NODES``; the runner adds the person's setting).
    """
    if disabled_types is None:
        from glyphic_desktop.engine.disabled_nodes import from_env

        disabled_types = from_env()
    problems: list[Problem] = []
    by_id: dict[str, Node] = {}
    types: dict[str, type[NodeType] | None] = {}
    for node in document.nodes:
        if node.id in by_id:
            problems.append(_problem("duplicate_id", node, "another node has the same id"))
            continue
        by_id[node.id] = node
        if node.type in disabled_types:
            problems.append(
                _problem(
                    "disabled_type",
                    node,
                    f"node type {node.type!r} is disabled by {disabled_types[node.type]}",
                )
            )
        cls = resolve_type(registry, node)
        types[node.id] = cls
        if cls is None:
            pinned = node_type_version(node)
            if pinned is not None and node.type in registry:
                known = ", ".join(map(str, registry.versions(node.type)))
                message = f"node type {node.type!r} has no version {pinned} (known: {known})"
            else:
                message = f"unknown node type {node.type!r}"
            problems.append(_problem("unknown_type", node, message))
            continue
        if node.data.pinnedData is not None:  # it never runs: only its pins are checked
            problems.extend(pinned_data_problems(node, cls))
            continue
        problems.extend(field_problems(node, cls.Fields, validated))
        if cls.credential_type:
            problem = credential_problem(node, cls.credential_type, credential_resolver)
            if problem:
                problems.append(problem)
        if has_expression(node.data.fields):
            problems.extend(expression_problems(node))

    successors: dict[str, list[str]] = {}
    connected: set[tuple[str, str]] = set()
    out_types: dict[str, dict[str, str]] = {}  # node id -> its outputs' types (per fields)
    for edge in document.edges:
        source = by_id.get(edge.source)
        target = by_id.get(edge.target)
        if source is None or target is None:
            missing = [
                f"{end} {node_id!r}"
                for end, node_id, node in (
                    ("source", edge.source, source),
                    ("target", edge.target, target),
                )
                if node is None
            ]
            message = f"edge {edge.id} is dangling: its {' and '.join(missing)} is not a node"
            anchor = source or target
            if anchor is None:
                problems.append(Problem("dangling_edge", message, edge_id=edge.id))
            else:
                problems.append(_problem("dangling_edge", anchor, message, edge_id=edge.id))
            continue
        successors.setdefault(edge.source, []).append(edge.target)
        connected.add((edge.target, edge.targetHandle))
        source_cls, target_cls = types.get(edge.source), types.get(edge.target)
        out_port = source_cls.output_port(edge.sourceHandle) if source_cls else None
        in_port = target_cls.input_port(edge.targetHandle) if target_cls else None
        if source_cls is not None and out_port is None:
            problems.append(_unknown_port(edge, source, source_cls, "output"))
        if target_cls is not None and in_port is None:
            problems.append(_unknown_port(edge, target, target_cls, "input"))
        if out_port is None or in_port is None:
            continue
        given = out_types.get(source.id)
        if given is None:
            given = out_types[source.id] = output_port_types(source_cls, source.data.fields)
        out_type = given.get(out_port.name, out_port.type)
        if not ports_compatible(out_type, in_port.type):
            problems.append(
                _problem(
                    "port_type",
                    target,
                    f"edge {edge.id} connects {source.describe()} output "
                    f"{out_port.name!r} ({out_type}) to input {in_port.name!r} "
                    f"({in_port.type}): {mismatch_reason(out_type, in_port.type)}",
                    edge_id=edge.id,
                )
            )

    for node_id, cls in types.items():
        if cls is None:
            continue
        for port in cls.inputs:
            if port.required and (node_id, port.name) not in connected:
                problems.append(
                    _problem(
                        "required_input",
                        by_id[node_id],
                        f"input {port.name!r} must be connected",
                    )
                )

    for cycle in find_cycles(list(by_id), successors):
        first = by_id[cycle[0]]
        names = ", ".join(by_id[n].describe() for n in cycle)
        problems.append(_problem("cycle", first, f"is on a cycle through {names}"))
    return problems


def ensure_runnable(
    document: WorkflowDocument,
    registry: NodeRegistry,
    *,
    credential_resolver: CredentialResolver | Callable[..., Any] | None = None,
    name: str | None = None,
) -> None:
    """Raise :class:`PreflightFailed` when :func:`preflight` finds anything."""
    problems = preflight(document, registry, credential_resolver=credential_resolver)
    if problems:
        raise PreflightFailed(problems, name)
