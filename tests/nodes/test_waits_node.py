"""The Wait node's declaration and its end times: a duration, a date-time read in an IANA
zone (or with its own offset), a resume call, always capped by the maximum; the Error
trigger outputs an error run's failure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.waits import ErrorTrigger, WaitFields, WaitNode, wait_end
from glyphic_desktop.nodes.suspend import RunSuspended

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_duration_and_maximum():
    end, max_at = wait_end(WaitFields(mode="duration", seconds=90, max_seconds=3600), NOW)
    assert end == NOW + timedelta(seconds=90) and max_at == NOW + timedelta(hours=1)


def test_until_in_an_iana_zone_and_with_an_offset():
    local = WaitFields(mode="until", until="2026-07-01T15:30", timezone="Europe/Paris")
    assert wait_end(local, NOW)[0] == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)  # CEST +2
    offset = WaitFields(mode="until", until="2026-07-01T15:30-04:00", timezone="Asia/Tokyo")
    assert wait_end(offset, NOW)[0] == datetime(2026, 7, 1, 19, 30, tzinfo=UTC)


def test_bad_input_names_its_field():
    with pytest.raises(ValidationError, match="unknown IANA timezone 'Mars/Base'"):
        WaitFields(timezone="Mars/Base")
    with pytest.raises(NodeError, match="not an ISO date-time"):
        wait_end(WaitFields(mode="until", until="next tuesday"), NOW)
    with pytest.raises(ValidationError):
        WaitFields(seconds=-1)


def test_resume_mode_has_no_end_but_the_maximum():
    assert wait_end(WaitFields(mode="resume", max_seconds=60), NOW) == (
        None,
        NOW + timedelta(seconds=60),
    )


class _Ctx:
    def __init__(self, fields, trigger="manual", trigger_data=None):
        self.fields = fields
        self.input = {"n": 1}
        self.trigger = trigger
        self.trigger_data = trigger_data
        self.lines: list[str] = []

    def log(self, level, message, data=None):
        self.lines.append(message)


def test_short_waits_sleep_and_long_ones_suspend(monkeypatch):
    monkeypatch.setenv("GLYPHIC_WAIT_PERSIST_AFTER", "5")
    out = asyncio.run(WaitNode().run(_Ctx(WaitFields(seconds=0.05))))
    assert out == {"output": {"n": 1}}
    # a date in the past: no wait at all
    past = WaitFields(mode="until", until="2000-01-01T00:00")
    assert asyncio.run(WaitNode().run(_Ctx(past))) == {"output": {"n": 1}}
    ctx = _Ctx(WaitFields(seconds=3600, max_seconds=600))
    with pytest.raises(RunSuspended) as raised:
        asyncio.run(WaitNode().run(ctx))
    assert raised.value.resume_at == raised.value.max_at  # capped by the maximum
    assert raised.value.outputs == {"output": {"n": 1}}
    assert ctx.lines and ctx.lines[0].startswith("waiting until ")
    with pytest.raises(RunSuspended) as resumable:
        asyncio.run(WaitNode().run(_Ctx(WaitFields(mode="resume"))))
    assert resumable.value.resumable


def test_error_trigger_outputs_the_failure():
    failure = {"message": "boom", "workflow": {"id": "w", "name": "W"}}
    ctx = _Ctx(ErrorTrigger.Fields(), trigger="error", trigger_data={"error": failure})
    assert asyncio.run(ErrorTrigger().run(ctx)) == {"output": failure}
    by_hand = _Ctx(ErrorTrigger.Fields(data={"message": "test"}))
    assert asyncio.run(ErrorTrigger().run(by_hand)) == {"output": {"message": "test"}}
