"""n8n schedule rules (Schedule Trigger, the older Cron and Interval nodes) -> cron text.

Schedule Trigger ``parameters.rule.interval`` is a list of rules; each has ``field``
(``seconds``, ``minutes``, ``hours``, ``days``, ``weeks``, ``months``,
``cronExpression``; default ``days``) and ``<field>Interval``, ``triggerAtMinute``,
``triggerAtHour``, ``triggerAtDay`` (weekdays, 0 = Sunday), ``triggerAtDayOfMonth``,
``expression``. Glyphic's Schedule node has one five-field cron: the first rule is
converted, approximations (seconds, every N weeks, several rules) are returned as notes.
"""

from __future__ import annotations

from typing import Any

from glyphic_desktop.document.formats.common import as_float


def _int(value: Any, default: int) -> int:
    return int(as_float(value, default))


def _every(step: int) -> str:
    return "*" if step <= 1 else f"*/{step}"


def _rule_cron(rule: dict[str, Any]) -> tuple[str, str | None]:
    field = rule.get("field") or "days"
    minute = _int(rule.get("triggerAtMinute"), 0) % 60
    hour = _int(rule.get("triggerAtHour"), 0) % 24
    if field == "cronExpression":
        parts = str(rule.get("expression") or "").split()
        if len(parts) == 6:  # n8n allows a seconds field first
            note = None if parts[0] in ("0", "*") else "the seconds field was dropped"
            return " ".join(parts[1:]), note
        return " ".join(parts), None
    if field == "seconds":
        return "* * * * *", "every N seconds became every minute (cron's finest step)"
    if field == "minutes":
        return f"{_every(_int(rule.get('minutesInterval'), 1))} * * * *", None
    if field == "hours":
        return f"{minute} {_every(_int(rule.get('hoursInterval'), 1))} * * *", None
    if field == "days":
        return f"{minute} {hour} {_every(_int(rule.get('daysInterval'), 1))} * *", None
    if field == "weeks":
        days = rule.get("triggerAtDay")
        days = days if isinstance(days, list) and days else [0]
        weekdays = ",".join(str(_int(day, 0) % 7) for day in days)
        weeks = _int(rule.get("weeksInterval"), 1)
        note = f"every {weeks} weeks became every week" if weeks > 1 else None
        return f"{minute} {hour} * * {weekdays}", note
    if field == "months":
        day = _int(rule.get("triggerAtDayOfMonth"), 1)
        return f"{minute} {hour} {day} {_every(_int(rule.get('monthsInterval'), 1))} *", None
    return "0 0 * * *", f"unknown rule field {field!r}: every day at midnight"


def schedule_cron(short_type: str, parameters: dict[str, Any]) -> tuple[str, list[str]]:
    """The cron of an n8n schedule node's ``parameters``, and notes on approximations."""
    notes: list[str] = []
    if short_type == "interval":
        value = max(_int(parameters.get("interval"), 1), 1)
        unit = parameters.get("unit")
        if unit == "hours":
            return f"0 {_every(value)} * * *", notes
        if unit == "minutes":
            return f"{_every(value)} * * * *", notes
        return "* * * * *", ["every N seconds became every minute (cron's finest step)"]
    if short_type == "cron":
        times = parameters.get("triggerTimes")
        items = times.get("item") if isinstance(times, dict) else None
        items = items if isinstance(items, list) and items else [{}]
        item = items[0] if isinstance(items[0], dict) else {}
        if len(items) > 1:
            notes.append(f"{len(items) - 1} more trigger time(s) left out")
        mode = item.get("mode") or "everyDay"
        minute, hour = _int(item.get("minute"), 0), _int(item.get("hour"), 0)
        crons = {
            "everyMinute": "* * * * *",
            "everyHour": f"{minute} * * * *",
            "everyDay": f"{minute} {hour} * * *",
            "everyWeek": f"{minute} {hour} * * {_int(item.get('weekday'), 1) % 7}",
            "everyMonth": f"{minute} {hour} {_int(item.get('dayOfMonth'), 1)} * *",
        }
        if mode in crons:
            return crons[mode], notes
        if mode == "custom":
            rule = {"field": "cronExpression", "expression": item.get("cronExpression")}
            return _rule_cron(rule)[0], notes
        if mode == "everyX":
            value = max(_int(item.get("value"), 1), 1)
            if item.get("unit") == "hours":
                return f"0 {_every(value)} * * *", notes
            return f"{_every(value)} * * * *", notes
        return "0 0 * * *", [*notes, f"unknown mode {mode!r}: every day at midnight"]
    rule = parameters.get("rule") if isinstance(parameters.get("rule"), dict) else {}
    intervals = rule.get("interval") if isinstance(rule.get("interval"), list) else [{}]
    intervals = [item for item in intervals if isinstance(item, dict)] or [{}]
    cron, note = _rule_cron(intervals[0])
    if note:
        notes.append(note)
    if len(intervals) > 1:
        notes.append(f"{len(intervals) - 1} more rule(s) left out: add a Schedule node for each")
    return cron, notes
