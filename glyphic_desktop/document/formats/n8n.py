"""n8n workflow exports -> Glyphic documents.

An n8n export has ``nodes`` (``id`` a UUID, ``name`` unique in the workflow, ``type``
like ``n8n-nodes-base.httpRequest``, ``parameters``, ``position: [x, y]``) and
``connections`` keyed by the *source node's name*:
``{"A": {"main": [[{"node": "B", "type": "main", "index": 0}], ...]}}`` where the
outer list is A's output index and ``index`` is B's input index.

Mapping:

- nodes are numbered ``"1"``, ``"2"``, ... in file order; the n8n id and name are kept
  (``originalId``; ``data.label`` is the name). Known types map to Glyphic keys (the
  original type is kept in ``originalType``); others stay placeholders of their own type.
- ``parameters`` become ``data.fields`` as they are (n8n's parameter names are kept: the
  inspector shows what does not fit the Glyphic node's fields).
- Engine settings: ``disabled``, ``retryOnFail``/``maxTries``/``waitBetweenTries``,
  ``onError``/``continueOnFail`` map to ``data.disabled/retries/retryDelay/onError``.
- Ports take the names of the Glyphic node's ports: If ``true``/``false``, Switch
  ``case_<i>``, Loop (``splitInBatches`` v3) ``done``/``item``, Merge inputs
  ``input_1``, ``input_2``...; otherwise output ``i`` is ``"output"`` / ``"output_<i>"`` and
  input ``i`` is ``"input"`` / ``"input_<i>"``. Connection types other than ``main``
  (AI sub-nodes) use the type as the port name and are noted.
- ``credentials`` of a known kind (smtp, Slack, GitHub) become a credential reference
  ``{"integration": {"type", "name"}}`` that import binds by type and name.
- Sticky notes become groups. Every other node key (``typeVersion``, ``credentials``,
  ``webhookId``, ``notes``...) and every top-level key (``settings``, ``pinData``,
  ``meta``...) is kept; the workflow's ``name`` becomes the suggested name.
"""

from __future__ import annotations

import copy
from typing import Any

from glyphic_desktop.document.formats.common import (
    GLYPHIC_TOP_KEYS,
    Notes,
    add_ports_from_edges,
    as_float,
    as_point,
    as_text,
    describe,
    finish_document,
    glyphic_type,
)
from glyphic_desktop.document.formats.n8n_conditions import if_fields, switch_fields
from glyphic_desktop.document.formats.n8n_expressions import rewrite_fields
from glyphic_desktop.document.formats.n8n_schedule import schedule_cron
from glyphic_desktop.document.model import WorkflowDocument

PREFIXES = ("n8n-nodes-base.",)

# n8n node type (without "n8n-nodes-base.") -> Glyphic node-type key.
N8N_TYPES: dict[str, str] = {
    "manualTrigger": "manual",
    "start": "manual",
    "scheduleTrigger": "schedule",
    "cron": "schedule",
    "interval": "schedule",
    "webhook": "webhook",
    "if": "if",
    "switch": "switch",
    "merge": "merge",
    "splitInBatches": "loop",
    "wait": "delay",
    "stopAndError": "stop_error",
    "executeWorkflow": "subworkflow",
    "set": "set",
    "code": "code",
    "function": "code",
    "functionItem": "code",
    "readBinaryFile": "read_file",
    "readBinaryFiles": "read_file",
    "writeBinaryFile": "write_file",
    "executeCommand": "run_command",
    "httpRequest": "http_request",
    "gmail": "gmail",
    "emailSend": "gmail",
    "slack": "slack",
    "github": "github",
}

_OUTPUT_NAMES: dict[str, list[str]] = {"if": ["true", "false"], "loop": ["done", "item"]}
# n8n credential type -> Glyphic credential type.
N8N_CREDENTIALS: dict[str, str] = {
    "smtp": "smtp",
    "slackApi": "slack",
    "slackOAuth2Api": "slack",
    "githubApi": "github",
    "githubOAuth2Api": "github",
}
_ON_ERROR = {
    "stopWorkflow": "stop",
    "continueRegularOutput": "continue",
    "continueErrorOutput": "error_output",
}
# Keys converted into Glyphic ones (the rest of a node's keys are kept as they are).
_NODE_KEYS_CONVERTED = {
    *("id", "name", "type", "parameters", "position", "disabled"),
    *("retryOnFail", "maxTries", "waitBetweenTries", "onError", "continueOnFail"),
}
_MAX_RETRIES = 100


def _short_type(foreign_type: str) -> str:
    for prefix in PREFIXES:
        if foreign_type.startswith(prefix):
            return foreign_type[len(prefix) :]
    return foreign_type


def _map_type(foreign_type: str, parameters: dict[str, Any]) -> str | None:
    short = _short_type(foreign_type)
    if short == foreign_type and foreign_type not in N8N_TYPES:
        return None  # a community or langchain node, or a type of another vendor
    if short == "readWriteFile":  # one n8n node, two Glyphic ones
        return "write_file" if parameters.get("operation") == "write" else "read_file"
    return glyphic_type(short, N8N_TYPES)


def _output_name(glyphic: str | None, index: int) -> str:
    names = _OUTPUT_NAMES.get(glyphic or "", [])
    if index < len(names):
        return names[index]
    if glyphic == "switch":
        return f"case_{index}"
    return "output" if index == 0 else f"output_{index}"


def _input_name(glyphic: str | None, index: int) -> str:
    if glyphic == "merge":
        return f"input_{index + 1}"
    return "input" if index == 0 else f"input_{index}"


def _credential(
    raw: dict[str, Any], node_data: dict[str, Any], label: str, node_id: str, notes: Notes
) -> None:
    credentials = raw.get("credentials")
    if not isinstance(credentials, dict) or not credentials:
        return
    for kind, value in credentials.items():
        name = as_text(value.get("name")) if isinstance(value, dict) else as_text(value)
        glyphic = N8N_CREDENTIALS.get(kind)
        if glyphic is not None and name and "credential" not in node_data:
            node_data["credential"] = {"integration": {"type": glyphic, "name": name}}
            notes.credential(
                label, node_id, glyphic, name, "reference by type and name (unresolved)"
            )
            continue
        notes.credential(
            label, node_id, kind, name, "not carried over: bind a Glyphic credential to the node"
        )


def _engine_settings(node: dict[str, Any], data: dict[str, Any]) -> None:
    if node.get("disabled") is True:
        data["disabled"] = True
    if node.get("retryOnFail") is True:
        tries = int(as_float(node.get("maxTries"), 3))
        data["retries"] = min(max(tries - 1, 0), _MAX_RETRIES)
        if "waitBetweenTries" in node:
            data["retryDelay"] = max(as_float(node.get("waitBetweenTries"), 1000) / 1000, 0.0)
    on_error = node.get("onError")
    if on_error in _ON_ERROR:
        data["onError"] = _ON_ERROR[on_error]
    elif node.get("continueOnFail") is True:
        data["onError"] = "continue"


def _sticky_group(node: dict[str, Any], index: int) -> dict[str, Any]:
    parameters = node.get("parameters") if isinstance(node.get("parameters"), dict) else {}
    x, y = as_point(node.get("position")) or [0.0, 0.0]
    content = as_text(parameters.get("content"))
    title = next((line.strip("# ").strip() for line in content.splitlines() if line.strip()), "")
    group: dict[str, Any] = {
        "id": f"note-{index + 1}",
        "title": title or as_text(node.get("name")) or "Note",
        "bounding": [
            x,
            y,
            as_float(parameters.get("width"), 240.0),
            as_float(parameters.get("height"), 160.0),
        ],
        "content": content,
        "originalId": node.get("id"),
        "originalType": node.get("type"),
    }
    if parameters.get("color") is not None:
        group["noteColor"] = parameters["color"]
    return group


def convert_n8n(data: dict[str, Any], *, source: str = "<input>") -> tuple[WorkflowDocument, Notes]:
    """Convert an n8n workflow export (parsed JSON) to a Glyphic document and its notes."""
    notes = Notes()
    nodes: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    glyphic_of: dict[str, str | None] = {}
    output_names: dict[str, list[str]] = {}
    timezone = _timezone(data.get("settings"), notes)
    for index, raw in enumerate(data.get("nodes") or []):
        if not isinstance(raw, dict):
            notes.append(f"nodes[{index}]: not an object, left out")
            continue
        foreign_type = as_text(raw.get("type"))
        if foreign_type == "n8n-nodes-base.stickyNote":
            groups.append(_sticky_group(raw, index))
            notes.append(f"sticky note {as_text(raw.get('name'))!r} became a group")
            continue
        node_id = str(len(nodes) + 1)
        name = as_text(raw.get("name")) or f"Node {node_id}"
        parameters = raw.get("parameters")
        fields = copy.deepcopy(parameters) if isinstance(parameters, dict) else {}
        mapped = _map_type(foreign_type, fields)
        node_type = mapped or foreign_type or "unknown"
        node_data: dict[str, Any] = {"label": name, "nodeType": node_type, "fields": fields}
        if parameters is not None and not isinstance(parameters, dict):
            node_data["fields"] = {"parameters": copy.deepcopy(parameters)}
        extra: dict[str, Any] = {}
        if mapped is not None:
            extra = _convert_fields(
                mapped, foreign_type, node_data, node_id, timezone, notes, output_names
            )
        _engine_settings(raw, node_data)
        node: dict[str, Any] = {
            key: copy.deepcopy(value)
            for key, value in raw.items()
            if key not in _NODE_KEYS_CONVERTED
        }
        node.update(
            id=node_id,
            type=node_type,
            pos=as_point(raw.get("position")) or [0.0, 0.0],
            data=node_data,
            inputs=[],
            outputs=[],
            originalId=raw.get("id"),
        )
        node.update(extra)
        if mapped is None:
            notes.unknown_type(name, node_id, foreign_type)
        else:
            node["originalType"] = foreign_type
            notes.mapped_type(foreign_type, mapped)
        _credential(raw, node_data, name, node_id, notes)
        if name in by_name:
            notes.append(f"{describe(name, node_id)}: a second node named {name!r}")
        by_name.setdefault(name, node)
        glyphic_of[node_id] = mapped
        nodes.append(node)
    edges = _edges(data.get("connections"), by_name, glyphic_of, output_names, notes)
    add_ports_from_edges(nodes, edges)
    metadata: dict[str, Any] = {"importedFrom": "n8n"}
    if data.get("name") is not None:
        metadata["name"] = as_text(data["name"])
    if data.get("id") is not None:
        metadata["n8nId"] = data["id"]
    document = {
        key: copy.deepcopy(value)
        for key, value in data.items()
        if key not in GLYPHIC_TOP_KEYS and key not in {"connections", "name"}
    }
    document.update(nodes=nodes, edges=edges, groups=groups, config={}, metadata=metadata)
    return finish_document(document, source=source), notes


def _edges(
    connections: Any,
    by_name: dict[str, dict[str, Any]],
    glyphic_of: dict[str, str | None],
    output_names: dict[str, list[str]],
    notes: Notes,
) -> list[dict[str, Any]]:
    edges: list[dict[str, Any]] = []
    if not isinstance(connections, dict):
        return edges
    by_original = {as_text(node.get("originalId")): node for node in by_name.values()}
    by_name = {**by_original, **by_name}  # some collections key connections by node id
    for source_name, kinds in connections.items():
        source = by_name.get(source_name)
        if source is None:
            notes.append(f"connections[{source_name!r}]: no node has that name, left out")
            continue
        if not isinstance(kinds, dict):
            continue
        for kind, outputs in kinds.items():
            if not isinstance(outputs, list):
                continue
            if kind != "main":
                notes.append(
                    f"{describe(source['data']['label'], source['id'])}: "
                    f"{kind!r} connections kept on ports named {kind!r}"
                )
            for out_index, targets in enumerate(outputs):
                for target in targets if isinstance(targets, list) else []:
                    edge = _edge(
                        source, kind, out_index, target, by_name, glyphic_of, output_names, notes
                    )
                    if edge is not None:
                        edge["id"] = len(edges) + 1
                        edges.append(edge)
    return edges


def _edge(
    source: dict[str, Any],
    kind: str,
    out_index: int,
    target: Any,
    by_name: dict[str, dict[str, Any]],
    glyphic_of: dict[str, str | None],
    output_names: dict[str, list[str]],
    notes: Notes,
) -> dict[str, Any] | None:
    if not isinstance(target, dict):
        return None
    target_node = by_name.get(as_text(target.get("node")))
    if target_node is None:
        notes.append(
            f"{describe(source['data']['label'], source['id'])}: connection to missing node "
            f"{as_text(target.get('node'))!r} left out"
        )
        return None
    in_index = int(as_float(target.get("index")))
    named = output_names.get(source["id"])
    if kind == "main" and named is not None and out_index < len(named):
        source_handle = named[out_index]
        target_handle = _input_name(glyphic_of.get(target_node["id"]), in_index)
    elif kind == "main":
        source_handle = _output_name(glyphic_of.get(source["id"]), out_index)
        target_handle = _input_name(glyphic_of.get(target_node["id"]), in_index)
    else:
        source_handle = kind if out_index == 0 else f"{kind}_{out_index}"
        target_handle = kind if in_index == 0 else f"{kind}_{in_index}"
    edge: dict[str, Any] = {
        "source": source["id"],
        "sourceHandle": source_handle,
        "target": target_node["id"],
        "targetHandle": target_handle,
        "type": "any",
    }
    if kind != "main":
        edge["connectionType"] = kind
    return edge


def _timezone(settings: Any, notes: Notes) -> str:
    """The workflow's ``settings.timezone`` when it is an IANA zone, else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = settings.get("timezone") if isinstance(settings, dict) else None
    if not isinstance(zone, str) or not zone or zone == "DEFAULT":
        return "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        notes.append(f"settings.timezone {zone!r} is not an IANA timezone: schedules use UTC")
        return "UTC"
    return zone


def _convert_fields(
    glyphic: str,
    foreign_type: str,
    node_data: dict[str, Any],
    node_id: str,
    timezone: str,
    notes: Notes,
    output_names: dict[str, list[str]],
) -> dict[str, Any]:
    """Rewrite a mapped node's fields to Glyphic's where they map; extra node keys to add.

    Expressions are rewritten (those that do not map are reported and kept); a schedule's
    rule becomes ``cron`` + ``timezone`` and an If / Switch's conditions Glyphic's, the
    n8n parameters then kept under ``n8nParameters``.
    """
    label = node_data["label"]

    def report(path: str, text: str, why: str) -> None:
        notes.expression(label, node_id, path, text, why)

    original = node_data["fields"]
    fields, converted = rewrite_fields(original, "", report)
    notes.expressions_converted += converted
    node_data["fields"] = fields
    short = _short_type(foreign_type)
    if glyphic == "schedule":
        cron, cron_notes = schedule_cron(short, original)
        node_data["fields"] = {"cron": cron, "timezone": timezone}
        notes.schedules.append(
            {
                "node": describe(label, node_id),
                "cron": cron,
                "timezone": timezone,
                "from": f"n8n {short}" + (f" ({'; '.join(cron_notes)})" if cron_notes else ""),
                "active": False,
            }
        )
        return {"n8nParameters": copy.deepcopy(original)}
    if glyphic == "if":
        mapped = if_fields(fields)
        if mapped is None:
            notes.append(
                f"{describe(label, node_id)}: IF conditions kept as n8n wrote them "
                "(several conditions or an operator Glyphic has not)"
            )
            return {}
        node_data["fields"] = mapped
        return {"n8nParameters": copy.deepcopy(original)}
    if glyphic == "switch":
        found = switch_fields(fields)
        if found is None:
            notes.append(
                f"{describe(label, node_id)}: Switch rules kept as n8n wrote them "
                "(expression mode, several conditions per rule or different values tested)"
            )
            return {}
        node_data["fields"], output_names[node_id] = found
        return {"n8nParameters": copy.deepcopy(original)}
    return {}
