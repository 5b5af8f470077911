"""Node-RED flow files -> Glyphic documents.

A flow file is a JSON array (or ``{"flows": [...]}``) of objects with ``id`` and
``type``: flow tabs (``tab``), subflow definitions (``subflow``), groups (``group``,
``x``/``y``/``w``/``h``), config nodes (no ``x``/``y``: brokers, servers...) and flow
nodes (``z`` the tab or subflow they are on, ``x``/``y`` their centre, ``wires`` one
list of target ids per output).

Mapping:

- each tab becomes a Glyphic group around its nodes, tabs stacked top to bottom (or,
  with ``split_tabs``, a workflow of its own: :func:`split_flows`); each subflow
  definition a group "Subflow: name" around its nodes (its instances, ``subflow:ID``,
  stay placeholders); Node-RED groups become groups;
- config nodes are kept whole in ``config.nodered.configNodes``;
- ``wires[i]`` become edges from output ``i`` (``output``, ``output_1``...; a mapped
  Switch's ``case_<i>`` / ``fallback``) to ``input``; link out/in/call nodes stay
  placeholders joined by edges (``linkEdge``) where both ends are in the file;
- core nodes with a Glyphic counterpart map (inject -> Manual or Schedule, function ->
  Code with the JavaScript kept and reported, change -> Set, switch -> Switch, http
  request -> HTTP request, delay -> Delay, debug -> Log, http in -> Webhook, template ->
  Set, file in / file -> Read / Write file, exec -> Run command, e-mail -> Email); their
  Node-RED properties are kept whole under ``nodered``. Every other node is a
  placeholder whose properties are its ``data.fields``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from glyphic_desktop.document.formats.common import (
    Notes,
    add_ports_from_edges,
    as_float,
    as_text,
    describe,
    finish_document,
)
from glyphic_desktop.document.model import WorkflowDocument

_CONTAINERS = {"tab", "subflow", "group"}
_POSITION_KEYS = ("id", "type", "x", "y", "z", "g", "wires")
_GAP = 120.0
_MARGIN = 40.0
_SWITCH_OPS = {
    "eq": "equals",
    "neq": "not_equals",
    "lt": "lt",
    "lte": "lte",
    "gt": "gt",
    "gte": "gte",
    "cont": "contains",
    "regex": "matches",
    "true": "is_true",
    "false": "is_false",
    "empty": "is_empty",
    "nempty": "is_not_empty",
}
_DELAY_UNITS = {"milliseconds": 0.001, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_MUSTACHE = re.compile(r"\{\{\{?\s*(?:msg\.)?([A-Za-z_][\w.]*)\s*\}?\}\}")


def flow_items(data: Any) -> list[dict[str, Any]]:
    """The objects of a Node-RED flow file (a list, or ``{"flows": [...]}``); an object whose
    ``type`` is not text is left out (the forced-format check reports it)."""
    items = data.get("flows") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and isinstance(i.get("type"), str)]


def is_nodered(data: Any) -> bool:
    """Whether parsed JSON looks like a Node-RED flow file."""
    items = data.get("flows") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        return False
    sample = items[:50]
    if not all(isinstance(i, dict) and "id" in i and "type" in i for i in sample):
        return False
    return any("wires" in i or i.get("type") in ("tab", "subflow") or "z" in i for i in sample)


# -- field conversions ----------------------------------------------------------------


def _schedule(raw: dict[str, Any], label: str, node_id: str, notes: Notes) -> dict[str, Any]:
    crontab = as_text(raw.get("crontab")).strip()
    repeat = int(as_float(raw.get("repeat"), 0))
    how = ""
    if crontab:
        cron = " ".join(str(int(p)) if p.isdigit() else p for p in crontab.split())
        how = f"inject crontab {crontab!r}"
    elif repeat % 3600 == 0:
        cron, how = f"0 */{repeat // 3600} * * *", f"inject every {repeat} s"
    elif repeat % 60 == 0:
        cron, how = f"*/{repeat // 60} * * * *", f"inject every {repeat} s"
    else:
        cron, how = "* * * * *", f"inject every {repeat} s (became every minute)"
    cron = cron.replace("*/1 ", "* ")
    notes.schedules.append(
        {
            "node": describe(label, node_id),
            "cron": cron,
            "timezone": "UTC",
            "from": f"{how}; Node-RED used its server's local time",
            "active": False,
        }
    )
    return {"cron": cron, "timezone": "UTC"}


def _mustache(text: str) -> str:
    return _MUSTACHE.sub(lambda m: "{{ input." + m.group(1) + " }}", text)


def _change(raw: dict[str, Any], label: str, node_id: str, notes: Notes) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    skipped = 0
    rules = raw.get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if (
            isinstance(rule, dict)
            and rule.get("t") == "set"
            and rule.get("pt", "msg") == "msg"
            and rule.get("tot") in ("str", "num", "bool", "json")
            and as_text(rule.get("p"))
        ):
            value: Any = rule.get("to")
            try:
                if rule["tot"] == "num":
                    value = as_float(value)
                elif rule["tot"] == "bool":
                    value = str(value).lower() == "true"
                elif rule["tot"] == "json":
                    import json

                    value = json.loads(value)
            except ValueError:
                pass
            fields.append({"name": as_text(rule["p"]), "value": value})
        else:
            skipped += 1
    if skipped:
        notes.append(
            f"{describe(label, node_id)}: {skipped} change rule(s) (move, delete, context, "
            "JSONata...) not converted; see the node's 'nodered' properties"
        )
    return {"fields": fields, "keep_other_fields": True}


def _switch(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    rules_raw = raw.get("rules") if isinstance(raw.get("rules"), list) else []
    if raw.get("propertyType", "msg") != "msg" or len(rules_raw) > 9:
        return None
    rules: list[dict[str, Any]] = []
    names: list[str] = []
    for rule in rules_raw:
        if not isinstance(rule, dict):
            return None
        if rule.get("t") == "else":
            names.append("fallback")
            continue
        operator = _SWITCH_OPS.get(as_text(rule.get("t")))
        if operator is None or len(rules) >= 8:
            return None
        names.append(f"case_{len(rules)}")
        rules.append({"operator": operator, "compare_to": rule.get("v"), "label": ""})
    value = "{{ input." + (as_text(raw.get("property")) or "payload") + " }}"
    fields = {
        "value": value,
        "rules": rules,
        "all_matches": raw.get("checkall", "true") == "true",
        "case_sensitive": True,
    }
    return fields, names


def _fields_for(
    glyphic: str, raw: dict[str, Any], label: str, node_id: str, notes: Notes
) -> dict[str, Any]:
    if glyphic == "schedule":
        return _schedule(raw, label, node_id, notes)
    if glyphic == "code":
        notes.code.append({"node": describe(label, node_id)})
        js = as_text(raw.get("func"))
        lines = [
            "# JavaScript from a Node-RED function node (kept under 'nodered.func'):",
            "# rewrite it in Python.",
            *(f"# {line}" for line in js.splitlines()),
            "result = input",
        ]
        return {"code": "\n".join(lines) + "\n"}
    if glyphic == "set" and raw.get("type") == "template":
        name = as_text(raw.get("field")) or "payload"
        return {"fields": [{"name": name, "value": _mustache(as_text(raw.get("template")))}]}
    if glyphic == "set":
        return _change(raw, label, node_id, notes)
    if glyphic == "http_request":
        method = as_text(raw.get("method")).upper() or "GET"
        fields: dict[str, Any] = {"method": "GET" if method == "USE" else method}
        if as_text(raw.get("url")):
            fields["url"] = _mustache(as_text(raw.get("url")))
        return fields
    if glyphic == "delay":
        if raw.get("pauseType", "delay") != "delay":
            notes.append(
                f"{describe(label, node_id)}: delay mode {raw.get('pauseType')!r} "
                "(rate limit / random / by message) became a fixed delay"
            )
        unit = _DELAY_UNITS.get(as_text(raw.get("timeoutUnits")) or "seconds", 1)
        return {"seconds": as_float(raw.get("timeout"), 5) * unit}
    if glyphic == "log":
        return {}
    if glyphic == "webhook":
        method = as_text(raw.get("method")).upper() or "POST"
        return {"path": as_text(raw.get("url")).lstrip("/") or node_id, "method": method}
    if glyphic == "read_file":
        return {"path": as_text(raw.get("filename"))}
    if glyphic == "write_file":
        return {"path": as_text(raw.get("filename")), "content": "{{ input.payload }}"}
    if glyphic == "run_command":
        command = " ".join(
            p for p in (as_text(raw.get("command")), as_text(raw.get("append"))) if p
        )
        return {"command": command}
    if glyphic == "gmail":
        return {
            "to": as_text(raw.get("name")),
            "subject": "{{ input.topic }}",
            "messageBody": "{{ input.payload }}",
        }
    return {}


_TYPES: dict[str, str] = {
    "function": "code",
    "change": "set",
    "template": "set",
    "switch": "switch",
    "http request": "http_request",
    "delay": "delay",
    "debug": "log",
    "http in": "webhook",
    "file in": "read_file",
    "file": "write_file",
    "exec": "run_command",
    "e-mail": "gmail",
}


def _glyphic_type(raw: dict[str, Any]) -> str | None:
    kind = as_text(raw.get("type"))
    if kind == "inject":
        scheduled = as_text(raw.get("crontab")).strip() or as_float(raw.get("repeat"), 0) > 0
        return "schedule" if scheduled else "manual"
    return _TYPES.get(kind)


# -- conversion -----------------------------------------------------------------------


def convert_nodered(data: Any, *, source: str = "<input>") -> tuple[WorkflowDocument, Notes]:
    """Convert a Node-RED flow file (parsed JSON) to one Glyphic document and its notes."""
    notes = Notes()
    items = flow_items(data)
    tabs = [i for i in items if i.get("type") == "tab"]
    subflows = [i for i in items if i.get("type") == "subflow"]
    red_groups = [i for i in items if i.get("type") == "group"]
    flow_nodes = [
        i for i in items if i.get("type") not in _CONTAINERS and ("x" in i or "wires" in i)
    ]
    config_nodes = [
        i for i in items if i.get("type") not in _CONTAINERS and "x" not in i and "wires" not in i
    ]
    containers = [as_text(i["id"]) for i in (*tabs, *subflows)]
    orphan = sorted({as_text(n.get("z")) for n in flow_nodes} - set(containers))
    offsets = _stack(containers + orphan, flow_nodes)
    nodes: list[dict[str, Any]] = []
    output_names: dict[str, list[str]] = {}
    ids: set[str] = set()
    for index, raw in enumerate(flow_nodes):
        node_id = as_text(raw.get("id"))
        if not node_id or node_id in ids:
            notes.append(f"[{index}]: a node without an id or with a repeated id, left out")
            continue
        ids.add(node_id)
        nodes.append(_node(raw, offsets, notes, output_names))
    edges = _edges(flow_nodes, ids, output_names, notes)
    add_ports_from_edges(nodes, edges)
    groups = _container_groups(tabs, "", nodes) + _container_groups(subflows, "Subflow: ", nodes)
    groups += [_red_group(g, offsets) for g in red_groups]
    config: dict[str, Any] = {}
    if config_nodes:
        config["nodered"] = {"configNodes": copy.deepcopy(config_nodes)}
        notes.append(f"{len(config_nodes)} config node(s) kept in config.nodered.configNodes")
    metadata: dict[str, Any] = {"importedFrom": "nodered"}
    if len(tabs) == 1 and as_text(tabs[0].get("label")):
        metadata["name"] = as_text(tabs[0]["label"])
    if isinstance(data, dict):
        metadata["nodered"] = {k: copy.deepcopy(v) for k, v in data.items() if k != "flows"}
    document = {
        "nodes": nodes,
        "edges": edges,
        "groups": groups,
        "config": config,
        "metadata": metadata,
    }
    return finish_document(document, source=source), notes


def split_flows(data: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """One flow file per tab (``--split-tabs``): ``(tab label, its objects)``, each with
    the config nodes and subflow definitions (with their nodes) every tab may use."""
    items = flow_items(data)
    tabs = [i for i in items if i.get("type") == "tab"]
    subflow_ids = {as_text(i["id"]) for i in items if i.get("type") == "subflow"}
    shared = [
        i
        for i in items
        if i.get("type") == "subflow"
        or as_text(i.get("z")) in subflow_ids
        or (i.get("type") not in _CONTAINERS and "x" not in i and "wires" not in i)
    ]
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for tab in tabs:
        tab_id = as_text(tab["id"])
        own = [i for i in items if as_text(i.get("z")) == tab_id]
        out.append((as_text(tab.get("label")) or tab_id, [tab, *own, *shared]))
    # Nodes of a tab the file does not hold (an export of selected nodes): one part per tab id.
    known = {as_text(tab["id"]) for tab in tabs} | subflow_ids
    for z in dict.fromkeys(as_text(i.get("z")) for i in items if "z" in i):
        if z and z not in known:
            own = [i for i in items if as_text(i.get("z")) == z]
            out.append((f"Flow {z}", [*own, *shared]))
    return out


def _stack(containers: list[str], flow_nodes: list[dict[str, Any]]) -> dict[str, float]:
    """The y offset of each tab / subflow so they sit one under the other."""
    offsets: dict[str, float] = {}
    top = 0.0
    for container in containers:
        ys = [as_float(n.get("y")) for n in flow_nodes if as_text(n.get("z")) == container]
        if not ys:
            offsets[container] = top
            continue
        offsets[container] = top - min(ys) + _MARGIN
        top += max(ys) - min(ys) + 2 * _MARGIN + _GAP
    return offsets


def _node(
    raw: dict[str, Any],
    offsets: dict[str, float],
    notes: Notes,
    output_names: dict[str, list[str]],
) -> dict[str, Any]:
    node_id = as_text(raw["id"])
    foreign_type = as_text(raw.get("type")) or "unknown"
    label = as_text(raw.get("name"))
    glyphic = _glyphic_type(raw)
    dy = offsets.get(as_text(raw.get("z")), 0.0)
    pos = [as_float(raw.get("x")), as_float(raw.get("y")) + dy]
    if glyphic == "switch":
        found = _switch(raw)
        if found is None:
            glyphic = None
        else:
            switch_fields, output_names[node_id] = found
    if glyphic is None:
        fields = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _POSITION_KEYS}
        notes.unknown_type(label, node_id, foreign_type)
        return {
            "id": node_id,
            "type": foreign_type,
            "pos": pos,
            "data": {"label": label, "nodeType": foreign_type, "fields": fields},
            "inputs": [],
            "outputs": [],
            "nodered": {k: copy.deepcopy(raw[k]) for k in _POSITION_KEYS if k in raw},
        }
    notes.mapped_type(foreign_type if foreign_type != "inject" else f"inject ({glyphic})", glyphic)
    if glyphic == "switch":
        fields = switch_fields
    else:
        fields = _fields_for(glyphic, raw, label, node_id, notes)
    data: dict[str, Any] = {"label": label, "nodeType": glyphic, "fields": fields}
    if raw.get("d") is True:
        data["disabled"] = True
    return {
        "id": node_id,
        "type": glyphic,
        "pos": pos,
        "data": data,
        "inputs": [],
        "outputs": [],
        "originalType": foreign_type,
        "nodered": copy.deepcopy(raw),
    }


def _edges(
    flow_nodes: list[dict[str, Any]],
    ids: set[str],
    output_names: dict[str, list[str]],
    notes: Notes,
) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    missing = 0

    def add(source: str, handle: str, target: str, **extra: Any) -> None:
        edges.append(
            {
                "id": len(edges) + 1,
                "source": source,
                "sourceHandle": handle,
                "target": target,
                "targetHandle": "input",
                "type": "any",
                **extra,
            }
        )

    seen: set[str] = set()
    for raw in flow_nodes:
        source = as_text(raw.get("id"))
        if source not in ids or source in seen:
            continue
        seen.add(source)
        names = output_names.get(source, [])
        wires = raw.get("wires") if isinstance(raw.get("wires"), list) else []
        for out_index, targets in enumerate(wires):
            if out_index < len(names):
                handle = names[out_index]
            else:
                handle = "output" if out_index == 0 else f"output_{out_index}"
            for target in targets if isinstance(targets, list) else []:
                if as_text(target) in ids:
                    add(source, handle, as_text(target))
                else:
                    missing += 1
        if raw.get("type") in ("link out", "link call") and raw.get("mode") != "return":
            links = raw.get("links")
            for target in links if isinstance(links, list) else []:
                if as_text(target) in ids:
                    add(source, "link", as_text(target), linkEdge=True)
                else:
                    missing += 1
    if missing:
        notes.append(
            f"{missing} wire(s) or link(s) to nodes not in this workflow (on another tab "
            "with --split-tabs, or not in the file) left out"
        )
    return edges


def _container_groups(
    containers: list[dict[str, Any]], prefix: str, nodes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for container in containers:
        cid = as_text(container["id"])
        inside = [n for n in nodes if as_text(n["nodered"].get("z")) == cid]
        title = as_text(container.get("label") or container.get("name")) or cid
        if inside:
            xs = [n["pos"][0] for n in inside]
            ys = [n["pos"][1] for n in inside]
            bounding = [
                min(xs) - 100,
                min(ys) - _MARGIN,
                max(xs) - min(xs) + 200,
                max(ys) - min(ys) + 2 * _MARGIN,
            ]
        else:
            bounding = [0.0, 0.0, 300.0, 200.0]
        groups.append(
            {
                "id": f"{prefix and 'subflow-'}{cid}",
                "title": f"{prefix}{title}",
                "bounding": bounding,
                "nodered": copy.deepcopy(container),
            }
        )
    return groups


def _red_group(raw: dict[str, Any], offsets: dict[str, float]) -> dict[str, Any]:
    dy = offsets.get(as_text(raw.get("z")), 0.0)
    return {
        "id": f"group-{as_text(raw['id'])}",
        "title": as_text(raw.get("name")) or "Group",
        "bounding": [
            as_float(raw.get("x")),
            as_float(raw.get("y")) + dy,
            as_float(raw.get("w"), 300.0),
            as_float(raw.get("h"), 200.0),
        ],
        "nodered": copy.deepcopy(raw),
    }
