"""Schedule and webhook policy names and limits, kept apart from the models so the CLI can
offer them as choices without importing SQLAlchemy (``glyphic schedule add --help`` stays
fast)."""

from __future__ import annotations

from glyphic_desktop.errors import UsageError

MISFIRE_POLICIES: tuple[str, ...] = ("once", "skip", "all")
OVERLAP_POLICIES: tuple[str, ...] = ("allow", "skip", "queue")

# ``retry_lost_runs`` of schedules and webhooks (0007): how many times a run lost to a
# process that died or stopped is queued again. The schema's CHECK allows 0..10.
MAX_RETRY_LOST_RUNS = 10
DEFAULT_RETRY_LOST_RUNS = 1


def check_retry_lost_runs(value: object) -> int:
    """A retry count for lost runs, a whole number from 0 (never retry) to 10; a
    :class:`UsageError` naming the bad value otherwise (text such as ``"2"`` is accepted)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 0 <= number <= MAX_RETRY_LOST_RUNS:
        raise UsageError(
            f"retries of lost runs must be a whole number from 0 (never retry) to "
            f"{MAX_RETRY_LOST_RUNS}, not {value!r}"
        )
    return number


def describe_retry_lost_runs(count: int) -> str:
    """``a lost run is retried once`` / ``up to N times`` / ``lost runs are not retried``."""
    if count == 0:
        return "lost runs are not retried"
    if count == 1:
        return "a lost run is retried once"
    return f"a lost run is retried up to {count} times"
