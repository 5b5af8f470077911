"""Flow nodes: If, Switch, Merge, Delay and Stop with error.

Loop over items and Run sub-workflow need engine services and live in ``flow_graph.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin.conditions import ConditionError, Operator, evaluate
from glyphic_desktop.nodes.registry import register_node

#: How many rule outputs a Switch declares (ports are static: case_0 … case_7).
SWITCH_MAX_RULES = 8
#: How many inputs a Merge declares (input_1 … input_4).
MERGE_INPUTS = 4


class IfFields(BaseModel):
    """Fields of the If node: ``value <operator> compare_to``, the condition tested when
    nothing is wired to the node's ``condition`` input (a wired one decides instead)."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(
        default=None,
        description=(
            "The value to test, usually an expression such as {{ input.status }}. "
            "Ignored, with operator and compare_to, when a wire feeds the Condition input."
        ),
    )
    operator: Operator = Field(default="equals", description="How to compare.")
    compare_to: Any = Field(
        default=None, description="The value to compare with (unused by is_empty / is_true …)."
    )
    case_sensitive: bool = Field(default=True, description="Compare texts case-sensitively.")


@register_node
class IfNode(NodeType):
    """Routes its input to ``true`` or ``false``; the other branch is skipped.

    The optional ``condition`` input (``boolean``) decides when a wire feeds it: the
    fields' test is then not used, and a value that is not a real ``true``/``false``
    fails the node. Unwired, the fields decide (as before the port existed: old
    workflows run unchanged).
    """

    key: ClassVar[str] = "if"
    title: ClassVar[str] = "If"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "git-branch"
    description: ClassVar[str] = (
        "Tests a condition and passes its input on to the true or the false output. "
        "A true/false wired to the Condition input decides instead of the fields."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("input", "any", "Input"),
        PortSpec("condition", "boolean", "Condition"),
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("true", "any", "True"),
        PortSpec("false", "any", "False"),
    )
    Fields: ClassVar[type[BaseModel]] = IfFields
    # A wired condition decides: the fields' expressions are not even rendered.
    fields_unused_with: ClassVar[tuple[str, ...]] = ("condition",)

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Evaluate the condition; only the taken output is in the result."""
        if "condition" in ctx.inputs:  # a wire feeds it: it decides, the fields do not
            decided = ctx.inputs["condition"]
            if not isinstance(decided, bool):
                raise NodeError(
                    f"input 'condition' takes true/false (a boolean), got {_json_kind(decided)}"
                )
            return {"true" if decided else "false": ctx.input}
        fields: IfFields = ctx.fields  # type: ignore[assignment]
        try:
            taken = evaluate(
                fields.value,
                fields.operator,
                fields.compare_to,
                case_sensitive=fields.case_sensitive,
            )
        except ConditionError as exc:
            raise NodeError(f"condition cannot be evaluated: {exc}", field="value") from exc
        return {"true" if taken else "false": ctx.input}


def _json_kind(value: Any) -> str:
    """How a value is named in a type error: ``text ('yes')``, ``a number (1)``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:19] + "…"
        return f"text ({shown!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, list | tuple):
        return f"a list ({len(value)} values)"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


class SwitchRule(BaseModel):
    """One Switch rule: ``value <operator> compare_to`` sends the input to its output."""

    model_config = ConfigDict(extra="forbid")

    operator: Operator = Field(default="equals", description="How to compare.")
    compare_to: Any = Field(default=None, description="The value this rule compares with.")
    label: str = Field(default="", description="A name for the rule's output.")


class SwitchFields(BaseModel):
    """Fields of the Switch node: one value tested against ordered rules."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(default=None, description="The value to route on, e.g. {{ input.kind }}.")
    rules: list[SwitchRule] = Field(
        default_factory=list,
        max_length=SWITCH_MAX_RULES,
        description=f"Ordered rules (at most {SWITCH_MAX_RULES}); rule N feeds output case_N.",
    )
    all_matches: bool = Field(
        default=False,
        description="Send the input to every matching rule's output, not only the first.",
    )
    case_sensitive: bool = Field(default=True, description="Compare texts case-sensitively.")


@register_node
class SwitchNode(NodeType):
    """Routes its input to the output of the first matching rule, else to ``fallback``."""

    key: ClassVar[str] = "switch"
    title: ClassVar[str] = "Switch"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "switch"
    description: ClassVar[str] = (
        "Tests ordered rules; the input goes to the first matching rule's output "
        "(case_0 … case_7), or to fallback when none matches."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Input"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        *(PortSpec(f"case_{i}", "any", f"Rule {i}") for i in range(SWITCH_MAX_RULES)),
        PortSpec("fallback", "any", "Fallback"),
    )
    Fields: ClassVar[type[BaseModel]] = SwitchFields

    @classmethod
    def output_labels(cls, fields: Mapping[str, Any]) -> dict[str, str]:
        """Rule N's output is named after the rule: its ``label``, else its test
        (``equals 'paid'``); outputs of rules not configured keep "Rule N"."""
        labels = super().output_labels(fields)
        rules = fields.get("rules") if isinstance(fields, Mapping) else None
        if not isinstance(rules, list):
            return labels
        for index, rule in enumerate(rules[:SWITCH_MAX_RULES]):
            if isinstance(rule, Mapping):
                labels[f"case_{index}"] = _rule_label(rule) or labels[f"case_{index}"]
        return labels

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Evaluate the rules in order; untaken outputs are left out (skipped)."""
        fields: SwitchFields = ctx.fields  # type: ignore[assignment]
        taken: dict[str, Any] = {}
        for index, rule in enumerate(fields.rules):
            try:
                hit = evaluate(
                    fields.value,
                    rule.operator,
                    rule.compare_to,
                    case_sensitive=fields.case_sensitive,
                )
            except ConditionError as exc:
                raise NodeError(
                    f"rule {index} cannot be evaluated: {exc}", field=f"rules.{index}"
                ) from exc
            if hit:
                taken[f"case_{index}"] = ctx.input
                if not fields.all_matches:
                    break
        return taken or {"fallback": ctx.input}


_RULE_LABEL_CHARS = 40


def _rule_label(rule: Mapping[str, Any]) -> str:
    """A Switch rule's name: its label, else ``<operator> <compare_to>``, shortened."""
    label = rule.get("label")
    if isinstance(label, str) and label.strip():
        text = label.strip()
    else:
        operator = str(rule.get("operator") or "equals").replace("_", " ")
        compare = rule.get("compare_to")
        text = operator if compare is None else f"{operator} {compare!r}"
    if len(text) > _RULE_LABEL_CHARS:
        text = text[: _RULE_LABEL_CHARS - 1] + "…"
    return text


MergeMode = Literal["append", "by_key", "by_position"]


class MergeFields(BaseModel):
    """Fields of the Merge node."""

    model_config = ConfigDict(extra="forbid")

    mode: MergeMode = Field(
        default="append",
        description=(
            "append: all items one after another; by_key: objects with the same key value "
            "merged into one; by_position: the n-th items of every input merged into one."
        ),
    )
    key: str = Field(default="id", description="The field matched by the by_key mode.")
    keep_unmatched: bool = Field(
        default=True,
        description="by_key: keep items whose key appears in one input only.",
    )


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@register_node
class MergeNode(NodeType):
    """Waits for every connected input, then combines them (append / by key / by position).

    Only inputs present in ``ctx.inputs`` take part, in port order: an input whose branch
    was skipped (or that is not connected) contributes nothing.
    """

    key: ClassVar[str] = "merge"
    title: ClassVar[str] = "Merge"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "merge"
    description: ClassVar[str] = (
        "Waits for every connected input and combines their items into one list."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = tuple(
        PortSpec(f"input_{i}", "any", f"Input {i}") for i in range(1, MERGE_INPUTS + 1)
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "array", "Merged"),)
    Fields: ClassVar[type[BaseModel]] = MergeFields
    runs_on_partial_skip: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Combine the arrived inputs according to ``mode``."""
        fields: MergeFields = ctx.fields  # type: ignore[assignment]
        arrived = [
            (port.name, _items(ctx.inputs[port.name]))
            for port in self.inputs
            if port.name in ctx.inputs
        ]
        if fields.mode == "append":
            return {"output": [item for _, items in arrived for item in items]}
        if fields.mode == "by_position":
            return {"output": _by_position(arrived)}
        return {"output": _by_key(arrived, fields.key, fields.keep_unmatched)}


def _by_position(arrived: list[tuple[str, list[Any]]]) -> list[Any]:
    length = max((len(items) for _, items in arrived), default=0)
    merged: list[Any] = []
    for position in range(length):
        row = [items[position] for _, items in arrived if position < len(items)]
        if all(isinstance(item, Mapping) for item in row):
            combined: dict[str, Any] = {}
            for item in row:
                combined.update(item)
            merged.append(combined)
        else:
            merged.append(row)
    return merged


def _by_key(arrived: list[tuple[str, list[Any]]], key: str, keep_unmatched: bool) -> list[Any]:
    merged: dict[Any, dict[str, Any]] = {}
    seen_in: dict[Any, set[str]] = {}
    for port, items in arrived:
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise NodeError(
                    f"by_key needs objects, but item {index} of {port} is {type(item).__name__}",
                    field="mode",
                )
            if key not in item:
                raise NodeError(f"item {index} of {port} has no field {key!r}", field="key")
            value = item[key]
            marker = repr(value) if isinstance(value, list | dict) else value
            merged.setdefault(marker, {}).update(item)
            seen_in.setdefault(marker, set()).add(port)
    if keep_unmatched or len(arrived) < 2:
        return list(merged.values())
    return [item for marker, item in merged.items() if len(seen_in[marker]) == len(arrived)]


class DelayFields(BaseModel):
    """Fields of the Delay node."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(
        default=1.0, ge=0, le=7 * 24 * 3600, description="How long to wait (up to a week)."
    )


@register_node
class DelayNode(NodeType):
    """Waits, then passes its input on; cancelling the run ends the wait at once."""

    key: ClassVar[str] = "delay"
    title: ClassVar[str] = "Delay"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "hourglass"
    description: ClassVar[str] = "Waits a number of seconds, then passes its input on."
    Fields: ClassVar[type[BaseModel]] = DelayFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Sleep ``seconds`` (cancellable) and pass the input through."""
        fields: DelayFields = ctx.fields  # type: ignore[assignment]
        await asyncio.sleep(fields.seconds)
        return {"output": ctx.input}


class StopErrorFields(BaseModel):
    """Fields of the Stop with error node."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        default="Workflow stopped",
        min_length=1,
        description="The error message the run fails with.",
        json_schema_extra={"widget": "multiline"},
    )


@register_node
class StopErrorNode(NodeType):
    """Fails the run with the given message when reached."""

    key: ClassVar[str] = "stop_error"
    title: ClassVar[str] = "Stop with error"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "octagon-alert"
    description: ClassVar[str] = "Fails the run with a message of your choice."
    outputs: ClassVar[tuple[PortSpec, ...]] = ()
    Fields: ClassVar[type[BaseModel]] = StopErrorFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Raise the configured message as a node error."""
        fields: StopErrorFields = ctx.fields  # type: ignore[assignment]
        raise NodeError(fields.message, field="message")
