"""Transform nodes over items: Filter, Sort, Limit, Aggregate, Summarize, Split Out,
Remove Duplicates and Compare Datasets.

A list of objects is a list of items; one object is one item; no input is no item. Each
node outputs a list (Aggregate one object) and never modifies its input. Fields are read
by dotted paths (``customer.name``, ``tags.0``).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import statistics
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import service
from glyphic_desktop.nodes.builtin.conditions import ConditionError, Operator, evaluate
from glyphic_desktop.nodes.builtin.items import (
    MISSING,
    as_items,
    clean_paths,
    freeze,
    get_path,
    natural_key,
    object_items,
)
from glyphic_desktop.nodes.registry import register_node

_ITEMS_IN = (PortSpec("input", "any", "Items"),)
_ITEMS_OUT = (PortSpec("output", "array", "Items"),)


# -- Filter ----------------------------------------------------------------------------


class FilterCondition(BaseModel):
    """One test of an item: ``item.<field> <operator> compare_to`` (the If node's operators)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        default="", description="The item's field (dots for nesting); empty: the item."
    )
    operator: Operator = Field(default="equals", description="How to compare.")
    compare_to: Any = Field(default=None, description="The value to compare with.")


class FilterFields(BaseModel):
    """Fields of the Filter node."""

    model_config = ConfigDict(extra="forbid")

    conditions: list[FilterCondition] = Field(
        default_factory=list, description="The tests; no test keeps every item."
    )
    combine: Literal["all", "any"] = Field(
        default="all", description="all: every test must hold; any: one is enough."
    )
    mode: Literal["keep", "discard"] = Field(
        default="keep", description="keep the matching items, or discard them."
    )
    case_sensitive: bool = Field(default=True, description="Compare texts case-sensitively.")


def _matches(item: Any, condition: FilterCondition, case_sensitive: bool) -> bool:
    value = get_path(item, condition.field, None)
    try:
        return evaluate(
            value, condition.operator, condition.compare_to, case_sensitive=case_sensitive
        )
    except ConditionError:
        return False  # a value that cannot be compared (a missing field, a mixed type) fails


@register_node
class FilterNode(NodeType):
    """Keeps (or discards) the items matching conditions; the others go to ``discarded``.

    A test that cannot be decided for an item (``gt`` on a missing field or a text that
    is no number) counts as not matching. One object in is one item; None is no item.
    """

    key: ClassVar[str] = "filter"
    title: ClassVar[str] = "Filter"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "filter"
    summary_field: ClassVar[str] = "conditions"
    description: ClassVar[str] = "Keeps or discards the items that match conditions."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("output", "array", "Kept"),
        PortSpec("discarded", "array", "Discarded"),
    )
    Fields: ClassVar[type[BaseModel]] = FilterFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Split the items into kept and discarded."""
        fields: FilterFields = ctx.fields  # type: ignore[assignment]
        kept, discarded = filter_items(as_items(ctx.input), fields)
        return {"output": kept, "discarded": discarded}


def filter_items(items: list[Any], fields: FilterFields) -> tuple[list[Any], list[Any]]:
    """(kept, discarded) for ``items`` under ``fields``."""
    combine = all if fields.combine == "all" else any
    conditions, case = fields.conditions, fields.case_sensitive
    kept: list[Any] = []
    discarded: list[Any] = []
    for item in items:
        hit = combine(_matches(item, c, case) for c in conditions) if conditions else True
        (kept if hit == (fields.mode == "keep") else discarded).append(item)
    return kept, discarded


# -- Sort ------------------------------------------------------------------------------


class SortKey(BaseModel):
    """One sort key: a field and a direction."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="The item's field (dots for nesting).")
    direction: Literal["asc", "desc"] = Field(default="asc", description="asc or desc.")


class SortFields(BaseModel):
    """Fields of the Sort node."""

    model_config = ConfigDict(extra="forbid")

    keys: list[SortKey] = Field(
        default_factory=list, min_length=1, description="Sort by these fields, in order."
    )
    natural: bool = Field(
        default=True, description="Natural order for texts (item2 before item10, any case)."
    )


def _rank(value: Any, natural: bool) -> tuple[Any, ...]:
    """Numbers, then booleans, then texts, then anything else (as JSON)."""
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (2, natural_key(value) if natural else value)
    return (3, repr(freeze(value)))


@register_node
class SortNode(NodeType):
    """Sorts the items by one or more fields (stable).

    Items missing a field (or holding null) go last in either direction; mixed types sort
    numbers, then booleans, then texts, then the rest.
    """

    key: ClassVar[str] = "sort"
    title: ClassVar[str] = "Sort"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "arrow-up-down"
    summary_field: ClassVar[str] = "keys"
    description: ClassVar[str] = "Sorts the items by one or more fields (natural order for texts)."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_OUT
    Fields: ClassVar[type[BaseModel]] = SortFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Sort a copy of the item list."""
        return {"output": sort_items(as_items(ctx.input), ctx.fields)}  # type: ignore[arg-type]


def sort_items(items: list[Any], fields: SortFields) -> list[Any]:
    """``items`` sorted by ``fields.keys``: one sort on a composite key when every key
    goes the same way, else one stable sort per key (last key first)."""
    natural = fields.natural
    directions = {key.direction for key in fields.keys}
    if len(directions) == 1:
        descending = directions == {"desc"}
        present, missing = (1, 0) if descending else (0, 1)
        paths = [key.field for key in fields.keys]

        def composite(item: Any) -> tuple[Any, ...]:
            parts = []
            for path in paths:
                value = get_path(item, path, None)
                parts.append((missing, ()) if value is None else (present, _rank(value, natural)))
            return tuple(parts)

        return sorted(items, key=composite, reverse=descending)
    result = list(items)
    for key in reversed(fields.keys):
        pairs = [(get_path(i, key.field, None), i) for i in result]
        have = [(v, i) for v, i in pairs if v is not None]
        absent = [i for v, i in pairs if v is None]
        have.sort(key=lambda pair: _rank(pair[0], natural), reverse=key.direction == "desc")
        result = [i for _, i in have] + absent
    return result


# -- Limit -----------------------------------------------------------------------------


class LimitFields(BaseModel):
    """Fields of the Limit node."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=10, ge=0, description="How many items to keep.")
    keep: Literal["first", "last"] = Field(default="first", description="first or last N.")


@register_node
class LimitNode(NodeType):
    """Keeps the first (or last) N items."""

    key: ClassVar[str] = "limit"
    title: ClassVar[str] = "Limit"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "list-end"
    description: ClassVar[str] = "Keeps only the first or the last N items."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_OUT
    Fields: ClassVar[type[BaseModel]] = LimitFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Slice the items."""
        fields: LimitFields = ctx.fields  # type: ignore[assignment]
        items = as_items(ctx.input)
        if fields.count == 0:
            return {"output": []}
        return {
            "output": items[: fields.count] if fields.keep == "first" else items[-fields.count :]
        }


# -- Aggregate -------------------------------------------------------------------------


class AggregateFields(BaseModel):
    """Fields of the Aggregate node."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["field", "all"] = Field(
        default="field", description="field: one list of a field's values; all: every item."
    )
    field: str = Field(default="", description="The field to collect (mode field).")
    output_field: str = Field(
        default="", description="Name of the list (default: the field, or 'items')."
    )
    include_missing: bool = Field(
        default=False, description="Put null in the list for items without the field."
    )


@register_node
class AggregateNode(NodeType):
    """Turns all items into one item: a list of one field's values, or of the items."""

    key: ClassVar[str] = "aggregate"
    title: ClassVar[str] = "Aggregate"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "layers"
    summary_field: ClassVar[str] = "field"
    description: ClassVar[str] = "Collects a field of all items (or the items) into one item."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Item"),)
    Fields: ClassVar[type[BaseModel]] = AggregateFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Build the one output item."""
        fields: AggregateFields = ctx.fields  # type: ignore[assignment]
        items = as_items(ctx.input)
        if fields.mode == "all":
            return {"output": {fields.output_field or "items": copy.deepcopy(items)}}
        path = fields.field.strip()
        if not path:
            raise NodeError("field is empty: name the field to collect", field="field")
        values = []
        for item in items:
            value = get_path(item, path)
            if value is MISSING:
                if fields.include_missing:
                    values.append(None)
                continue
            values.append(copy.deepcopy(value))
        return {"output": {fields.output_field or path.rsplit(".", 1)[-1]: values}}


# -- Summarize -------------------------------------------------------------------------

SummaryOp = Literal["count", "sum", "min", "max", "mean", "concatenate", "count_distinct"]


class Summary(BaseModel):
    """One summary per group: ``op`` of ``field``, written as ``name`` (default op_field)."""

    model_config = ConfigDict(extra="forbid")

    op: SummaryOp = Field(default="count", description="What to compute.")
    field: str = Field(default="", description="The field (count without a field counts items).")
    name: str = Field(default="", description="Output field name (default: <op>_<field>).")
    separator: str = Field(default=", ", description="Separator of concatenate.")


class SummarizeFields(BaseModel):
    """Fields of the Summarize node."""

    model_config = ConfigDict(extra="forbid")

    group_by: list[str] = Field(default_factory=list, description="Group by these fields.")
    summaries: list[Summary] = Field(
        default_factory=lambda: [Summary()], description="What to compute per group."
    )

    _paths = field_validator("group_by")(classmethod(lambda cls, v: clean_paths(v)))


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def summarize_values(summary: Summary, items: list[Any]) -> Any:
    """The value of ``summary`` over one group's ``items``.

    Missing fields and nulls are left out; sum / min / max / mean take numbers (numeric
    texts too) and ignore the rest; min / max of a group without numbers compare texts;
    an empty group gives 0 for count / sum and null for the others.
    """
    if summary.op == "count" and not summary.field:
        return len(items)
    values = [v for v in (get_path(i, summary.field, None) for i in items) if v is not None]
    if summary.op == "count":
        return len(values)
    if summary.op == "count_distinct":
        return len({freeze(v) for v in values})
    if summary.op == "concatenate":
        return summary.separator.join(v if isinstance(v, str) else str(v) for v in values)
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if summary.op == "sum":
        return sum(numbers)
    if summary.op == "mean":
        return statistics.fmean(numbers) if numbers else None
    pick = min if summary.op == "min" else max
    if numbers:
        return pick(numbers)
    texts = [v for v in values if isinstance(v, str)]
    return pick(texts) if texts else None


@register_node
class SummarizeNode(NodeType):
    """Groups the items by fields and computes count / sum / min / max / mean /
    concatenate / count-distinct per group: one output item per group, in the order
    groups first appear (no group fields: one item for all)."""

    key: ClassVar[str] = "summarize"
    title: ClassVar[str] = "Summarize"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "sigma"
    summary_field: ClassVar[str] = "group_by"
    description: ClassVar[str] = "Groups items by fields with count, sum, min, max, mean, …"
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_OUT
    Fields: ClassVar[type[BaseModel]] = SummarizeFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Group, then summarize each group."""
        return {"output": summarize_items(as_items(ctx.input), ctx.fields)}  # type: ignore[arg-type]


def summarize_items(items: list[Any], fields: SummarizeFields) -> list[dict[str, Any]]:
    """One item per group of ``items`` (see :class:`SummarizeNode`)."""
    groups: dict[Any, tuple[list[Any], list[Any]]] = {}
    for item in items:
        values = [get_path(item, path, None) for path in fields.group_by]
        key = tuple(freeze(v) for v in values)
        if key not in groups:
            groups[key] = (values, [])
        groups[key][1].append(item)
    if not fields.group_by and not items:
        groups[()] = ([], [])
    result = []
    for values, members in groups.values():
        out: dict[str, Any] = {}
        for path, value in zip(fields.group_by, values, strict=True):
            out[path] = copy.deepcopy(value)
        for summary in fields.summaries:
            name = summary.name or (
                f"{summary.op}_{summary.field}" if summary.field else summary.op
            )
            out[name] = summarize_values(summary, members)
        result.append(out)
    return result


# -- Split Out -------------------------------------------------------------------------


class SplitOutFields(BaseModel):
    """Fields of the Split Out node."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="The list field to split into items.")
    keep_parent: bool = Field(
        default=False, description="Copy the item's other fields into every new item."
    )
    destination: str = Field(
        default="", description="Field name for values that are not objects (default: the field)."
    )


@register_node
class SplitOutNode(NodeType):
    """Turns a list field of each item into one item per element.

    An object element becomes the item (with the parent's other fields when
    ``keep_parent``); any other element is put under ``destination``. An item without
    the field gives no item; a field that is not a list counts as a one-element list.
    """

    key: ClassVar[str] = "split_out"
    title: ClassVar[str] = "Split Out"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "split"
    summary_field: ClassVar[str] = "field"
    description: ClassVar[str] = "Turns a list field into separate items."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_OUT
    Fields: ClassVar[type[BaseModel]] = SplitOutFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Split every item."""
        fields: SplitOutFields = ctx.fields  # type: ignore[assignment]
        path = fields.field.strip()
        top = path.split(".", 1)[0]
        name = fields.destination.strip() or path.rsplit(".", 1)[-1]
        result: list[Any] = []
        for item in as_items(ctx.input):
            value = get_path(item, path)
            if value is MISSING or value is None:
                continue
            elements = value if isinstance(value, list) else [value]
            parent = (
                {k: v for k, v in item.items() if k != top}
                if fields.keep_parent and isinstance(item, Mapping)
                else {}
            )
            for element in elements:
                new = copy.deepcopy(parent)
                if isinstance(element, Mapping):
                    new.update(copy.deepcopy(dict(element)))
                else:
                    new[name] = copy.deepcopy(element)
                result.append(new)
        return {"output": result}


# -- Remove Duplicates -----------------------------------------------------------------


class RemoveDuplicatesFields(BaseModel):
    """Fields of the Remove Duplicates node."""

    model_config = ConfigDict(extra="forbid")

    compare: Literal["all", "fields"] = Field(
        default="all", description="all: whole items; fields: only the chosen fields."
    )
    fields: list[str] = Field(default_factory=list, description="The fields (compare: fields).")
    across_runs: bool = Field(
        default=False,
        description="Also drop items let through by earlier runs of this workflow (stored).",
    )
    remember: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="across_runs: how many keys to keep (the newest).",
    )

    _paths = field_validator("fields")(classmethod(lambda cls, v: clean_paths(v)))


@register_node
class RemoveDuplicatesNode(NodeType):
    """Keeps the first of each set of equal items (whole items or chosen fields; a missing
    field equals null; 1 equals 1.0); the others go to ``duplicates``.

    ``across_runs``: items whose key an earlier run of the same workflow let through go
    to ``duplicates`` too; the keys (SHA-256) are stored in the database per node, the
    newest ``remember`` of them kept (schema/0011, ``SeenKeys``).
    """

    key: ClassVar[str] = "remove_duplicates"
    title: ClassVar[str] = "Remove Duplicates"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "copy-minus"
    summary_field: ClassVar[str] = "fields"
    description: ClassVar[str] = "Drops items equal to an earlier item (all or chosen fields)."
    inputs: ClassVar[tuple[PortSpec, ...]] = _ITEMS_IN
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("output", "array", "Unique"),
        PortSpec("duplicates", "array", "Duplicates"),
    )
    Fields: ClassVar[type[BaseModel]] = RemoveDuplicatesFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """One pass, remembering the keys seen."""
        fields: RemoveDuplicatesFields = ctx.fields  # type: ignore[assignment]
        if fields.compare == "fields" and not fields.fields:
            raise NodeError("compare is 'fields' but no field is named", field="fields")
        seen: set[Any] = set()
        unique: list[tuple[Any, Any]] = []
        duplicates: list[Any] = []
        for item in as_items(ctx.input):
            if fields.compare == "all":
                key = freeze(item)
            else:
                key = tuple(freeze(get_path(item, p, None)) for p in fields.fields)
            if key in seen:
                duplicates.append(item)
            else:
                seen.add(key)
                unique.append((key, item))
        if not fields.across_runs or not unique:
            return {"output": [item for _, item in unique], "duplicates": duplicates}
        store = service(ctx, "seen_keys")
        if store is None:
            raise NodeError(
                "across_runs needs a run recorded in the database (the editor, glyphic run, "
                "the agent); this run is not",
                field="across_runs",
            )
        hashes = [hashlib.sha256(repr(key).encode("utf-8")).digest() for key, _ in unique]
        new = await asyncio.to_thread(store.remember, ctx.node.id, hashes, fields.remember)
        kept = []
        for digest, (_, item) in zip(hashes, unique, strict=True):
            (kept if digest in new else duplicates).append(item)
        if len(kept) < len(unique):
            ctx.log("info", f"{len(unique) - len(kept)} item(s) were seen in earlier runs")
        return {"output": kept, "duplicates": duplicates}


# -- Compare Datasets ------------------------------------------------------------------


class CompareFields(BaseModel):
    """Fields of the Compare Datasets node."""

    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(
        default_factory=lambda: ["id"], min_length=1, description="Fields that match A to B."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Fields left out when deciding same or different."
    )

    _paths = field_validator("keys", "ignore")(classmethod(lambda cls, v: clean_paths(v)))


@register_node
class CompareDatasetsNode(NodeType):
    """Matches the items of A and B by key fields and sends each to one of four outputs:
    ``a_only``, ``b_only``, ``same`` (the A item) and ``different`` (``{key, a, b,
    fields}``, ``fields`` naming the top-level fields that differ). Items without a key
    field are matched on null; a repeated key in one input matches its first item."""

    key: ClassVar[str] = "compare_datasets"
    title: ClassVar[str] = "Compare Datasets"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "git-compare"
    summary_field: ClassVar[str] = "keys"
    description: ClassVar[str] = (
        "Compares two inputs by key: in A only, in B only, same, different."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("a", "any", "A"),
        PortSpec("b", "any", "B"),
    )
    outputs: ClassVar[tuple[PortSpec, ...]] = (
        PortSpec("a_only", "array", "In A only"),
        PortSpec("b_only", "array", "In B only"),
        PortSpec("same", "array", "Same"),
        PortSpec("different", "array", "Different"),
    )
    Fields: ClassVar[type[BaseModel]] = CompareFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Index B by key, walk A."""
        fields: CompareFields = ctx.fields  # type: ignore[assignment]
        a_items = object_items(ctx.inputs.get("a"), "input A")
        b_items = object_items(ctx.inputs.get("b"), "input B")
        return compare_datasets(a_items, b_items, fields)


def _key(item: Mapping[str, Any], keys: list[str]) -> Any:
    return tuple(freeze(get_path(item, k, None)) for k in keys)


def compare_datasets(
    a_items: list[Mapping[str, Any]], b_items: list[Mapping[str, Any]], fields: CompareFields
) -> dict[str, list[Any]]:
    """The four outputs of Compare Datasets."""
    b_index: dict[Any, Mapping[str, Any]] = {}
    for item in b_items:
        b_index.setdefault(_key(item, fields.keys), item)
    ignored = set(fields.ignore)
    out: dict[str, list[Any]] = {"a_only": [], "b_only": [], "same": [], "different": []}
    matched: set[Any] = set()
    for a in a_items:
        key = _key(a, fields.keys)
        b = b_index.get(key)
        if b is None:
            out["a_only"].append(a)
            continue
        matched.add(key)
        names = [n for n in dict.fromkeys([*a, *b]) if n not in ignored]
        differ = [n for n in names if freeze(a.get(n)) != freeze(b.get(n))]
        if differ:
            key_value = {k: get_path(a, k, None) for k in fields.keys}
            out["different"].append({"key": key_value, "a": a, "b": b, "fields": differ})
        else:
            out["same"].append(a)
    out["b_only"] = [b for b in b_items if _key(b, fields.keys) not in matched]
    return out
