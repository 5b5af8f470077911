"""Trigger nodes: Manual, Schedule and Webhook; each starts a workflow and outputs its data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.agent import cron
from glyphic_desktop.nodes.base import NodeContext, NodeType, PortSpec
from glyphic_desktop.nodes.registry import register_node

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_WEBHOOK_PATH = re.compile(r"^[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*$")


def run_data(ctx: NodeContext) -> Any:
    """What a trigger outputs: the run's input (``ctx.trigger_data`` only describes the trigger)."""
    return ctx.run_input


class ManualFields(BaseModel):
    """Fields of the Manual trigger."""

    model_config = ConfigDict(extra="forbid")

    data: Any = Field(
        default=None,
        description="Data to start with when the run is given none (e.g. a test payload).",
        json_schema_extra={"widget": "json"},
    )


@register_node
class ManualTrigger(NodeType):
    """Starts a workflow by hand (Run button, ``glyphic run``); outputs the run's input data."""

    key: ClassVar[str] = "manual"
    title: ClassVar[str] = "Manual trigger"
    category: ClassVar[str] = "Triggers"
    icon: ClassVar[str] = "play"
    description: ClassVar[str] = "Starts the workflow when you run it; outputs the run's input."
    inputs: ClassVar[tuple[PortSpec, ...]] = ()
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Input data"),)
    Fields: ClassVar[type[BaseModel]] = ManualFields
    is_trigger: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Output the trigger data, else the ``data`` field, else an empty object."""
        fields: ManualFields = ctx.fields  # type: ignore[assignment]
        data = run_data(ctx)
        if data is not None:
            return {"output": data}
        return {"output": fields.data if fields.data is not None else {}}


def validate_cron(value: str) -> str:
    """``value`` normalised, or ValueError naming what is wrong with the cron expression.

    The agent's own check (:func:`glyphic_desktop.agent.cron.validate_cron`), so a node
    that validates here is one the agent can schedule and fire.
    """
    value = " ".join(value.split())
    if not value:
        raise ValueError("cron expression is empty")
    if len(value.split(" ")) != 5:
        raise ValueError(
            f"cron expression {value!r} must have 5 fields (minute hour day month weekday)"
        )
    try:
        return cron.validate_cron(value)
    except cron.InvalidCronError as exc:
        reason = exc.message.removeprefix(f"invalid cron expression {value!r}: ")
        raise ValueError(f"{value!r} is not a valid cron expression ({reason})") from None


def validate_timezone(value: str) -> str:
    """``value`` if it names an IANA timezone the agent knows, else ValueError."""
    value = value.strip()
    try:
        cron.load_timezone(value)
    except cron.UnknownTimezoneError:
        raise ValueError(
            f"{value!r} is not an IANA timezone (e.g. 'Europe/Paris', 'UTC')"
        ) from None
    return value


class ScheduleFields(BaseModel):
    """Fields of the Schedule trigger."""

    model_config = ConfigDict(extra="forbid")

    cron: str = Field(
        default="0 9 * * 1-5",
        description="Cron expression: minute hour day-of-month month day-of-week.",
    )
    timezone: str = Field(default="UTC", description="IANA timezone the cron is read in.")
    data: Any = Field(
        default=None,
        description="Extra data passed to the run on every firing.",
        json_schema_extra={"widget": "json"},
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)

    def next_times(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next ``count`` firing times strictly after ``after``, in the schedule's
        timezone, by the agent's rules (DST gaps and repeats included)."""
        zone = ZoneInfo(self.timezone)
        start = after if after.tzinfo else after.replace(tzinfo=zone)
        times = cron.iter_fire_times(self.cron, self.timezone, start)
        return [next(times).astimezone(zone) for _ in range(count)]


@register_node
class ScheduleTrigger(NodeType):
    """Starts a workflow on a cron schedule in an IANA timezone (fired by the tray agent)."""

    key: ClassVar[str] = "schedule"
    title: ClassVar[str] = "Schedule"
    category: ClassVar[str] = "Triggers"
    icon: ClassVar[str] = "clock"
    description: ClassVar[str] = "Starts the workflow on a cron schedule (the agent fires it)."
    inputs: ClassVar[tuple[PortSpec, ...]] = ()
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Schedule data"),)
    Fields: ClassVar[type[BaseModel]] = ScheduleFields
    is_trigger: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Output the trigger data the agent passed, or a description of this firing."""
        fields: ScheduleFields = ctx.fields  # type: ignore[assignment]
        data = run_data(ctx)
        out: dict[str, Any] = {}
        if ctx.trigger == "schedule" and isinstance(ctx.trigger_data, Mapping):
            out.update(ctx.trigger_data)  # the agent's firing details (scheduled time …)
        if isinstance(data, Mapping):
            out.update(data)
        elif data is not None:
            out["data"] = data
        if not out:
            now = datetime.now(UTC)
            out = {
                "fired_at": now.isoformat(),
                "next_run_at": fields.next_times(now)[0].isoformat(),
            }
        out.setdefault("cron", fields.cron)
        out.setdefault("timezone", fields.timezone)
        if fields.data is not None:
            out.setdefault("data", fields.data)
        return {"output": out}


class WebhookFields(BaseModel):
    """Fields of the Webhook trigger."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        default="my-webhook",
        description="URL path under /webhooks/ that starts this workflow.",
    )
    method: HttpMethod = Field(default="POST", description="HTTP method the webhook accepts.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip().strip("/")
        if value.startswith("webhooks/"):
            value = value.removeprefix("webhooks/")
        if not _WEBHOOK_PATH.match(value):
            raise ValueError(
                f"webhook path {value!r} may only use letters, digits and . _ ~ - between slashes"
            )
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


@register_node
class WebhookTrigger(NodeType):
    """Starts a workflow when an HTTP request arrives at its path; outputs the request."""

    key: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook"
    category: ClassVar[str] = "Triggers"
    icon: ClassVar[str] = "webhook"
    description: ClassVar[str] = (
        "Starts the workflow on an HTTP request to /webhooks/<path>; outputs the request "
        "(method, path, headers, query, body)."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = ()
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Request"),)
    Fields: ClassVar[type[BaseModel]] = WebhookFields
    is_trigger: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Output the request passed as trigger data (an empty request on a manual run)."""
        fields: WebhookFields = ctx.fields  # type: ignore[assignment]
        request: dict[str, Any] = {
            "method": fields.method,
            "path": fields.path,
            "headers": {},
            "query": {},
            "body": None,
        }
        data = run_data(ctx)
        if isinstance(data, Mapping):
            request.update(data)
        elif data is not None:
            request["body"] = data
        return {"output": request}
