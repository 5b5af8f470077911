"""The node-type contract: what every node type declares and what its ``run`` receives.

A node type is declarative data (key, title, category, ports, a pydantic model of its
fields, the credential type it needs, a ``version``) plus one async ``run``. The engine
builds a :class:`NodeContext` for each node it runs; the editor reads the declaration to
draw ports and build the inspector form. No Qt here.

``run`` returns a mapping of output-port name to value. For branching nodes (If, Switch)
an output port left out of the mapping is *not taken*: the nodes behind it are skipped.
Returning ``None`` is the same as returning ``{}`` (no port taken).

Declaring a type (validated by ``nodes/registry.py`` when registered)::

    from glyphic_desktop.nodes.base import NodeContext, NodeType, PortSpec
    from glyphic_desktop.nodes.registry import register_node

    @register_node
    class SetFields(NodeType):
        key = "set"
        title = "Set fields"
        category = "Data"
        Fields = SetFieldsModel            # a pydantic BaseModel subclass

        async def run(self, ctx: NodeContext):
            return {"output": {**(ctx.input or {}), **ctx.fields.values}}

Versions: a type's ``version`` (an int ≥ 1) changes when its behaviour changes in a way
old workflows must not see. Several versions of one key may be registered; a node pins
one with ``data.typeVersion`` (the editor writes the newest version when it creates a
node); a node without ``data.typeVersion`` gets the newest registered version.

Engine attributes a type may set:

- ``is_trigger``: a start node (Manual, Schedule, Webhook); it outputs ``ctx.run_input``.
- ``runs_on_partial_skip``: a Merge-like node. A normal node is skipped as soon as one of
  its connected input ports is skipped; a Merge-like node runs when at least one input
  port received a value (the skipped ports are absent from ``ctx.inputs``) and is skipped
  only when all of them were skipped. See ``engine/executor.py`` for the full rules.
- ``body_ports``: output ports whose downstream nodes are a *body* the node runs itself
  (Loop over items) through ``ctx.services.run_subgraph``; the engine does not run those
  nodes on its own.
- ``fields_unused_with``: input ports that, when a value arrives on one of them, make the
  fields unused (If's ``condition``): the engine then does not render the fields'
  expressions and ``ctx.fields`` holds the model's defaults (not validated).

Trust attributes (``engine/trust.py``):

- ``runs_code``: the node runs code or commands (Code, Run command). Such nodes that came
  in from outside (an import, a paste, a file opened in the editor) leave the workflow
  untrusted until the person trusts them; a plugin type that runs anything it is given
  must set it.
- ``code_fields``: the fields holding that code or command; editing one of them in the
  editor trusts the node.

What ``ctx.services`` offers (an :class:`EngineServices`):

- ``track_process(proc)``: register a child process (``asyncio.subprocess.Process``,
  ``subprocess.Popen``, ``multiprocessing.Process``, ``psutil.Process`` or a pid). The
  engine kills it, and its children, when the node times out, fails, or the run is
  cancelled. A process that already exited is ignored.
- ``await run_subgraph(port, value)``: run the body behind output ``port`` once with
  ``value`` as the value leaving that port; returns a :class:`SubgraphResult`. Safe to
  call concurrently (a Loop with concurrency > 1 gathers several calls).
- ``await run_workflow(ref, input=None)``: run another workflow (a
  :class:`~glyphic_desktop.document.model.WorkflowDocument`, its dict, or a stored
  workflow's id / name) as a sub-workflow with ``input`` and return its result value
  (see :class:`SubgraphResult.value`). Sub-workflows nest up to ``max_depth`` (default
  10); deeper calls fail the node with a clear message (recursion guard).
- ``allowed_env``: the workflow's ``config.allowedEnv`` (variables a node's child process
  may inherit; see ``nodes/child_sandbox.py``).
- ``depth``: 0 for a top-level run, 1 inside a sub-workflow, ...
- ``cancelled``: whether the run is being cancelled (long loops inside a node may poll it).
- ``masker``: the run's SecretMasker (every credential loaded so far), or None; a node
  that shortens a text it got from outside masks it first (``_common.masked_clip``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

# Re-exported: the compatibility table lives in nodes/port_types.py.
from glyphic_desktop.nodes.port_types import mismatch_reason, ports_compatible  # noqa: F401

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node

PortType = Literal["any", "string", "number", "boolean", "object", "array", "file"]
PORT_TYPES: frozenset[str] = frozenset(
    {"any", "string", "number", "boolean", "object", "array", "file"}
)
LogLevel = Literal["debug", "info", "warn", "error"]

#: The header colour of each palette category (a type's ``color`` overrides it).
CATEGORY_COLORS: dict[str, str] = {
    "Triggers": "#e8833a",
    "Flow": "#8e6cd8",
    "Data": "#3a9fd8",
    "Network": "#22a88f",
    "Integrations": "#d6497c",
}
#: The colour of a category not in :data:`CATEGORY_COLORS` (plugins' own categories).
DEFAULT_COLOR = "#7f8a99"
_SUMMARY_CHARS = 80
ERROR_PORT = "error"


@dataclass(frozen=True)
class PortSpec:
    """One declared input or output socket of a node type."""

    name: str
    type: PortType = "any"
    title: str = ""
    required: bool = False


class NoFields(BaseModel):
    """The field model of a node type without configuration."""

    model_config = ConfigDict(extra="forbid")


class RunLogger(Protocol):
    """Where a node writes its log lines (the engine fans them out to every sink)."""

    def __call__(self, level: LogLevel, message: str, data: Any | None = None) -> None: ...


@dataclass(slots=True)
class SubgraphResult:
    """What one run of a body (``run_subgraph``) or a sub-workflow produced.

    ``outputs`` holds every node's outputs (``{node_id: {port: value}}``) of that run;
    ``leaves`` the ids of the nodes that ran and have no outgoing edges, in document
    order. ``value`` is the *result*: the primary output of the only leaf when there is
    one leaf, else ``{leaf label: primary output}``; ``None`` when no leaf ran.
    """

    outputs: dict[str, Mapping[str, Any]]
    leaves: list[str]
    value: Any = None

    def __repr__(self) -> str:  # never format the outputs (they may be huge)
        return f"SubgraphResult(leaves={self.leaves!r}, nodes={len(self.outputs)})"


class EngineServices(Protocol):
    """The engine's services offered to a running node as ``ctx.services``."""

    depth: int

    @property
    def cancelled(self) -> bool: ...

    def track_process(self, proc: Any) -> None: ...

    async def run_subgraph(self, port: str, value: Any) -> SubgraphResult: ...

    async def run_workflow(self, ref: Any, input: Any = None) -> Any: ...


@dataclass(slots=True)
class NodeContext:
    """Everything one run of one node may use.

    ``fields`` is the node type's field model, validated, with expressions rendered.
    ``inputs`` maps each connected input port to the value that arrived (see
    ``engine/executor.py`` for what several edges into one input deliver).
    ``run_input`` is the run's input (``glyphic run --input``, a webhook's request, a
    schedule's input data); trigger nodes output it.
    ``credential`` is the decrypted credential (a dict) when the type needs one.
    ``services`` is an :class:`EngineServices`.
    """

    node: Node
    fields: BaseModel
    inputs: dict[str, Any]
    log: RunLogger
    credential: Mapping[str, Any] | None = None
    execution_id: str | None = None
    trigger: str = "manual"
    trigger_data: Any = None
    services: Any = None
    run_input: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input(self) -> Any:
        """The value on the conventional ``input`` port (None when not connected)."""
        return self.inputs.get("input")


class NodeError(Exception):
    """A failure of one node with a message meant for the user (names the field where known)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NodeType:
    """Base class of every node type; subclasses declare the class attributes below.

    Subclasses are validated when they are registered (``nodes/registry.py``): a bad
    declaration or a duplicate key fails at import with a clear message. One instance
    per node type is made by the registry and shared by every node of that type, so
    ``run`` must keep its state in locals, not on ``self``.
    """

    key: ClassVar[str]
    version: ClassVar[int] = 1
    title: ClassVar[str]
    category: ClassVar[str]
    icon: ClassVar[str] = "node"
    #: ``#rrggbb`` of the node's header strip; empty: its category's colour.
    color: ClassVar[str] = ""
    #: The field the canvas shows under the title (e.g. an HTTP request's ``url``);
    #: empty: the first field.
    summary_field: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output"),)
    Fields: ClassVar[type[BaseModel]] = NoFields
    credential_type: ClassVar[str | None] = None
    is_trigger: ClassVar[bool] = False
    runs_on_partial_skip: ClassVar[bool] = False
    body_ports: ClassVar[tuple[str, ...]] = ()
    fields_unused_with: ClassVar[tuple[str, ...]] = ()
    runs_code: ClassVar[bool] = False
    code_fields: ClassVar[tuple[str, ...]] = ()

    async def run(self, ctx: NodeContext) -> Mapping[str, Any] | None:
        """Do the node's work and return ``{output_port: value}``."""
        raise NotImplementedError

    @classmethod
    def input_port(cls, name: str) -> PortSpec | None:
        """The declared input called ``name``."""
        return next((port for port in cls.inputs if port.name == name), None)

    @classmethod
    def output_port(cls, name: str) -> PortSpec | None:
        """The declared output called ``name``; every type has an implicit ``error`` output.

        The implicit ``error`` output (type ``object``) carries the error of a node whose
        ``data.onError`` is ``error_output``.
        """
        port = next((port for port in cls.outputs if port.name == name), None)
        if port is None and name == ERROR_PORT:
            return PortSpec(ERROR_PORT, "object", "Error")
        return port

    @classmethod
    def primary_output(cls) -> str | None:
        """The output a disabled node or an ``onError: continue`` node sends its value to.

        ``output`` when declared, else the first declared output that is not ``error``.
        """
        names = [port.name for port in cls.outputs if port.name != ERROR_PORT]
        if "output" in names:
            return "output"
        return names[0] if names else None

    @classmethod
    def header_color(cls) -> str:
        """The node's header colour: its own ``color``, else its category's."""
        return cls.color or CATEGORY_COLORS.get(cls.category, DEFAULT_COLOR)

    @classmethod
    def summary(cls, fields: Mapping[str, Any]) -> str:
        """The one line the canvas shows under the title for a node with these fields, as
        written in the document (an expression is shown as written; never raises)."""
        name = cls.summary_field or next(iter(cls.Fields.model_fields), "")
        if name and name not in fields:
            declared = cls.Fields.model_fields.get(name)
            default = (
                None
                if declared is None or declared.is_required()
                else declared.get_default(call_default_factory=True)
            )
            return field_summary({name: default}, name)
        return field_summary(fields, name)

    @classmethod
    def output_labels(cls, fields: Mapping[str, Any]) -> dict[str, str]:
        """The label of each output port for a node with these fields, as written in the
        document (they may hold expressions or be invalid: never raise). The default is
        each port's title (else its name); Switch names its outputs after its rules.
        ``nodes/ports.py``'s ``output_port_labels(node)`` is the call for a document node.
        """
        return {port.name: port.title or port.name for port in cls.outputs}

    @classmethod
    def output_types(cls, fields: Mapping[str, Any]) -> dict[str, str]:
        """The data type each output port carries for a node with these fields, as written
        in the document (they may hold expressions or be invalid: never raise, never
        validate: the canvas asks on every field edit). The default is each port's declared
        type; GitHub says ``array`` for its list operations. Ports left out keep their
        declared type. ``nodes/ports.py``'s :func:`output_port_types` is the call everyone
        makes (the editor's connect check and hover feedback, preflight).
        """
        return {port.name: port.type for port in cls.outputs}


def field_summary(fields: Mapping[str, Any], name: str = "") -> str:
    """One line for ``fields[name]`` (the first field when ``name`` is empty or absent):
    a text as it is, anything else as ``name: JSON``, an empty value as ``name: not set``;
    at most 80 characters."""
    import json

    if not name or name not in fields:
        name = next(iter(fields), "")
    if not name:
        return ""
    value = fields[name]
    if value is None or value == "" or value == [] or value == {}:
        return f"{name}: not set"
    if isinstance(value, str):
        text = value
    else:
        try:
            text = f"{name}: {json.dumps(value, ensure_ascii=False, default=str)}"
        except (TypeError, ValueError):
            text = f"{name}: {value!r}"
    text = " ".join(text[: _SUMMARY_CHARS * 2].split())
    return text[:_SUMMARY_CHARS]
