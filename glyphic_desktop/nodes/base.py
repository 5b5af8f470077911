"""The node-type contract: what every node type declares and what its ``run`` receives.

A node type is declarative data (key, title, category, ports, a pydantic model of its
fields, the credential type it needs, a ``version``) plus one async ``run``. The engine
builds a :class:`NodeContext` for each node it runs; the editor reads the declaration to
draw ports and build the inspector form. No Qt here.

``run`` returns a mapping of output-port name to value. For branching nodes (If, Switch)
an output port left out of the mapping is *not taken*: the nodes behind it are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from glyphic_desktop.document.model import Node

PortType = Literal["any", "string", "number", "boolean", "object", "array", "file"]
PORT_TYPES: frozenset[str] = frozenset(
    {"any", "string", "number", "boolean", "object", "array", "file"}
)
LogLevel = Literal["debug", "info", "warn", "error"]


@dataclass(frozen=True)
class PortSpec:
    """One declared input or output socket of a node type."""

    name: str
    type: PortType = "any"
    title: str = ""
    required: bool = False


def ports_compatible(source_type: str, target_type: str) -> bool:
    """Whether an output of ``source_type`` may feed an input of ``target_type``."""
    return source_type == target_type or "any" in (source_type, target_type)


class NoFields(BaseModel):
    """The field model of a node type without configuration."""

    model_config = ConfigDict(extra="forbid")


class RunLogger(Protocol):
    """Where a node writes its log lines (the engine fans them out to every sink)."""

    def __call__(self, level: LogLevel, message: str, data: Any | None = None) -> None: ...


@dataclass
class NodeContext:
    """Everything one run of one node may use.

    ``fields`` is the node type's field model, validated, with expressions rendered.
    ``inputs`` maps each connected input port to the value that arrived (see
    ``engine/executor.py`` for what several edges into one input deliver).
    ``credential`` is the decrypted credential (a dict) when the type needs one.
    """

    node: Node
    fields: BaseModel
    inputs: dict[str, Any]
    log: RunLogger
    credential: Mapping[str, Any] | None = None
    execution_id: str | None = None
    trigger: str = "manual"
    trigger_data: Any = None
    services: Any = None  # engine-provided services (sub-workflow runner, file store, settings)
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
    declaration or a duplicate key fails at import with a clear message.
    """

    key: ClassVar[str]
    version: ClassVar[int] = 1
    title: ClassVar[str]
    category: ClassVar[str]
    icon: ClassVar[str] = "node"
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output"),)
    Fields: ClassVar[type[BaseModel]] = NoFields
    credential_type: ClassVar[str | None] = None
    is_trigger: ClassVar[bool] = False

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Do the node's work and return ``{output_port: value}``."""
        raise NotImplementedError

    @classmethod
    def input_port(cls, name: str) -> PortSpec | None:
        """The declared input called ``name``."""
        return next((port for port in cls.inputs if port.name == name), None)

    @classmethod
    def output_port(cls, name: str) -> PortSpec | None:
        """The declared output called ``name``."""
        return next((port for port in cls.outputs if port.name == name), None)
