"""n8n IF and Switch conditions (v1 to v3 rule shapes) -> Glyphic If / Switch fields.

Glyphic's If tests one ``value`` with one ``operator`` against ``compare_to``; its
Switch tests one ``value`` against ordered ``rules``. An n8n IF with one condition,
and a Switch whose rules all test the same left value with one condition each, map;
anything else (several conditions joined by and/or, different left values, an
operator Glyphic has not) returns None and the parameters stay as they were.
"""

from __future__ import annotations

from typing import Any

OPERATIONS: dict[str, str] = {
    **dict.fromkeys(("equal", "equals"), "equals"),
    **dict.fromkeys(("notEqual", "notEquals"), "not_equals"),
    "contains": "contains",
    "notContains": "not_contains",
    "startsWith": "starts_with",
    "endsWith": "ends_with",
    "regex": "matches",
    **dict.fromkeys(("larger", "gt", "after"), "gt"),
    **dict.fromkeys(("largerEqual", "gte", "afterOrEquals"), "gte"),
    **dict.fromkeys(("smaller", "lt", "before"), "lt"),
    **dict.fromkeys(("smallerEqual", "lte", "beforeOrEquals"), "lte"),
    **dict.fromkeys(("isEmpty", "empty"), "is_empty"),
    **dict.fromkeys(("isNotEmpty", "notEmpty"), "is_not_empty"),
    "true": "is_true",
    "false": "is_false",
}


def _v2_condition(raw: Any) -> tuple[Any, str, Any] | None:
    """``(left, operator, right)`` of one v2/v3 condition, or None."""
    if not isinstance(raw, dict):
        return None
    operator = raw.get("operator") if isinstance(raw.get("operator"), dict) else {}
    mapped = OPERATIONS.get(str(operator.get("operation")))
    if mapped is None:
        return None
    return raw.get("leftValue"), mapped, raw.get("rightValue")


def _v2_single(block: Any) -> tuple[Any, str, Any] | None:
    if not isinstance(block, dict):
        return None
    conditions = block.get("conditions")
    if not isinstance(conditions, list) or len(conditions) != 1:
        return None
    return _v2_condition(conditions[0])


def _case_sensitive(block: Any, parameters: dict[str, Any]) -> bool:
    options = block.get("options") if isinstance(block, dict) else None
    if isinstance(options, dict) and "caseSensitive" in options:
        return bool(options["caseSensitive"])
    opts = parameters.get("options") if isinstance(parameters.get("options"), dict) else {}
    return not bool(opts.get("ignoreCase", False))


def if_fields(parameters: dict[str, Any]) -> dict[str, Any] | None:
    """Glyphic If fields for an n8n IF node's parameters, or None when they do not map."""
    block = parameters.get("conditions")
    found = _v2_single(block)
    if found is None and isinstance(block, dict):  # v1: {"string": [{value1, operation, value2}]}
        rows = [
            row
            for kind in ("string", "number", "boolean", "dateTime")
            for row in (block.get(kind) or [])
        ]
        if len(rows) == 1 and isinstance(rows[0], dict):
            mapped = OPERATIONS.get(str(rows[0].get("operation", "equal")))
            if mapped is not None:
                found = (rows[0].get("value1"), mapped, rows[0].get("value2"))
    if found is None:
        return None
    left, operator, right = found
    return {
        "value": left,
        "operator": operator,
        "compare_to": right,
        "case_sensitive": _case_sensitive(block, parameters),
    }


def switch_fields(parameters: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """Glyphic Switch fields and the n8n output index -> Glyphic output names, or None."""
    rules_block = parameters.get("rules") if isinstance(parameters.get("rules"), dict) else {}
    rules: list[dict[str, Any]] = []
    value: Any = None
    if isinstance(rules_block.get("values"), list):  # v3
        for rule in rules_block["values"]:
            found = _v2_single(rule.get("conditions") if isinstance(rule, dict) else None)
            if found is None:
                return None
            left, operator, right = found
            if rules and left != value:
                return None
            value = left
            label = rule.get("outputKey") if rule.get("renameOutput") else ""
            rules.append({"operator": operator, "compare_to": right, "label": label or ""})
        options = parameters.get("options") if isinstance(parameters.get("options"), dict) else {}
        fallback = options.get("fallbackOutput")
        case_sensitive = not bool(options.get("ignoreCase", False))
        all_matches = options.get("allMatchingOutputs", False)
    elif isinstance(rules_block.get("rules"), list) and parameters.get("mode", "rules") == "rules":
        value = parameters.get("value1")
        for rule in rules_block["rules"]:
            if not isinstance(rule, dict):
                return None
            mapped = OPERATIONS.get(str(rule.get("operation", "equal")))
            if mapped is None or rule.get("output", len(rules)) != len(rules):
                return None
            rules.append({"operator": mapped, "compare_to": rule.get("value2"), "label": ""})
        fallback = parameters.get("fallbackOutput")
        case_sensitive = True
        all_matches = False
    else:
        return None
    if not rules or len(rules) > 8:
        return None
    names = [f"case_{index}" for index in range(len(rules))]
    if fallback == "extra":
        names.append("fallback")
    elif fallback not in (None, "none", -1) and isinstance(fallback, int):
        return None  # the fallback shares a rule's output: Glyphic's has its own
    fields = {
        "value": value,
        "rules": rules,
        "all_matches": bool(all_matches),
        "case_sensitive": case_sensitive,
    }
    return fields, names
