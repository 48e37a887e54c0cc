"""Time windows shared by the analytics jobs: parameters, window starts, names.

Windows are aligned to the Unix epoch: a window of ``size`` seconds starts at a
multiple of ``size`` (a sliding window at a multiple of its ``slide``), counted
on the clock the ``tz`` parameter picks:

* ``tz=utc`` (default) - the record's UTC time (``epoch``: the written time
  minus its written offset); names end in ``Z`` (``2024-03-01T10:00:00Z``);
* ``tz=local`` - the time as written, offset ignored (``local_time``), so a
  1d window is a calendar day of the log's own clock; names carry no zone.

This is the rule of ``requests_per_window``; docs/analytics.md states it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logmr.formats.base import Format, Getter
from logmr.jobs.params import Param, duration_seconds

#: a window parameter meaning "one window over the whole job"
WHOLE_JOB = "all"

TZ_PARAM = Param(
    "tz",
    str,
    "utc",
    "utc: windows in UTC; local: in the log's own clock as written",
    choices=("utc", "local"),
)


def window_or_whole(text: str) -> int:
    """A window size in seconds, or 0 for ``0``/``all``/``none`` (the whole job)."""
    if text.strip().lower() in {"0", WHOLE_JOB, "none"}:
        return 0
    try:
        return duration_seconds(text)
    except ValueError:
        raise ValueError("expected a duration such as 30s, 5m, 1h or 1d, or all") from None


def time_getter(fmt: Format, tz: str) -> Getter:
    """The getter of the clock ``tz`` names (FormatMismatchError if the format has none)."""
    return fmt.getter("epoch" if tz == "utc" else "local_time")


def window_name(start: int, tz: str) -> str:
    """ISO 8601 start of a window: ``...Z`` in UTC, no zone for the log's local clock."""
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return stamp + "Z" if tz == "utc" else stamp


def is_error_status(status: Any) -> bool:
    """A 4xx or 5xx HTTP status (``bytes`` or ``str``)."""
    first = status[:1]
    return first in (b"4", b"5", "4", "5")


def error_classifier(fmt: Format) -> Callable[[Any], int] | None:
    """1 for an error record, 0 otherwise: a 4xx/5xx ``status`` when the format
    has one, else a ``level`` in ``ERROR_LEVELS``; ``None`` when it has neither.
    A record without the field is no error."""
    from logmr.jobs.builtin import ERROR_LEVELS, _text

    getters = fmt.getters()
    status_of = getters.get("status")
    if status_of is not None:

        def by_status(record: Any) -> int:
            status = status_of(record)
            return 1 if status is not None and is_error_status(status) else 0

        return by_status
    level_of = getters.get("level")
    if level_of is not None:

        def by_level(record: Any) -> int:
            level = level_of(record)
            return 1 if level is not None and _text(level).upper() in ERROR_LEVELS else 0

        return by_level
    return None
