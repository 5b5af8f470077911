"""The workflow document: pydantic v2 models of the workflow JSON of data-model.md.

Every model keeps unknown keys (``extra="allow"``) so a file written by a newer
version or another tool loses nothing on a load/save round trip. ``edges`` are the
truth about connections; the ports' ``link`` / ``links`` are derived from them by
:meth:`WorkflowDocument.to_data`.

Additions to the seed's shape (all optional, all under ``data``): ``disabled``,
``retries``, ``retryDelay``, ``timeout``, ``onError`` and ``credential``, the
per-node engine settings of DESIGN.md §5 and the credential binding of §8; and
``pinnedData``, the node's pinned output (``{output port: value}``): a node with pinned
data does not run, its pinned output flows on (ports left out are not taken). Export
can leave pins out (``glyphic export --strip-pins``) and masks secrets found in them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

PortType = Literal["any", "string", "number", "boolean", "object", "array", "file"]
OnError = Literal["stop", "continue", "error_output"]


class _Open(BaseModel):
    """Base for every document model: unknown keys are kept, assignment is validated."""

    # coerce_numbers_to_str: integer ids from older (ComfyUI-shaped) files become strings.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class InputPort(_Open):
    """An input socket; ``link`` is derived from the edges on save."""

    name: str
    type: str = "any"
    link: int | None = None


class OutputPort(_Open):
    """An output socket; ``links`` is derived from the edges on save."""

    name: str
    type: str = "any"
    links: list[int] = Field(default_factory=list)

    @field_validator("links", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def _is_none(value: Any) -> bool:
    return value is None


def _is_false(value: Any) -> bool:
    return value is False


def _is_zero(value: Any) -> bool:
    return value == 0


def _is_one(value: Any) -> bool:
    return value == 1.0


def _is_stop(value: Any) -> bool:
    return value == "stop"


class NodeData(_Open):
    """A node's title, type mirror, configuration and engine settings."""

    label: str = ""
    nodeType: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    # Engine settings at their defaults are left out of the JSON, keeping the seed's shape.
    disabled: bool = Field(default=False, exclude_if=_is_false)
    retries: int = Field(default=0, ge=0, le=100, exclude_if=_is_zero)
    retryDelay: float = Field(default=1.0, ge=0, exclude_if=_is_one)
    timeout: float | None = Field(default=None, gt=0, exclude_if=_is_none)
    onError: OnError = Field(default="stop", exclude_if=_is_stop)
    credential: dict[str, Any] | None = Field(default=None, exclude_if=_is_none)
    # Pinned output, {output port: value}; absent (None) when the node is not pinned.
    pinnedData: dict[str, Any] | None = Field(default=None, exclude_if=_is_none)


class Node(_Open):
    """One node of the graph."""

    id: str
    type: str
    pos: list[float] = Field(default_factory=lambda: [0.0, 0.0], min_length=2, max_length=2)
    size: list[float] | None = Field(default=None, min_length=2, max_length=2, exclude_if=_is_none)
    data: NodeData = Field(default_factory=NodeData)
    inputs: list[InputPort] = Field(default_factory=list)
    outputs: list[OutputPort] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """The node's title, falling back to its id."""
        return self.data.label or self.id

    def describe(self) -> str:
        """``node 'Label' (id)`` as used in user-facing messages."""
        return f"node {self.label!r} ({self.id})" if self.data.label else f"node {self.id}"


class Edge(_Open):
    """A connection from ``source``'s output ``sourceHandle`` to ``target``'s ``targetHandle``."""

    id: int
    source: str
    sourceHandle: str = "output"
    target: str
    targetHandle: str = "input"
    type: str = "any"


class Group(_Open):
    """A titled frame drawn behind the nodes inside ``bounding`` = [x, y, width, height]."""

    id: str | None = None
    title: str = "Group"
    bounding: list[float] = Field(
        default_factory=lambda: [0.0, 0.0, 300.0, 200.0], min_length=4, max_length=4
    )
    color: str | None = None


class WorkflowDocument(_Open):
    """The whole workflow JSON stored in ``workflows.workflow_data``."""

    id: str | None = None
    revision: int = 0
    last_node_id: int = 0
    last_link_id: int = 0
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    # -- lookups -----------------------------------------------------------------

    def find_node(self, node_id: str) -> Node | None:
        """The node with ``node_id``, or None."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    # -- ids ---------------------------------------------------------------------

    def next_node_id(self) -> str:
        """Reserve and return a fresh node id (``last_node_id`` only grows)."""
        self.last_node_id += 1
        return str(self.last_node_id)

    def next_link_id(self) -> int:
        """Reserve and return a fresh edge id (``last_link_id`` only grows)."""
        self.last_link_id += 1
        return self.last_link_id

    # -- serialisation -----------------------------------------------------------

    def _links_from_edges(
        self,
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], list[int]]]:
        """What the ports' links should be: ``(node, input) -> edge id`` (the last edge
        into an input wins) and ``(node, output) -> [edge ids]`` in edge order."""
        inputs: dict[tuple[str, str], int] = {}
        outputs: dict[tuple[str, str], list[int]] = {}
        for edge in self.edges:
            inputs[(edge.target, edge.targetHandle)] = edge.id
            outputs.setdefault((edge.source, edge.sourceHandle), []).append(edge.id)
        return inputs, outputs

    def port_links_in_sync(self) -> bool:
        """Whether every port's ``link`` / ``links`` already matches the edges.

        Reads only: much cheaper than :meth:`sync_port_links`, which assigns every port
        (through pydantic's ``__setattr__``).
        """
        inputs, outputs = self._links_from_edges()
        for node in self.nodes:
            node_id = node.id
            for port in node.inputs:
                if port.link != inputs.get((node_id, port.name)):
                    return False
            for port in node.outputs:
                if port.links != outputs.get((node_id, port.name), []):
                    return False
        return True

    def sync_port_links(self) -> None:
        """Rewrite every port's ``link`` / ``links`` from the edges (the edges are the truth)."""
        inputs, outputs = self._links_from_edges()
        for node in self.nodes:
            for port in node.inputs:
                port.link = inputs.get((node.id, port.name))
            for port in node.outputs:
                port.links = outputs.get((node.id, port.name), [])

    def to_data(self) -> dict[str, Any]:
        """The JSON-ready dict, with port links derived from the edges."""
        self.sync_port_links()
        return self.model_dump(mode="json", exclude_unset=False)

    def to_json_text(self, indent: int | None = 2) -> str:
        """The document as JSON text."""
        import json

        return json.dumps(self.to_data(), indent=indent, ensure_ascii=False)
