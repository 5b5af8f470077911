"""Wait (a duration, a date-time, or a resume call; stored when long) and Error trigger.

A Wait up to ``GLYPHIC_WAIT_PERSIST_AFTER`` seconds (default 60) sleeps in memory like
Delay; a longer one raises :class:`~glyphic_desktop.nodes.suspend.RunSuspended`: the
engine stores the run as ``waiting`` and any live agent resumes it from this node's
outputs when it is due (``engine/waits.py``). The Error trigger starts a workflow named
as another workflow's error workflow (``engine/error_workflow.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.registry import register_node
from glyphic_desktop.nodes.suspend import RunSuspended, persist_after

MAX_WAIT = 366 * 24 * 3600.0


class WaitFields(BaseModel):
    """Fields of the Wait node."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["duration", "until", "resume"] = Field(
        default="duration",
        description="Wait a duration, until a date-time, or until the run's resume URL is called.",
    )
    seconds: float = Field(default=60.0, ge=0, le=MAX_WAIT, description="Duration mode: seconds.")
    until: str = Field(
        default="",
        description="Until mode: an ISO date-time (2026-12-24T09:00); without an offset it is "
        "read in the timezone below.",
    )
    timezone: str = Field(default="UTC", description="IANA timezone of a date-time without offset.")
    max_seconds: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        le=MAX_WAIT,
        description="The longest the run waits, whatever the mode (resume: then it goes on).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value


def wait_end(fields: WaitFields, now: datetime) -> tuple[datetime | None, datetime]:
    """(when the wait ends by itself or None for a resume call, the latest end)."""
    max_at = now + timedelta(seconds=fields.max_seconds)
    if fields.mode == "duration":
        return now + timedelta(seconds=fields.seconds), max_at
    if fields.mode == "until":
        try:
            moment = datetime.fromisoformat(fields.until.strip())
        except ValueError as exc:
            raise NodeError(
                f"until {fields.until!r} is not an ISO date-time", field="until"
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(fields.timezone))
        return moment.astimezone(UTC), max_at
    return None, max_at


@register_node
class WaitNode(NodeType):
    """Waits a duration, until a date-time, or for a resume call; long waits survive restarts."""

    key: ClassVar[str] = "wait"
    title: ClassVar[str] = "Wait"
    category: ClassVar[str] = "Flow"
    icon: ClassVar[str] = "hourglass"
    description: ClassVar[str] = (
        "Waits a duration, until a time, or for a resume URL; long waits survive restarts."
    )
    Fields: ClassVar[type[BaseModel]] = WaitFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Sleep a short wait; store a long one (or a resume wait) as a waiting run."""
        fields: WaitFields = ctx.fields  # type: ignore[assignment]
        now = datetime.now(UTC)
        end, max_at = wait_end(fields, now)
        outputs = {"output": ctx.input}
        if end is not None:
            end = min(end, max_at)
            remaining = (end - now).total_seconds()
            if remaining <= persist_after():
                if remaining > 0:
                    await asyncio.sleep(remaining)
                return outputs
        if end is not None:
            ctx.log("info", f"waiting until {end.isoformat()}")
        else:
            ctx.log("info", f"waiting for a resume call (at most until {max_at.isoformat()})")
        raise RunSuspended(
            resume_at=end if end is not None else max_at,
            max_at=max_at,
            outputs=outputs,
            resumable=fields.mode == "resume",
        )


class ErrorTriggerFields(BaseModel):
    """Fields of the Error trigger."""

    model_config = ConfigDict(extra="forbid")

    data: Any = Field(
        default=None,
        description="Test data to output when the workflow is run by hand.",
        json_schema_extra={"widget": "json"},
    )


@register_node
class ErrorTrigger(NodeType):
    """Starts an error workflow; outputs the failed run (execution, workflow, node, message)."""

    key: ClassVar[str] = "error_trigger"
    title: ClassVar[str] = "Error trigger"
    category: ClassVar[str] = "Triggers"
    icon: ClassVar[str] = "octagon-alert"
    description: ClassVar[str] = (
        "Starts this workflow when a workflow naming it as error workflow fails."
    )
    inputs: ClassVar[tuple[PortSpec, ...]] = ()
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "The failure"),)
    Fields: ClassVar[type[BaseModel]] = ErrorTriggerFields
    is_trigger: ClassVar[bool] = True

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Output ``trigger_data.error`` of an error run, else the ``data`` field."""
        fields: ErrorTriggerFields = ctx.fields  # type: ignore[assignment]
        data = ctx.trigger_data
        if ctx.trigger == "error" and isinstance(data, Mapping) and "error" in data:
            return {"output": data["error"]}
        return {"output": fields.data if fields.data is not None else {}}
