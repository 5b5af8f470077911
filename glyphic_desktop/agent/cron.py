"""Cron maths with IANA timezones: when a schedule fires, as aware UTC instants.

A cron expression is matched against the *wall clock* of the schedule's timezone
(croniter on naive local times), and each matching local time is then turned into an
instant with these DST rules (DESIGN.md §7):

- a local time that does not exist (the clock springs forward over it) fires once,
  right after the gap: 02:30 Europe/Berlin on the March change fires at 03:00 local
  (01:00 UTC). Several missing times (``*/15`` inside the gap) and a time that matches
  right at the end of the gap all fall on that one instant, which fires once;
- a local time that happens twice (the clock falls back over it) fires once, at its
  first occurrence. An hourly schedule therefore fires 23 times on the spring day and
  24 times (not 25) on the autumn day.

Expressions have the five standard fields (minute hour day-of-month month
day-of-week, with croniter's ranges, steps, names, ``L`` and ``#``) or are one of
``@yearly @annually @monthly @weekly @daily @midnight @hourly``. Every function takes
and returns timezone-aware datetimes; results are in UTC.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError

from glyphic_desktop.errors import UsageError

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
FIELDS = "minute hour day-of-month month day-of-week"

# Backwards searches start this far past the wall clock of their bound, so that local
# times of a fall-back hour (whose first occurrence is earlier than the bound's wall
# clock suggests) are not missed. No zone shifts its clock by more than this.
_FOLD_MARGIN = timedelta(hours=3)
# Enough steps to cross any DST overlap of an every-minute schedule.
_MAX_SKIPPED = 10_000


class InvalidCronError(UsageError):
    """A cron expression that cannot be parsed or never matches a date."""


class UnknownTimezoneError(UsageError):
    """A timezone name that is not in the IANA database."""


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def load_timezone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; :class:`UnknownTimezoneError` when there is none."""
    known = _known_timezones()
    message = f"unknown timezone {name!r}"
    if not isinstance(name, str) or (known and name not in known):
        close = difflib.get_close_matches(str(name), known, n=1) if known else []
        if not close and isinstance(name, str):
            lowered = {zone.lower(): zone for zone in known}
            close = [lowered[name.lower()]] if name.lower() in lowered else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownTimezoneError(message + hint)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimezoneError(message) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else exc.__class__.__name__


def validate_cron(expression: str) -> str:
    """The expression, trimmed, if it parses and matches at least one date.

    Raises :class:`InvalidCronError` (``invalid cron expression '...': reason``).
    """
    if not isinstance(expression, str):
        raise InvalidCronError(f"invalid cron expression {expression!r}: not a string")
    cleaned = " ".join(expression.split())

    def bad(reason: str) -> InvalidCronError:
        return InvalidCronError(f"invalid cron expression {expression!r}: {reason}")

    if not cleaned:
        raise bad(f"it is empty (expected 5 fields: {FIELDS})")
    if cleaned.startswith("@"):
        if cleaned.lower() not in ALIASES:
            raise bad(f"unknown shortcut (use one of {', '.join(ALIASES)})")
        return cleaned.lower()
    fields = cleaned.split(" ")
    if len(fields) != 5:
        raise bad(f"expected 5 fields ({FIELDS}), got {len(fields)}")
    try:
        iterator = croniter(cleaned, datetime(2000, 1, 1))
    except CroniterError as exc:
        raise bad(_reason(exc)) from None
    try:
        iterator.get_next(datetime)
    except CroniterBadDateError:
        raise bad("it never matches a date") from None
    except CroniterError as exc:
        raise bad(_reason(exc)) from None
    return cleaned


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _gap_end(tz: tzinfo, local: datetime) -> datetime:
    """The first instant after the DST gap that swallowed the naive local time ``local``."""
    earliest = local.replace(tzinfo=tz, fold=1).astimezone(UTC)  # before the change
    latest = local.replace(tzinfo=tz, fold=0).astimezone(UTC)  # after the change
    after_offset = latest.astimezone(tz).utcoffset()
    low, high = earliest, latest  # the change lies in (low, high]
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high


def to_instant(local: datetime, tz: tzinfo) -> datetime:
    """The UTC instant a naive wall-clock time of ``tz`` fires at (the DST rules above)."""
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        return _gap_end(tz, local)  # does not exist: fires right after the gap
    return instant  # fold=0 is the first occurrence of a repeated time


def _iterator(expression: str, start: datetime) -> croniter:
    try:
        return croniter(validate_cron(expression), start)
    except CroniterError as exc:  # pragma: no cover - validate_cron caught it
        raise InvalidCronError(f"invalid cron expression {expression!r}: {_reason(exc)}") from None


def _step(iterator: croniter, expression: str, forward: bool) -> datetime:
    try:
        return iterator.get_next(datetime) if forward else iterator.get_prev(datetime)
    except CroniterBadDateError:
        raise InvalidCronError(
            f"invalid cron expression {expression!r}: no more matching dates"
        ) from None


def iter_fire_times(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Every fire instant strictly after ``after``, in increasing order (endless)."""
    after = _require_aware(after, "after")
    tz = load_timezone(timezone)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    iterator = _iterator(expression, local_after)
    previous: datetime | None = None
    skipped = 0
    while True:
        instant = to_instant(_step(iterator, expression, True), tz)
        if instant <= after or instant == previous:
            skipped += 1
            if skipped > _MAX_SKIPPED:  # pragma: no cover - defensive
                raise InvalidCronError(f"invalid cron expression {expression!r}: no next date")
            continue
        skipped = 0
        previous = instant
        yield instant


def iter_fire_times_back(expression: str, timezone: str, upto: datetime) -> Iterator[datetime]:
    """Every fire instant at or before ``upto``, newest first (endless, or until dates run out)."""
    upto = _require_aware(upto, "upto")
    tz = load_timezone(timezone)
    local_upto = upto.astimezone(tz)
    # Start past a fold only when the clocks changed within _FOLD_MARGIN before ``upto``
    # (a repeated hour may hold earlier first occurrences that read later on the clock);
    # otherwise walking back over the margin would cost one step per fire time in it
    # (180 for an every-minute schedule).
    changed = (upto - _FOLD_MARGIN).astimezone(tz).utcoffset() != local_upto.utcoffset()
    margin = _FOLD_MARGIN if changed else timedelta(seconds=1)
    local_start = local_upto.replace(tzinfo=None) + margin
    iterator = _iterator(expression, local_start)
    previous: datetime | None = None
    skipped = 0
    while True:
        try:
            local = _step(iterator, expression, False)
        except InvalidCronError:
            return
        instant = to_instant(local, tz)
        if instant > upto or instant == previous:
            skipped += 1
            if skipped > _MAX_SKIPPED:  # pragma: no cover - defensive
                return
            continue
        skipped = 0
        previous = instant
        yield instant


def next_fire_after(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire instant strictly after ``after`` (aware), in UTC.

    Raises :class:`InvalidCronError` / :class:`UnknownTimezoneError` for bad input.
    """
    return next(iter_fire_times(expression, timezone, after))


def _checked_range(
    expression: str, timezone: str, start: datetime, end: datetime, limit: int
) -> tuple[datetime, datetime]:
    """Validate a range query's arguments (the expression and timezone too, even when
    the range is empty); returns ``start`` and ``end`` checked to be aware."""
    start = _require_aware(start, "start")
    end = _require_aware(end, "end")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    validate_cron(expression)
    load_timezone(timezone)
    return start, end


def fire_times_between(
    expression: str, timezone: str, start: datetime, end: datetime, limit: int
) -> list[datetime]:
    """The fire instants ``t`` with ``start <= t <= end``, oldest first, at most ``limit``.

    Both bounds are inclusive (``start`` is usually a stored next run, itself a fire
    time); when more than ``limit`` times fall in the range the first ``limit`` are
    returned.
    """
    start, end = _checked_range(expression, timezone, start, end, limit)
    times: list[datetime] = []
    if limit == 0 or end < start:
        return times
    for instant in iter_fire_times(expression, timezone, start - timedelta(microseconds=1)):
        if instant > end:
            break
        times.append(instant)
        if len(times) >= limit:
            break
    return times


def latest_fire_times(
    expression: str, timezone: str, start: datetime, end: datetime, limit: int
) -> list[datetime]:
    """The newest ``limit`` fire instants ``t`` with ``start <= t <= end``, oldest first.

    Walks backwards from ``end``, so a long range (a month of an every-minute
    schedule) costs ``limit`` steps, not one per time in the range.
    """
    start, end = _checked_range(expression, timezone, start, end, limit)
    times: list[datetime] = []
    if limit == 0 or end < start:
        return times
    for instant in iter_fire_times_back(expression, timezone, end):
        if instant < start:
            break
        times.append(instant)
        if len(times) >= limit:
            break
    times.reverse()
    return times
