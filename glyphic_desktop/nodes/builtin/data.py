"""Data nodes without side effects outside the run: Set fields and Log."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.registry import register_node


class FieldAssignment(BaseModel):
    """One field the Set node writes: ``name`` (dots for nesting, ``a.b``) = ``value``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Field name; a.b.c sets a nested field.")
    value: Any = Field(default=None, description="The value (an expression keeps its type).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(not part for part in value.split(".")):
            raise ValueError(f"field name {value!r} has an empty part")
        return value


class SetFields(BaseModel):
    """Fields of the Set fields node."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldAssignment] = Field(
        default_factory=list, description="The fields to set on the item, in order."
    )
    keep_other_fields: bool = Field(
        default=True, description="Keep the input's other fields (else output only these)."
    )


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``target[a][b]…`` for ``dotted`` = ``a.b…``, making objects on the way."""
    parts = dotted.split(".")
    here = target
    for depth, part in enumerate(parts[:-1]):
        child = here.get(part)
        if not isinstance(child, dict):
            if child is not None:
                where = ".".join(parts[: depth + 1])
                raise NodeError(
                    f"cannot set {dotted!r}: {where!r} holds a {type(child).__name__}, "
                    "not an object",
                    field="fields",
                )
            child = here[part] = {}
        here = child
    here[parts[-1]] = value


@register_node
class SetNode(NodeType):
    """Sets fields on the input object (or on every object of an input list)."""

    key: ClassVar[str] = "set"
    title: ClassVar[str] = "Set fields"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "pencil"
    description: ClassVar[str] = (
        "Adds or replaces fields on the item (each object of a list); dots make nested fields."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Item"),)
    Fields: ClassVar[type[BaseModel]] = SetFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Apply the assignments to a copy of the input (never modifies the input)."""
        fields: SetFields = ctx.fields  # type: ignore[assignment]
        value = ctx.input
        if isinstance(value, list):
            return {"output": [self._apply(fields, item) for item in value]}
        return {"output": self._apply(fields, value)}

    @staticmethod
    def _apply(fields: SetFields, item: Any) -> dict[str, Any]:
        base = (
            copy.deepcopy(dict(item))
            if fields.keep_other_fields and isinstance(item, Mapping)
            else {}
        )
        for assignment in fields.fields:
            set_path(base, assignment.name, copy.deepcopy(assignment.value))
        return base


class LogFields(BaseModel):
    """Fields of the Log node."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["debug", "info", "warn", "error"] = Field(
        default="info", description="Log level of the line."
    )
    message: str = Field(
        default="{{ input }}",
        description="The line to write; expressions such as {{ input.name }} are filled in.",
        json_schema_extra={"widget": "multiline"},
    )
    include_input: bool = Field(
        default=False, description="Attach the input as the log line's data."
    )

    @field_validator("message", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, int | float | bool) or value is None:
            return "" if value is None else str(value)
        return value


@register_node
class LogNode(NodeType):
    """Writes one line to the run's log and passes its input on unchanged."""

    key: ClassVar[str] = "log"
    title: ClassVar[str] = "Log"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "scroll-text"
    summary_field: ClassVar[str] = "message"
    description: ClassVar[str] = "Writes a message to the run log and passes its input on."
    Fields: ClassVar[type[BaseModel]] = LogFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Log the message at the chosen level."""
        fields: LogFields = ctx.fields  # type: ignore[assignment]
        ctx.log(fields.level, fields.message, ctx.input if fields.include_input else None)
        return {"output": ctx.input}
