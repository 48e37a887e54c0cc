"""Time ranges: a job request's ``since`` and ``until`` (docs/time-ranges.md).

A bound is an absolute ISO-8601 / RFC 3339 date or time (``2026-12-05``,
``2026-12-05T10:00``, ``2026-12-05T10:00:00+02:00``, ``...Z``; without an
offset it is UTC), or a time relative to now (``-30m``, ``-1h``, ``-2d``,
``-1w``, ``-45s``; ``now``). A duration without its minus (``1h``) is the
same: always back from now (a command line's ``--since 1h``, which argparse
would take ``--since -1h`` for an option). A relative bound is resolved once, when the
request becomes a spec (``resolve``), to absolute UTC text, so that Plan and
every map task agree on the same instants. The range is half open:
``since <= t < until``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from logmr.errors import InvalidParameterError

_RELATIVE = re.compile(r"-?\s*(\d{1,7})\s*([smhdw])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EXAMPLES = "an ISO-8601 time (2026-12-05T10:00:00Z, 2026-12-05) or a relative one (-30m, -1h, 2d)"


def is_relative(text: str) -> bool:
    """``text`` is a bound relative to now (``-1h``, ``now``)."""
    text = text.strip().lower()
    return text == "now" or _RELATIVE.fullmatch(text) is not None


def parse_absolute(text: str, name: str = "time") -> datetime:
    """An absolute bound as an aware UTC datetime (no offset given: UTC);
    ``InvalidParameterError`` naming ``name`` when it is not one."""
    cleaned = text.strip()
    if cleaned[-1:] in ("z", "Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        hint = ": resolve it first (logmr.timerange.resolve)" if is_relative(text) else ""
        raise InvalidParameterError(f"{name} {text!r} is not {_EXAMPLES}{hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def resolve(text: str, now: datetime, name: str = "time") -> str:
    """``text`` as absolute UTC RFC 3339 text: a relative bound counted back
    from ``now``, an absolute one normalised to UTC."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(f"{name} must be {_EXAMPLES}, got {text!r}")
    lowered = text.strip().lower()
    if lowered == "now":
        return utc_text(now)
    found = _RELATIVE.fullmatch(lowered)
    if found:
        seconds = int(found[1]) * _UNIT_SECONDS[found[2]]
        return utc_text(now - timedelta(seconds=seconds))
    return utc_text(parse_absolute(text, name))


def utc_text(moment: datetime) -> str:
    """``2026-12-05T10:00:00Z`` (microseconds when there are some)."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if not moment.microsecond else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


@dataclass(frozen=True)
class TimeRange:
    """``[since, until)`` in UTC seconds since the epoch; ``None``: unbounded."""

    since: float | None = None
    until: float | None = None

    @classmethod
    def of(cls, since: str, until: str) -> TimeRange | None:
        """The range of a spec's absolute bounds (``""``: unbounded); ``None``
        when neither is given. An empty range is refused."""
        if not since and not until:
            return None
        start = parse_absolute(since, "since").timestamp() if since else None
        end = parse_absolute(until, "until").timestamp() if until else None
        if start is not None and end is not None and start >= end:
            raise InvalidParameterError(
                f"since ({since}) must be before until ({until}): the range is empty"
            )
        return cls(start, end)

    def contains(self, epoch: float) -> bool:
        """``since <= epoch < until``."""
        return (self.since is None or epoch >= self.since) and (
            self.until is None or epoch < self.until
        )

    def overlaps(self, start: float, end: float) -> bool:
        """The span ``[start, end)`` holds a time of the range."""
        return (self.since is None or end > self.since) and (
            self.until is None or start < self.until
        )

    def covers(self, start: float, end: float) -> bool:
        """Every time of ``[start, end)`` is in the range."""
        return (self.since is None or start >= self.since) and (
            self.until is None or end <= self.until
        )

    def __str__(self) -> str:
        low = "" if self.since is None else utc_text(datetime.fromtimestamp(self.since, UTC))
        high = "" if self.until is None else utc_text(datetime.fromtimestamp(self.until, UTC))
        return f"[{low or '-inf'}, {high or '+inf'})"
