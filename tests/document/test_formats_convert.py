"""The conversions added for issue 14: ComfyUI API, nested React Flow, Node-RED, n8n
schedules / expressions / IF and Switch, the grouped report, forced formats."""

from __future__ import annotations

from typing import Any

import pytest

from glyphic_desktop.document.formats import convert, convert_split, detect_format
from glyphic_desktop.document.formats.detect import find_reactflow
from glyphic_desktop.document.formats.n8n_expressions import rewrite
from glyphic_desktop.document.io import read_workflow_data
from glyphic_desktop.document.validation import DocumentError
from glyphic_desktop.nodes.registry import default_registry

API_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1.safetensors"}},
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a cat", "clip": ["4", 1]},
        "_meta": {"title": "Positive"},
    },
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 5, "steps": 20, "model": ["4", 0], "positive": ["6", 0]},
    },
}


def _fields_valid(node_type: str, fields: dict[str, Any]) -> None:
    default_registry().get(node_type).Fields.model_validate(fields)


# -- ComfyUI API -----------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True])
def test_comfyui_api_bare_and_under_prompt(wrapped: bool) -> None:
    data = {"prompt": API_PROMPT, "client_id": "abc"} if wrapped else API_PROMPT
    assert detect_format(data) == "comfyui_api"
    result = read_workflow_data(data)
    document = result.document
    assert [n.id for n in document.nodes] == ["4", "6", "3"]
    edges = sorted((e.source, e.sourceHandle, e.target, e.targetHandle) for e in document.edges)
    assert edges == [
        ("4", "output_0", "3", "model"),
        ("4", "output_1", "6", "clip"),
        ("6", "output_0", "3", "positive"),
    ]
    sampler = document.find_node("3")
    assert sampler.type == "KSampler"
    assert sampler.data.fields == {"seed": 5, "steps": 20}
    assert document.find_node("6").data.label == "Positive"
    assert document.find_node("6").model_extra["_meta"] == {"title": "Positive"}
    # Laid out in layers: loader, then encoder, then sampler, left to right.
    xs = {n.id: n.pos[0] for n in document.nodes}
    assert xs["4"] < xs["6"] < xs["3"]
    assert [p.name for p in document.find_node("4").outputs] == ["output_0", "output_1"]
    if wrapped:
        assert document.metadata["comfyui"]["client_id"] == "abc"


def test_forced_format_lists_every_problem_with_its_json_path() -> None:
    bad = {"prompt": {"1": {"class_type": "A", "inputs": {}}, "2": 7, "3": {"inputs": {}}}}
    with pytest.raises(DocumentError) as info:
        convert(bad, fmt="comfyui_api")
    assert [p.path for p in info.value.problems] == ["prompt.2", "prompt.3"]
    with pytest.raises(DocumentError) as info:
        convert([{"id": "a", "type": "inject"}, 3, {"id": "b"}], fmt="nodered")
    assert [p.path for p in info.value.problems] == ["[1]", "[2]"]


# -- React Flow ---------------------------------------------------------------------


def _rf_state() -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "g",
                "type": "group",
                "position": {"x": 100, "y": 50},
                "data": {"label": "Box"},
                "width": 400,
                "height": 300,
            },
            {
                "id": "a",
                "type": "llm",
                "position": {"x": 10, "y": 20},
                "positionAbsolute": {"x": 110, "y": 70},
                "parentId": "g",
                "data": {"label": "A", "model": "gpt"},
            },
            {"id": "b", "type": "out", "position": {"x": 600, "y": 0}, "data": {}},
        ],
        "edges": [{"id": "e1", "source": "a", "target": "b", "type": "smoothstep"}],
        "viewport": {"x": 1, "y": 2, "zoom": 0.5},
        "custom": {"kept": True},
    }


@pytest.mark.parametrize(
    ("wrap", "path"),
    [
        (lambda s: s, ""),
        (lambda s: {"flow": s, "cache": {}}, "flow"),
        (lambda s: {"name": "Proj", "data": {"inner": s, "x": 1}}, "data.inner"),
    ],
)
def test_react_flow_found_at_top_or_one_or_two_levels_down(wrap: Any, path: str) -> None:
    data = wrap(_rf_state())
    assert find_reactflow(data)[0] == path
    assert detect_format(data) == "reactflow"
    document = read_workflow_data(data).document
    a = document.find_node("a")
    assert a.pos == [110.0, 70.0]  # absolute on the canvas
    assert a.model_extra["relativePosition"] == {"x": 10, "y": 20}  # kept relative
    assert a.model_extra["parentId"] == "g"
    assert a.model_extra["positionAbsolute"] == {"x": 110, "y": 70}
    assert a.data.model_extra["model"] == "gpt"
    (group,) = document.groups
    assert group.bounding == [100.0, 50.0, 400.0, 300.0]
    reactflow = document.metadata["reactflow"]
    assert reactflow["viewport"] == {"x": 1, "y": 2, "zoom": 0.5}
    if path:
        assert reactflow["path"] == path
        assert "nodes" not in str(reactflow["outer"])
    else:
        assert document.model_extra["custom"] == {"kept": True}
    if path == "data.inner":
        assert document.metadata["name"] == "Proj"


def test_a_dict_without_react_flow_inside_is_not_a_workflow() -> None:
    assert detect_format({"a": {"b": {"c": {"nodes": [], "edges": []}}}}) is None


# -- n8n ------------------------------------------------------------------------------


def _n8n(node: dict[str, Any], timezone: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"nodes": [{"name": "N", "position": [0, 0], **node}], "connections": {}}
    if timezone:
        data["settings"] = {"timezone": timezone}
    return data


@pytest.mark.parametrize(
    ("rule", "cron"),
    [
        ({"field": "minutes", "minutesInterval": 5}, "*/5 * * * *"),
        ({"field": "hours", "hoursInterval": 2, "triggerAtMinute": 15}, "15 */2 * * *"),
        ({"field": "days", "triggerAtHour": 9, "triggerAtMinute": 30}, "30 9 * * *"),
        ({}, "0 0 * * *"),
        ({"field": "weeks", "triggerAtDay": [1, 3], "triggerAtHour": 8}, "0 8 * * 1,3"),
        ({"field": "months", "triggerAtDayOfMonth": 15, "triggerAtHour": 6}, "0 6 15 * *"),
        ({"field": "cronExpression", "expression": "0 5 4 * * 1"}, "5 4 * * 1"),
        ({"field": "cronExpression", "expression": "*/10 * * * *"}, "*/10 * * * *"),
    ],
)
def test_n8n_schedule_trigger_rules_become_cron_in_the_workflow_timezone(
    rule: dict[str, Any], cron: str
) -> None:
    data = _n8n(
        {
            "type": "n8n-nodes-base.scheduleTrigger",
            "typeVersion": 1.2,
            "parameters": {"rule": {"interval": [rule]}},
        },
        timezone="Europe/Paris",
    )
    result = convert(data)
    node = result.document.nodes[0]
    assert node.type == "schedule"
    assert node.data.fields == {"cron": cron, "timezone": "Europe/Paris"}
    _fields_valid("schedule", node.data.fields)
    assert node.model_extra["n8nParameters"] == {"rule": {"interval": [rule]}}
    (schedule,) = result.report.schedules
    assert schedule["active"] is False and schedule["cron"] == cron
    assert any("INACTIVE" in line and "glyphic schedule resume" in line for line in result.notes)


def test_n8n_old_cron_and_interval_nodes() -> None:
    cron = convert(
        _n8n(
            {
                "type": "n8n-nodes-base.cron",
                "parameters": {
                    "triggerTimes": {"item": [{"mode": "everyWeek", "hour": 7, "weekday": "5"}]}
                },
            }
        )
    )
    assert cron.document.nodes[0].data.fields == {"cron": "0 7 * * 5", "timezone": "UTC"}
    interval = convert(
        _n8n({"type": "n8n-nodes-base.interval", "parameters": {"interval": 3, "unit": "hours"}})
    )
    assert interval.document.nodes[0].data.fields["cron"] == "0 */3 * * *"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("={{ $json.total }}", "{{ input.total }}"),
        ('={{ $json["order id"] }}', '{{ input["order id"] }}'),
        ("=Hi {{ $('Fetch user').item.json.name }}!", "Hi {{ nodes['Fetch user'].output.name }}!"),
        ('={{ $node["Get it"].json.id }}', "{{ nodes['Get it'].output.id }}"),
        ("={{ $now }} {{ $execution.id }}", "{{ now }} {{ execution.id }}"),
    ],
)
def test_n8n_expressions_rewritten(text: str, expected: str) -> None:
    assert rewrite(text) == (expected, None)


@pytest.mark.parametrize(
    "text",
    [
        "={{ $json.name.toUpperCase() }}",
        "={{ $items('A')[0].json.x }}",
        "={{ $input.all().map(i => i.json) }}",
        "={{ $('A').first().json.x }}",
    ],
)
def test_n8n_expressions_that_do_not_map_stay_verbatim_and_are_reported(text: str) -> None:
    converted, why = rewrite(text)
    assert converted == text and why
    data = _n8n({"type": "n8n-nodes-base.set", "parameters": {"value": text}})
    result = convert(data)
    assert result.document.nodes[0].data.fields == {"value": text}
    (item,) = result.report.expressions
    assert item["field"] == "value" and item["text"] == text


def test_n8n_if_v1_and_v2_conditions_map() -> None:
    v2 = _n8n(
        {
            "type": "n8n-nodes-base.if",
            "typeVersion": 2,
            "parameters": {
                "conditions": {
                    "options": {"caseSensitive": False},
                    "conditions": [
                        {
                            "leftValue": "={{ $json.total }}",
                            "rightValue": 100,
                            "operator": {"type": "number", "operation": "gt"},
                        }
                    ],
                    "combinator": "and",
                }
            },
        }
    )
    fields = convert(v2).document.nodes[0].data.fields
    assert fields == {
        "value": "{{ input.total }}",
        "operator": "gt",
        "compare_to": 100,
        "case_sensitive": False,
    }
    _fields_valid("if", fields)
    v1 = _n8n(
        {
            "type": "n8n-nodes-base.if",
            "parameters": {
                "conditions": {
                    "string": [{"value1": "={{$json.s}}", "operation": "contains", "value2": "x"}]
                }
            },
        }
    )
    fields = convert(v1).document.nodes[0].data.fields
    assert (fields["value"], fields["operator"], fields["compare_to"]) == (
        "{{input.s}}",
        "contains",
        "x",
    )


def test_n8n_switch_v3_rules_map_with_their_outputs() -> None:
    def rule(value: str) -> dict[str, Any]:
        return {
            "conditions": {
                "conditions": [
                    {
                        "leftValue": "={{ $json.kind }}",
                        "rightValue": value,
                        "operator": {"type": "string", "operation": "equals"},
                    }
                ]
            }
        }

    data = {
        "nodes": [
            {
                "name": "Route",
                "type": "n8n-nodes-base.switch",
                "typeVersion": 3,
                "position": [0, 0],
                "parameters": {
                    "rules": {"values": [rule("a"), rule("b")]},
                    "options": {"fallbackOutput": "extra"},
                },
            },
            *(
                {"name": n, "type": "n8n-nodes-base.noOp", "position": [300, i * 100]}
                for i, n in enumerate(("A", "B", "Other"))
            ),
        ],
        "connections": {
            "Route": {
                "main": [
                    [{"node": "A", "type": "main", "index": 0}],
                    [{"node": "B", "type": "main", "index": 0}],
                    [{"node": "Other", "type": "main", "index": 0}],
                ]
            }
        },
    }
    document = convert(data).document
    fields = document.nodes[0].data.fields
    _fields_valid("switch", fields)
    assert fields["value"] == "{{ input.kind }}"
    assert [r["compare_to"] for r in fields["rules"]] == ["a", "b"]
    assert [e.sourceHandle for e in document.edges] == ["case_0", "case_1", "fallback"]


# -- Node-RED ---------------------------------------------------------------------------

FLOW: list[dict[str, Any]] = [
    {"id": "t1", "type": "tab", "label": "Main"},
    {"id": "t2", "type": "tab", "label": "Other"},
    {"id": "sf", "type": "subflow", "name": "Doubler", "in": [], "out": []},
    {"id": "broker", "type": "mqtt-broker", "broker": "localhost", "port": "1883"},
    {"id": "g1", "type": "group", "z": "t1", "name": "Input", "x": 10, "y": 10, "w": 300, "h": 100},
    {
        "id": "in1",
        "type": "inject",
        "z": "t1",
        "g": "g1",
        "name": "every day",
        "crontab": "00 09 * * 1-5",
        "x": 100,
        "y": 60,
        "wires": [["fn"]],
    },
    {
        "id": "fn",
        "type": "function",
        "z": "t1",
        "name": "double",
        "func": "msg.payload *= 2;\nreturn msg;",
        "outputs": 1,
        "x": 300,
        "y": 60,
        "wires": [["sw"]],
    },
    {
        "id": "sw",
        "type": "switch",
        "z": "t1",
        "name": "big?",
        "property": "payload",
        "propertyType": "msg",
        "rules": [{"t": "gt", "v": "10", "vt": "num"}, {"t": "else"}],
        "checkall": "false",
        "x": 500,
        "y": 60,
        "wires": [["lo"], ["sfi"]],
    },
    {"id": "lo", "type": "link out", "z": "t1", "links": ["li"], "x": 700, "y": 40, "wires": []},
    {"id": "sfi", "type": "subflow:sf", "z": "t1", "x": 700, "y": 90, "wires": [[]]},
    {
        "id": "li",
        "type": "link in",
        "z": "t2",
        "links": ["lo"],
        "x": 100,
        "y": 40,
        "wires": [["d"]],
    },
    {"id": "d", "type": "debug", "z": "t2", "name": "show", "x": 300, "y": 40, "wires": []},
    {
        "id": "mq",
        "type": "mqtt out",
        "z": "t2",
        "broker": "broker",
        "x": 300,
        "y": 120,
        "wires": [],
    },
    {"id": "dbl", "type": "change", "z": "sf", "rules": [], "x": 100, "y": 40, "wires": [[]]},
]


def test_node_red_flow_file() -> None:
    assert detect_format(FLOW) == "nodered"
    result = read_workflow_data(FLOW)
    document = result.document
    by_id = {n.id: n for n in document.nodes}
    assert set(by_id) == {"in1", "fn", "sw", "lo", "sfi", "li", "d", "mq", "dbl"}
    assert by_id["in1"].type == "schedule"
    assert by_id["in1"].data.fields == {"cron": "0 9 * * 1-5", "timezone": "UTC"}
    assert by_id["fn"].type == "code"
    assert "msg.payload *= 2;" in by_id["fn"].data.fields["code"]
    assert by_id["fn"].model_extra["nodered"]["func"] == "msg.payload *= 2;\nreturn msg;"
    assert by_id["sw"].type == "switch" and by_id["d"].type == "log"
    _fields_valid("switch", by_id["sw"].data.fields)
    assert by_id["mq"].type == "mqtt out"  # a placeholder keeps its properties
    assert by_id["mq"].data.fields == {"broker": "broker"}
    edges = sorted((e.source, e.sourceHandle, e.target) for e in document.edges)
    assert edges == [
        ("fn", "output", "sw"),
        ("in1", "output", "fn"),
        ("li", "output", "d"),
        ("lo", "link", "li"),  # link out -> link in across tabs, as an edge
        ("sw", "case_0", "lo"),
        ("sw", "fallback", "sfi"),
    ]
    titles = [g.title for g in document.groups]
    assert titles == ["Main", "Other", "Subflow: Doubler", "Input"]
    main, other = document.groups[0].bounding, document.groups[1].bounding
    assert main[1] + main[3] <= other[1]  # tabs stacked, not on top of each other
    assert document.config["nodered"]["configNodes"] == [FLOW[3]]
    report = result.report
    assert report.code == [{"node": "node 'double' (fn)"}]
    assert report.schedules[0]["active"] is False
    assert {"type": "mqtt out", "count": 1} in report.placeholders


def test_node_red_split_tabs_one_workflow_per_tab() -> None:
    results = convert_split(FLOW)
    assert [r.name for r in results] == ["Main", "Other"]
    main, other = (r.document for r in results)
    assert {n.id for n in main.nodes} == {"in1", "fn", "sw", "lo", "sfi", "dbl"}
    assert {n.id for n in other.nodes} == {"li", "d", "mq", "dbl"}
    assert main.config["nodered"]["configNodes"] == [FLOW[3]]


# -- the report -------------------------------------------------------------------------


def test_a_5000_node_file_gives_a_short_grouped_report() -> None:
    nodes = [
        {"id": i, "type": f"Type{i % 3}", "pos": [i, 0], "inputs": [], "outputs": []}
        for i in range(1, 5001)
    ]
    result = convert({"nodes": nodes, "links": []})
    assert len(result.notes) <= 5
    assert result.report.placeholders == [
        {"type": "Type1", "count": 1667},
        {"type": "Type2", "count": 1667},
        {"type": "Type0", "count": 1666},
    ]
    assert result.report.as_dict()["nodes"] == 5000


def test_comfyui_subgraph_instances_are_named_placeholders_and_definitions_kept() -> None:
    sub_id = "a1b2c3d4-0000-4000-8000-000000000001"
    definitions = {"subgraphs": [{"id": sub_id, "name": "Upscale", "nodes": [], "links": []}]}
    data = {
        "nodes": [
            {"id": 1, "type": sub_id, "pos": [0, 0], "inputs": [], "outputs": []},
            {"id": 2, "type": "SaveImage", "pos": [300, 0], "inputs": [], "outputs": []},
        ],
        "links": [],
        "definitions": definitions,
    }
    result = read_workflow_data(data)
    node = result.document.find_node("1")
    assert node.type == sub_id and node.data.label == "Upscale"
    assert node.data.model_extra["subgraph"] == "Upscale"
    assert result.document.model_extra["definitions"] == definitions
    assert any("1 subgraph definition(s) kept whole" in note for note in result.report.notes)


def test_langflow_shape_one_level_down_under_data() -> None:
    state = _rf_state()
    data = {"name": "Basic Prompting", "description": "x", "data": state, "is_component": False}
    assert find_reactflow(data)[0] == "data"
    document = read_workflow_data(data).document
    assert document.metadata["name"] == "Basic Prompting"
    assert document.metadata["reactflow"]["outer"] == {
        "name": "Basic Prompting",
        "description": "x",
        "is_component": False,
    }


# -- hostile input ----------------------------------------------------------------------

_JUNK: list[Any] = [None, 1, -1, 1e308, "x", "", [], {}, [1, 2], {"a": 1}, True, [[["deep"]]]]


def _mutate(value: Any, rnd: Any) -> None:
    if isinstance(value, dict) and value:
        key = rnd.choice(list(value))
        if rnd.random() < 0.3:
            value[key] = rnd.choice(_JUNK)
        else:
            _mutate(value[key], rnd)
    elif isinstance(value, list) and value:
        index = rnd.randrange(len(value))
        if rnd.random() < 0.3:
            value[index] = rnd.choice(_JUNK)
        else:
            _mutate(value[index], rnd)


def test_mangled_real_files_convert_or_say_why_never_crash() -> None:
    """Real files with values swapped for junk at random: each converts, or raises
    DocumentError (one line per problem); no other exception escapes."""
    import json
    import random
    from pathlib import Path

    files = sorted((Path(__file__).parents[1] / "data" / "formats").glob("*/*.json"))
    originals = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    rnd = random.Random(14)
    for _ in range(1500):
        data = json.loads(json.dumps(rnd.choice(originals)))
        for _ in range(rnd.randint(1, 6)):
            _mutate(data, rnd)
        try:
            read_workflow_data(data)
        except DocumentError as exc:
            assert exc.problems
