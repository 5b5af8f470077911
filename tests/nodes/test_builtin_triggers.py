"""Manual, Schedule and Webhook triggers run directly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from node_helpers import run_node
from pydantic import ValidationError

from glyphic_desktop.nodes.builtin.triggers import (
    ManualTrigger,
    ScheduleFields,
    ScheduleTrigger,
    WebhookTrigger,
)


def test_manual_outputs_run_input_else_its_data_field() -> None:
    assert run_node(ManualTrigger, run_input={"a": 1}).output == {"a": 1}
    assert run_node(ManualTrigger, {"data": {"test": True}}).output == {"test": True}
    assert run_node(ManualTrigger).output == {}
    # trigger_data describes the trigger (e.g. {"source": "cli"}); it is not the input.
    assert run_node(ManualTrigger, {"data": {"d": 1}}, trigger_data={"source": "cli"}).output == {
        "d": 1
    }


def test_schedule_adds_the_agents_firing_details() -> None:
    fields = {"cron": "0 6 * * *", "timezone": "UTC"}
    fired = run_node(
        ScheduleTrigger,
        fields,
        trigger="schedule",
        trigger_data={"schedule_id": "s1", "scheduled_for": "2026-02-01T06:00:00+00:00"},
        run_input={"region": "eu"},
    ).output
    assert fired == {
        "schedule_id": "s1",
        "scheduled_for": "2026-02-01T06:00:00+00:00",
        "region": "eu",
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }


def test_schedule_outputs_trigger_data_with_its_settings() -> None:
    fields = {"cron": "30 8 * * 1-5", "timezone": "Europe/Paris"}
    result = run_node(
        ScheduleTrigger, fields, run_input={"scheduled_at": "2026-01-05T08:30:00+01:00"}
    )
    assert result.output == {
        "scheduled_at": "2026-01-05T08:30:00+01:00",
        "cron": "30 8 * * 1-5",
        "timezone": "Europe/Paris",
    }
    manual = run_node(ScheduleTrigger, fields).output
    assert manual["next_run_at"].endswith("+01:00") or manual["next_run_at"].endswith("+02:00")


def test_schedule_next_times_in_its_timezone() -> None:
    fields = ScheduleFields(cron="0 9 * * *", timezone="America/New_York")
    after = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # DST starts on 2026-03-08 in New York
    first, second = fields.next_times(after, 2)
    assert (first.hour, first.utcoffset().total_seconds() / 3600) == (9, -5)
    assert (second.hour, second.utcoffset().total_seconds() / 3600) == (9, -4)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", "not a valid cron"),
        ({"cron": "* * *"}, "cron", "must have 5 fields"),
        # What the agent could not fire is refused here too (one check serves both).
        ({"cron": "0 9 * * * 2026"}, "cron", "must have 5 fields"),
        ({"cron": "0 0 30 2 *"}, "cron", "never matches a date"),
        ({"timezone": "posixrules"}, "timezone", "not an IANA timezone"),
        ({"cron": ""}, "cron", "empty"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA timezone"),
        ({"cron": 5}, "cron", "string"),
    ],
)
def test_schedule_bad_fields_name_the_field(fields: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ScheduleFields.model_validate(fields)
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert words in error["msg"]


def test_webhook_outputs_the_request() -> None:
    request = {"method": "POST", "path": "hooks/echo", "headers": {"x": "1"}, "body": {"msg": "hi"}}
    result = run_node(WebhookTrigger, {"path": "/hooks/echo/", "method": "post"}, run_input=request)
    assert result.output["body"] == {"msg": "hi"}
    assert result.output["query"] == {}
    empty = run_node(WebhookTrigger, {"path": "hooks/echo"}).output
    assert empty == {
        "method": "POST",
        "path": "hooks/echo",
        "headers": {},
        "query": {},
        "body": None,
    }


def test_webhook_rejects_bad_path_and_method() -> None:
    with pytest.raises(ValidationError, match="may only use letters"):
        WebhookTrigger.Fields.model_validate({"path": "has space"})
    with pytest.raises(ValidationError) as caught:
        WebhookTrigger.Fields.model_validate({"path": "ok", "method": "FETCH"})
    assert caught.value.errors()[0]["loc"] == ("method",)
