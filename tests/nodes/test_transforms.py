"""Transform nodes: golden input -> output, and their edge cases (missing fields, mixed
types, empty input)."""

from __future__ import annotations

import pytest
from node_helpers import execute_doc, run_node, workflow
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.transforms import (
    AggregateNode,
    CompareDatasetsNode,
    FilterNode,
    LimitNode,
    RemoveDuplicatesNode,
    SortNode,
    SplitOutNode,
    SummarizeNode,
)

ORDERS = [
    {"id": 1, "customer": "ann", "total": 30, "status": "paid", "tags": ["a", "b"]},
    {"id": 2, "customer": "bob", "total": "12.5", "status": "open"},
    {"id": 3, "customer": "ann", "total": 7, "status": "paid", "tags": []},
    {"id": 4, "customer": "cy", "status": "paid"},
]


# -- Filter ------------------------------------------------------------------------------


def test_filter_keeps_matching_items_and_sends_the_rest_to_discarded() -> None:
    fields = {"conditions": [{"field": "status", "operator": "equals", "compare_to": "paid"}]}
    out = run_node(FilterNode, fields, inputs={"input": ORDERS}).outputs
    assert [i["id"] for i in out["output"]] == [1, 3, 4]
    assert [i["id"] for i in out["discarded"]] == [2]


def test_filter_all_any_and_discard_with_mixed_and_missing_values() -> None:
    gt = {"field": "total", "operator": "gt", "compare_to": 10}
    paid = {"field": "status", "operator": "equals", "compare_to": "paid"}
    # "12.5" is a number as text (as the If node reads it); a missing total never matches gt
    both = run_node(FilterNode, {"conditions": [gt, paid]}, inputs={"input": ORDERS}).output
    assert [i["id"] for i in both] == [1]
    either = run_node(
        FilterNode, {"conditions": [gt, paid], "combine": "any"}, inputs={"input": ORDERS}
    ).output
    assert [i["id"] for i in either] == [1, 2, 3, 4]
    dropped = run_node(
        FilterNode, {"conditions": [gt], "mode": "discard"}, inputs={"input": ORDERS}
    ).output
    assert [i["id"] for i in dropped] == [3, 4]


def test_filter_nested_fields_case_and_one_object_and_empty_input() -> None:
    items = [{"u": {"name": "Ann"}}, {"u": {"name": "bob"}}, {"u": None}]
    cond = {"field": "u.name", "operator": "starts_with", "compare_to": "a"}
    out = run_node(
        FilterNode, {"conditions": [cond], "case_sensitive": False}, inputs={"input": items}
    ).output
    assert out == [{"u": {"name": "Ann"}}]
    single = run_node(FilterNode, {"conditions": [cond]}, inputs={"input": {"u": {"name": "a1"}}})
    assert single.output == [{"u": {"name": "a1"}}]
    empty = run_node(FilterNode, {"conditions": [cond]}, inputs={}).outputs
    assert empty == {"output": [], "discarded": []}
    assert run_node(FilterNode, {}, inputs={"input": [1, 2]}).output == [1, 2]


# -- Sort --------------------------------------------------------------------------------


def test_sort_natural_order_and_several_keys() -> None:
    items = [{"f": "item10"}, {"f": "Item2"}, {"f": "item1"}]
    out = run_node(SortNode, {"keys": [{"field": "f"}]}, inputs={"input": items}).output
    assert [i["f"] for i in out] == ["item1", "Item2", "item10"]
    plain = run_node(
        SortNode, {"keys": [{"field": "f"}], "natural": False}, inputs={"input": items}
    ).output
    assert [i["f"] for i in plain] == ["Item2", "item1", "item10"]
    by_two = run_node(
        SortNode,
        {"keys": [{"field": "customer"}, {"field": "total", "direction": "desc"}]},
        inputs={"input": ORDERS},
    ).output
    assert [i["id"] for i in by_two] == [1, 3, 2, 4]


def test_sort_several_keys_one_direction_is_stable_with_missing_values() -> None:
    items = [
        {"n": 1, "g": "b", "x": 2},
        {"n": 2, "g": "a"},
        {"n": 3, "g": "b", "x": 1},
        {"n": 4, "g": "a", "x": 5},
        {"n": 5, "g": "b", "x": 2},
        {"n": 6},
    ]
    up = run_node(SortNode, {"keys": [{"field": "g"}, {"field": "x"}]}, inputs={"input": items})
    assert [i["n"] for i in up.output] == [4, 2, 3, 1, 5, 6]
    down = run_node(
        SortNode,
        {"keys": [{"field": "g", "direction": "desc"}, {"field": "x", "direction": "desc"}]},
        inputs={"input": items},
    )
    assert [i["n"] for i in down.output] == [1, 5, 3, 4, 2, 6]


def test_sort_puts_missing_last_both_ways_and_ranks_mixed_types() -> None:
    items = [{"v": "b"}, {}, {"v": 3}, {"v": None}, {"v": True}, {"v": 1.5}, {"v": {"x": 1}}]
    up = run_node(SortNode, {"keys": [{"field": "v"}]}, inputs={"input": items}).output
    assert up == [{"v": 1.5}, {"v": 3}, {"v": True}, {"v": "b"}, {"v": {"x": 1}}, {}, {"v": None}]
    down = run_node(
        SortNode, {"keys": [{"field": "v", "direction": "desc"}]}, inputs={"input": items}
    ).output
    assert down[-2:] == [{}, {"v": None}] and down[0] == {"v": {"x": 1}}
    assert run_node(SortNode, {"keys": [{"field": "v"}]}, inputs={}).output == []
    with pytest.raises(ValidationError):
        SortNode.Fields.model_validate({"keys": []})


# -- Limit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"count": 2}, [1, 2]),
        ({"count": 2, "keep": "last"}, [3, 4]),
        ({"count": 0, "keep": "last"}, []),
        ({"count": 99}, [1, 2, 3, 4]),
    ],
)
def test_limit(fields: dict, expected: list[int]) -> None:
    out = run_node(LimitNode, fields, inputs={"input": ORDERS}).output
    assert [i["id"] for i in out] == expected


def test_limit_one_object_and_none() -> None:
    assert run_node(LimitNode, {"count": 1}, inputs={"input": {"a": 1}}).output == [{"a": 1}]
    assert run_node(LimitNode, {"count": 1}, inputs={"input": None}).output == []


# -- Aggregate ---------------------------------------------------------------------------


def test_aggregate_field_values_and_all_items() -> None:
    out = run_node(AggregateNode, {"field": "total"}, inputs={"input": ORDERS}).output
    assert out == {"total": [30, "12.5", 7]}
    with_missing = run_node(
        AggregateNode,
        {"field": "total", "include_missing": True, "output_field": "totals"},
        inputs={"input": ORDERS},
    ).output
    assert with_missing == {"totals": [30, "12.5", 7, None]}
    everything = run_node(AggregateNode, {"mode": "all"}, inputs={"input": ORDERS[:2]}).output
    assert everything == {"items": ORDERS[:2]}
    assert run_node(AggregateNode, {"field": "x"}, inputs={}).output == {"x": []}
    with pytest.raises(NodeError, match="field is empty"):
        run_node(AggregateNode, {}, inputs={"input": ORDERS})


# -- Summarize ---------------------------------------------------------------------------


def test_summarize_groups_golden() -> None:
    fields = {
        "group_by": ["customer"],
        "summaries": [
            {"op": "count"},
            {"op": "sum", "field": "total"},
            {"op": "min", "field": "total"},
            {"op": "max", "field": "total"},
            {"op": "mean", "field": "total", "name": "avg"},
            {"op": "concatenate", "field": "status", "separator": "|"},
            {"op": "count_distinct", "field": "status"},
        ],
    }
    out = run_node(SummarizeNode, fields, inputs={"input": ORDERS}).output
    assert out == [
        {
            "customer": "ann",
            "count": 2,
            "sum_total": 37,
            "min_total": 7,
            "max_total": 30,
            "avg": 18.5,
            "concatenate_status": "paid|paid",
            "count_distinct_status": 1,
        },
        {
            "customer": "bob",
            "count": 1,
            "sum_total": 12.5,
            "min_total": 12.5,
            "max_total": 12.5,
            "avg": 12.5,
            "concatenate_status": "open",
            "count_distinct_status": 1,
        },
        {
            "customer": "cy",
            "count": 1,
            "sum_total": 0,
            "min_total": None,
            "max_total": None,
            "avg": None,
            "concatenate_status": "paid",
            "count_distinct_status": 1,
        },
    ]


def test_summarize_without_groups_empty_input_and_texts() -> None:
    out = run_node(
        SummarizeNode,
        {"summaries": [{"op": "count"}, {"op": "sum", "field": "total"}]},
        inputs={"input": ORDERS},
    ).output
    assert out == [{"count": 4, "sum_total": 49.5}]
    empty = run_node(SummarizeNode, {}, inputs={"input": []}).output
    assert empty == [{"count": 0}]
    grouped_empty = run_node(SummarizeNode, {"group_by": ["x"]}, inputs={"input": []}).output
    assert grouped_empty == []
    names = run_node(
        SummarizeNode,
        {"summaries": [{"op": "max", "field": "customer"}]},
        inputs={"input": ORDERS},
    ).output
    assert names == [{"max_customer": "cy"}]
    # A missing group field groups as null
    by_tags = run_node(SummarizeNode, {"group_by": ["status", "zone"]}, inputs={"input": ORDERS})
    assert by_tags.output == [
        {"status": "paid", "zone": None, "count": 3},
        {"status": "open", "zone": None, "count": 1},
    ]


# -- Split Out ---------------------------------------------------------------------------


def test_split_out_values_objects_and_parents() -> None:
    out = run_node(SplitOutNode, {"field": "tags"}, inputs={"input": ORDERS}).output
    assert out == [{"tags": "a"}, {"tags": "b"}]
    kept = run_node(
        SplitOutNode,
        {"field": "tags", "keep_parent": True, "destination": "tag"},
        inputs={"input": ORDERS[0]},
    ).output
    assert kept == [
        {"id": 1, "customer": "ann", "total": 30, "status": "paid", "tag": "a"},
        {"id": 1, "customer": "ann", "total": 30, "status": "paid", "tag": "b"},
    ]
    lines = {"order": 7, "lines": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2}]}
    objects = run_node(
        SplitOutNode, {"field": "lines", "keep_parent": True}, inputs={"input": lines}
    ).output
    assert objects == [{"order": 7, "sku": "x", "qty": 1}, {"order": 7, "sku": "y", "qty": 2}]
    scalar = run_node(SplitOutNode, {"field": "a.b"}, inputs={"input": {"a": {"b": 5}}}).output
    assert scalar == [{"b": 5}]
    assert run_node(SplitOutNode, {"field": "x"}, inputs={}).output == []
    assert lines["lines"][0] == {"sku": "x", "qty": 1}  # the input is never modified


# -- Remove Duplicates -------------------------------------------------------------------


def test_remove_duplicates_whole_items_and_fields() -> None:
    items = [
        {"a": 1, "b": {"x": 1, "y": 2}},
        {"b": {"y": 2, "x": 1}, "a": 1.0},
        {"a": 2, "b": 1},
        {"a": 2},
    ]
    out = run_node(RemoveDuplicatesNode, {}, inputs={"input": items}).outputs
    assert out["output"] == [items[0], items[2], items[3]]
    assert out["duplicates"] == [items[1]]
    by_a = run_node(
        RemoveDuplicatesNode, {"compare": "fields", "fields": ["a"]}, inputs={"input": items}
    ).outputs
    assert by_a["output"] == [items[0], items[2]]
    missing = run_node(
        RemoveDuplicatesNode,
        {"compare": "fields", "fields": ["zz"]},
        inputs={"input": [{"q": 1}, {"q": 2}]},
    ).output
    assert missing == [{"q": 1}]  # a missing field equals null in every item
    assert run_node(RemoveDuplicatesNode, {}, inputs={}).outputs == {
        "output": [],
        "duplicates": [],
    }
    with pytest.raises(NodeError, match="no field is named"):
        run_node(RemoveDuplicatesNode, {"compare": "fields"}, inputs={"input": items})


# -- Compare Datasets --------------------------------------------------------------------


def test_compare_datasets_four_outputs() -> None:
    a = [
        {"id": 1, "name": "ann", "seen": "mon"},
        {"id": 2, "name": "bob"},
        {"id": 3, "name": "cy"},
    ]
    b = [{"id": 2, "name": "bobby"}, {"id": 3, "name": "cy", "seen": None}, {"id": 4}]
    out = run_node(CompareDatasetsNode, {"keys": ["id"]}, inputs={"a": a, "b": b}).outputs
    assert out["a_only"] == [a[0]]
    assert out["b_only"] == [b[2]]
    assert out["same"] == [a[2]]  # a missing field equals null
    assert out["different"] == [{"key": {"id": 2}, "a": a[1], "b": b[0], "fields": ["name"]}]
    ignoring = run_node(
        CompareDatasetsNode, {"keys": ["id"], "ignore": ["name"]}, inputs={"a": a, "b": b}
    ).outputs
    assert ignoring["different"] == [] and len(ignoring["same"]) == 2
    empty = run_node(CompareDatasetsNode, {}, inputs={"a": a}).outputs
    assert empty["a_only"] == a and empty["b_only"] == []
    with pytest.raises(NodeError, match="input B: item 0 is a int, not an object"):
        run_node(CompareDatasetsNode, {}, inputs={"a": a, "b": [5]})


def test_transforms_chain_in_a_workflow() -> None:
    """Filter -> Sort -> Limit through the real executor (ports and lists as the engine
    passes them)."""
    doc = workflow(
        [
            {"id": "start", "type": "manual"},
            {
                "id": "f",
                "type": "filter",
                "fields": {
                    "conditions": [{"field": "status", "operator": "equals", "compare_to": "paid"}]
                },
            },
            {"id": "s", "type": "sort", "fields": {"keys": [{"field": "total"}]}},
            {"id": "l", "type": "limit", "fields": {"count": 2}},
            {"id": "sum", "type": "summarize", "fields": {"group_by": ["status"]}},
        ],
        ["start -> f", "f -> s", "s -> l", "f:discarded -> sum"],
    )
    run = execute_doc(doc, run_input=ORDERS)
    assert run.status == "completed", run.error
    assert [i["id"] for i in run.output("l")] == [3, 1]
    assert run.output("sum") == [{"status": "open", "count": 1}]


NEW_TYPES = (
    "filter",
    "sort",
    "limit",
    "aggregate",
    "summarize",
    "split_out",
    "remove_duplicates",
    "compare_datasets",
    "datetime",
    "crypto",
    "convert",
    "html_extract",
    "llm_chat",
)


def test_new_types_are_in_the_palette_with_a_one_line_description() -> None:
    from glyphic_desktop.nodes.registry import default_registry

    registry = default_registry()
    for key in NEW_TYPES:
        cls = registry.get(key)
        assert cls is not None, key
        assert cls.description and "\n" not in cls.description, key
        assert len(cls.description) <= 100, key
        assert registry.search(cls.title)[0] is cls, key
    listed = {cls.key for classes in registry.by_category().values() for cls in classes}
    assert set(NEW_TYPES) <= listed
