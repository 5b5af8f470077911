"""The Date & Time node: parse, format, add / subtract, difference, convert timezone.

Zones are IANA names (``Europe/Paris``) through :mod:`zoneinfo`. Values are ISO 8601
texts, epoch seconds (numbers), or texts in a given ``strptime`` format; a naive value
is taken in ``timezone``. Results are ISO 8601 texts (``format`` gives another form).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin.data import set_path
from glyphic_desktop.nodes.builtin.items import MISSING, get_path
from glyphic_desktop.nodes.registry import register_node

Unit = Literal["seconds", "minutes", "hours", "days", "weeks", "months", "years"]
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise NodeError(f"{field}: {name!r} is not an IANA time zone", field=field) from None


class DateTimeFields(BaseModel):
    """Fields of the Date & Time node."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["parse", "format", "add", "subtract", "difference", "convert"] = Field(
        default="parse", description="What to do with the date."
    )
    field: str = Field(
        default="", description="The item's field holding the date (dots for nesting)."
    )
    value: Any = Field(
        default=None, description="The date when no field is named (an expression, a text)."
    )
    input_format: str = Field(
        default="", description="strptime format of the value (empty: ISO 8601 or epoch)."
    )
    timezone: str = Field(default="UTC", description="Zone of values without one (IANA).")
    to_timezone: str = Field(default="UTC", description="Target zone (convert, format).")
    output_format: str = Field(
        default="", description="strftime format of the result (empty: ISO 8601)."
    )
    amount: float = Field(default=0, description="How much to add or subtract.")
    unit: Unit = Field(default="days", description="Unit of amount and of difference.")
    other: Any = Field(default=None, description="The second date (difference: other − date).")
    output_field: str = Field(default="date", description="Where the result goes on the item.")

    @field_validator("value", "other", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return None if value == "" else value


def parse_datetime(value: Any, fmt: str, zone: ZoneInfo, where: str) -> datetime:
    """``value`` as an aware datetime (naive values are taken in ``zone``)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if fmt:
                parsed = datetime.strptime(text, fmt)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.fromtimestamp(float(text), UTC)
            except (ValueError, OverflowError):
                how = f"format {fmt!r}" if fmt else "ISO 8601 or epoch seconds"
                raise NodeError(
                    f"{where}: {value!r} is not a date ({how})", field="field"
                ) from None
    else:
        raise NodeError(f"{where}: {value!r} is not a date", field="field")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    import calendar

    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def shift(moment: datetime, amount: float, unit: str) -> datetime:
    """``moment`` + ``amount`` ``unit`` (months and years keep the day, clamped to the
    month's last; days and weeks keep the wall-clock time; smaller units are elapsed time)."""
    if unit in ("months", "years"):
        if amount != int(amount):
            raise NodeError(f"{unit} must be a whole number, not {amount}", field="amount")
        return _add_months(moment, int(amount) * (12 if unit == "years" else 1))
    step = timedelta(seconds=amount * _SECONDS[unit])
    if unit in ("days", "weeks"):  # the same wall-clock time, across a DST change too
        return (moment.replace(tzinfo=None) + step).replace(tzinfo=moment.tzinfo)
    return (moment.astimezone(UTC) + step).astimezone(moment.tzinfo)


def difference(start: datetime, end: datetime, unit: str) -> float:
    """``end − start`` in ``unit`` (months and years by calendar, fractional by days)."""
    if unit in ("months", "years"):
        months = (end.year - start.year) * 12 + end.month - start.month
        if _add_months(start, months) > end and months > 0:
            months -= 1
        elif _add_months(start, months) < end and months < 0:
            months += 1
        return months / 12 if unit == "years" else months
    seconds = (end - start).total_seconds() / _SECONDS[unit]
    return int(seconds) if float(seconds).is_integer() else seconds


@register_node
class DateTimeNode(NodeType):
    """Parses, formats, shifts, compares or converts a date on each item.

    Each object item gets the result under ``output_field``; a list does this per item;
    with no input (or a non-object) the output is ``{output_field: result}``. The date
    is the item's ``field``, else ``value``.
    """

    key: ClassVar[str] = "datetime"
    title: ClassVar[str] = "Date & Time"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "calendar-clock"
    summary_field: ClassVar[str] = "operation"
    description: ClassVar[str] = (
        "Parses, formats, adds to, compares or converts dates (IANA zones)."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Items"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Items"),)
    Fields: ClassVar[type[BaseModel]] = DateTimeFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Compute per item."""
        fields: DateTimeFields = ctx.fields  # type: ignore[assignment]
        zone = _zone(fields.timezone, "timezone")
        target = _zone(fields.to_timezone, "to_timezone")
        value = ctx.input
        if isinstance(value, list):
            return {
                "output": [
                    self._one(fields, item, zone, target, f"item {n}")
                    for n, item in enumerate(value)
                ]
            }
        return {"output": self._one(fields, value, zone, target, "input")}

    @staticmethod
    def _one(
        fields: DateTimeFields, item: Any, zone: ZoneInfo, target: ZoneInfo, where: str
    ) -> Any:
        raw = get_path(item, fields.field) if fields.field else fields.value
        if raw is MISSING or raw is None:
            what = f"field {fields.field!r}" if fields.field else "value"
            raise NodeError(
                f"{where}: {what} holds no date", field="field" if fields.field else "value"
            )
        moment = parse_datetime(raw, fields.input_format, zone, where)
        op = fields.operation
        result: Any
        if op == "difference":
            if fields.other is None:
                raise NodeError("difference needs the other date", field="other")
            other = parse_datetime(fields.other, fields.input_format, zone, "other")
            result = difference(moment, other, fields.unit)
        else:
            if op in ("add", "subtract"):
                moment = shift(
                    moment, fields.amount if op == "add" else -fields.amount, fields.unit
                )
            if op in ("convert", "format"):
                moment = moment.astimezone(target)
            result = (
                moment.strftime(fields.output_format)
                if fields.output_format
                else moment.isoformat()
            )
        base = copy.deepcopy(dict(item)) if isinstance(item, Mapping) else {}
        set_path(base, fields.output_field or "date", result)
        return base
