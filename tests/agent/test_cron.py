"""Cron maths with IANA timezones: ordinary schedules, both DST changes, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from glyphic_desktop.agent.cron import (
    InvalidCronError,
    UnknownTimezoneError,
    fire_times_between,
    latest_fire_times,
    load_timezone,
    next_fire_after,
    to_instant,
    validate_cron,
)
from glyphic_desktop.errors import UsageError

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(when: datetime, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


# -- ordinary cases -----------------------------------------------------------------------


def test_next_fire_after_utc_is_strictly_after() -> None:
    assert next_fire_after("*/15 * * * *", "UTC", utc(2026, 5, 1, 10, 7)) == utc(2026, 5, 1, 10, 15)
    # a fire time itself is not "after" itself
    assert next_fire_after("*/15 * * * *", "UTC", utc(2026, 5, 1, 10, 15)) == utc(
        2026, 5, 1, 10, 30
    )
    # seconds and microseconds are honoured
    after = utc(2026, 5, 1, 10, 14, 59, 999_999)
    assert next_fire_after("*/15 * * * *", "UTC", after) == utc(2026, 5, 1, 10, 15)


def test_result_is_aware_utc_and_input_may_be_any_offset() -> None:
    tokyo_noon = datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 03:00 UTC
    result = next_fire_after("0 * * * *", "UTC", tokyo_noon)
    assert result == utc(2026, 5, 1, 4, 0)
    assert result.tzinfo is UTC


def test_daily_in_a_timezone_follows_the_local_clock() -> None:
    # 09:00 Berlin is 07:00 UTC in summer, 08:00 UTC in winter
    assert next_fire_after("0 9 * * *", BERLIN, utc(2026, 7, 1)) == utc(2026, 7, 1, 7, 0)
    assert next_fire_after("0 9 * * *", BERLIN, utc(2026, 1, 1)) == utc(2026, 1, 1, 8, 0)
    # New York: 09:00 EDT = 13:00 UTC
    assert next_fire_after("0 9 * * *", NEW_YORK, utc(2026, 7, 1, 14)) == utc(2026, 7, 2, 13, 0)


def test_weekday_and_month_names_and_aliases() -> None:
    # 2026-05-01 is a Friday; next Monday 08:30 UTC is 2026-05-04
    assert next_fire_after("30 8 * * mon", "UTC", utc(2026, 5, 1)) == utc(2026, 5, 4, 8, 30)
    assert next_fire_after("0 0 1 jan *", "UTC", utc(2026, 5, 1)) == utc(2027, 1, 1)
    assert next_fire_after("@daily", "UTC", utc(2026, 5, 1, 0, 0, 1)) == utc(2026, 5, 2)
    assert next_fire_after("@HOURLY", "UTC", utc(2026, 5, 1, 0, 30)) == utc(2026, 5, 1, 1)
    assert validate_cron("  0   9 * *  1-5 ") == "0 9 * * 1-5"


def test_fire_times_between_is_inclusive_and_limited() -> None:
    times = fire_times_between("0 * * * *", "UTC", utc(2026, 5, 1, 10), utc(2026, 5, 1, 13), 10)
    assert times == [utc(2026, 5, 1, h) for h in (10, 11, 12, 13)]
    limited = fire_times_between("0 * * * *", "UTC", utc(2026, 5, 1, 10), utc(2026, 5, 1, 13), 2)
    assert limited == [utc(2026, 5, 1, 10), utc(2026, 5, 1, 11)]
    assert fire_times_between("0 * * * *", "UTC", utc(2026, 5, 1, 13), utc(2026, 5, 1, 10), 5) == []
    assert fire_times_between("0 * * * *", "UTC", utc(2026, 5, 1, 10), utc(2026, 5, 1, 13), 0) == []


def test_latest_fire_times_walks_back_from_the_end() -> None:
    start, end = utc(2026, 1, 1), utc(2026, 2, 1, 0, 0, 30)
    # a month of an every-minute schedule: only the last three are built
    assert latest_fire_times("* * * * *", "UTC", start, end, 3) == [
        utc(2026, 1, 31, 23, 58),
        utc(2026, 1, 31, 23, 59),
        utc(2026, 2, 1, 0, 0),
    ]
    assert latest_fire_times("0 * * * *", "UTC", utc(2026, 5, 1, 10), utc(2026, 5, 1, 12), 9) == [
        utc(2026, 5, 1, 10),
        utc(2026, 5, 1, 11),
        utc(2026, 5, 1, 12),
    ]
    assert latest_fire_times("0 0 1 1 *", "UTC", utc(2026, 5, 1), utc(2026, 6, 1), 5) == []


# -- DST: spring forward (the local time does not exist) ----------------------------------


def test_daily_0230_on_the_spring_change_fires_once_at_0300_local() -> None:
    # 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC)
    times = fire_times_between("30 2 * * *", BERLIN, utc(2026, 3, 27), utc(2026, 3, 31), 10)
    assert [local(t, BERLIN) for t in times] == [
        "2026-03-27 02:30 CET",
        "2026-03-28 02:30 CET",
        "2026-03-29 03:00 CEST",  # the missing 02:30, right after the gap
        "2026-03-30 02:30 CEST",
    ]
    assert times[2] == utc(2026, 3, 29, 1, 0)
    assert next_fire_after("30 2 * * *", BERLIN, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 0)
    # New York springs forward at 02:00 EST -> 03:00 EDT (07:00 UTC) on 2026-03-08
    assert next_fire_after("30 2 * * *", NEW_YORK, utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7, 0)


def test_hourly_on_the_spring_change_fires_23_times_and_never_twice() -> None:
    day_start = datetime(2026, 3, 29, tzinfo=ZoneInfo(BERLIN))
    day_end = datetime(2026, 3, 29, 23, 59, tzinfo=ZoneInfo(BERLIN))
    times = fire_times_between("0 * * * *", BERLIN, day_start, day_end, 100)
    labels = [local(t, BERLIN) for t in times]
    assert len(times) == 23 == len(set(times))
    assert labels[:4] == [
        "2026-03-29 00:00 CET",
        "2026-03-29 01:00 CET",
        "2026-03-29 03:00 CEST",  # 02:00 does not exist and falls on 03:00: fires once
        "2026-03-29 04:00 CEST",
    ]
    # a half-past schedule keeps 24 runs: the missing 02:30 fires at 03:00
    half = fire_times_between("30 * * * *", BERLIN, day_start, day_end, 100)
    assert len(half) == 24
    assert [local(t, BERLIN) for t in half[1:4]] == [
        "2026-03-29 01:30 CET",
        "2026-03-29 03:00 CEST",
        "2026-03-29 03:30 CEST",
    ]


def test_every_quarter_hour_inside_the_gap_fires_once_after_it() -> None:
    times = fire_times_between(
        "*/15 * * * *", BERLIN, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), 100
    )
    assert [local(t, BERLIN) for t in times] == [
        "2026-03-29 01:30 CET",
        "2026-03-29 01:45 CET",
        "2026-03-29 03:00 CEST",
        "2026-03-29 03:15 CEST",
        "2026-03-29 03:30 CEST",
    ]


def test_half_hour_gap_of_lord_howe() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on 2026-10-04
    zone = "Australia/Lord_Howe"
    nxt = next_fire_after("15 2 * * *", zone, utc(2026, 10, 3, 12))
    assert local(nxt, zone).endswith("02:30 +11")


def test_to_instant_of_a_missing_time_is_the_end_of_the_gap() -> None:
    tz = load_timezone(BERLIN)
    assert to_instant(datetime(2026, 3, 29, 2, 0), tz) == utc(2026, 3, 29, 1, 0)
    assert to_instant(datetime(2026, 3, 29, 2, 59), tz) == utc(2026, 3, 29, 1, 0)
    assert to_instant(datetime(2026, 3, 29, 3, 0), tz) == utc(2026, 3, 29, 1, 0)
    assert to_instant(datetime(2026, 3, 29, 1, 59), tz) == utc(2026, 3, 29, 0, 59)


# -- DST: fall back (the local time happens twice) ----------------------------------------


def test_daily_0230_on_the_autumn_change_fires_once_at_the_first_occurrence() -> None:
    # 2026-10-25: Berlin clocks fall back from 03:00 CEST to 02:00 CET (01:00 UTC)
    times = fire_times_between("30 2 * * *", BERLIN, utc(2026, 10, 24), utc(2026, 10, 27), 10)
    assert [local(t, BERLIN) for t in times] == [
        "2026-10-24 02:30 CEST",
        "2026-10-25 02:30 CEST",  # first occurrence only
        "2026-10-26 02:30 CET",
    ]
    assert times[1] == utc(2026, 10, 25, 0, 30)


def test_during_the_repeated_hour_the_second_occurrence_does_not_fire() -> None:
    # 01:10 UTC is 02:10 CET, the second pass of 02:xx: 02:30 already fired (00:30 UTC)
    assert next_fire_after("30 2 * * *", BERLIN, utc(2026, 10, 25, 1, 10)) == utc(
        2026, 10, 26, 1, 30
    )
    # 00:10 UTC is 02:10 CEST, the first pass: 02:30 is still ahead
    assert next_fire_after("30 2 * * *", BERLIN, utc(2026, 10, 25, 0, 10)) == utc(
        2026, 10, 25, 0, 30
    )
    # walking back from inside the second pass finds the first occurrence
    assert latest_fire_times(
        "30 2 * * *", BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 1, 10), 5
    ) == [utc(2026, 10, 25, 0, 30)]


def test_hourly_on_the_autumn_change_fires_24_times() -> None:
    day_start = datetime(2026, 10, 25, tzinfo=ZoneInfo(BERLIN))
    day_end = datetime(2026, 10, 25, 23, 59, tzinfo=ZoneInfo(BERLIN))
    times = fire_times_between("0 * * * *", BERLIN, day_start, day_end, 100)
    labels = [local(t, BERLIN) for t in times]
    assert len(times) == 24 == len(set(times))  # 25 real hours, 02:00 fires once
    assert labels[1:5] == [
        "2026-10-25 01:00 CEST",
        "2026-10-25 02:00 CEST",
        "2026-10-25 03:00 CET",
        "2026-10-25 04:00 CET",
    ]
    assert labels.count("2026-10-25 02:00 CET") == 0
    # the same from the backwards walk
    assert latest_fire_times("0 * * * *", BERLIN, day_start, day_end, 100) == times


def test_utc_has_no_dst_surprises() -> None:
    times = fire_times_between("0 * * * *", "UTC", utc(2026, 3, 29), utc(2026, 3, 29, 23), 100)
    assert len(times) == 24


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "it is empty (expected 5 fields"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3"),
        ("0 0 * * * 5", "expected 5 fields"),
        ("61 * * * *", "out of range"),
        ("a b c d e", "is not acceptable"),
        ("0 0 30 2 *", "it never matches a date"),
        ("@every", "unknown shortcut"),
        ("H * * * *", "hash"),
    ],
)
def test_invalid_cron_expressions_say_what_is_wrong(expression: str, reason: str) -> None:
    with pytest.raises(InvalidCronError) as info:
        validate_cron(expression)
    message = info.value.message
    assert message.startswith(f"invalid cron expression {expression!r}: ")
    assert reason.lower() in message.lower()
    assert "\n" not in message
    assert info.value.exit_code == 2
    with pytest.raises(InvalidCronError):
        next_fire_after(expression, "UTC", utc(2026, 1, 1))


def test_unknown_timezone() -> None:
    with pytest.raises(UnknownTimezoneError) as info:
        next_fire_after("0 * * * *", "Mars/Base", utc(2026, 1, 1))
    assert info.value.message == "unknown timezone 'Mars/Base'"
    assert isinstance(info.value, UsageError)
    with pytest.raises(UnknownTimezoneError, match=r"did you mean 'Europe/Berlin'"):
        load_timezone("Europe/berlin")
    for bad in ("", "../etc/passwd", "Europe/"):
        with pytest.raises(UnknownTimezoneError, match=r"^unknown timezone "):
            load_timezone(bad)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_after("0 * * * *", "UTC", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        fire_times_between("0 * * * *", "UTC", datetime(2026, 1, 1), utc(2026, 1, 2), 5)


def test_bad_input_is_reported_even_for_an_empty_range() -> None:
    with pytest.raises(InvalidCronError):
        fire_times_between("nope", "UTC", utc(2026, 1, 2), utc(2026, 1, 1), 5)
    with pytest.raises(UnknownTimezoneError):
        latest_fire_times("0 * * * *", "Nowhere/City", utc(2026, 1, 1), utc(2026, 1, 2), 0)
