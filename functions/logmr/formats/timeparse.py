"""Fast timestamp helpers shared by the formats.

Every helper returns seconds since the epoch as ``float`` or ``None`` when the
text is not a valid time (month name unknown, day 31 of a 30-day month, hour
25, ...); none of them raises on bad input.

Two values exist per record time (see ``logmr.formats.base``):

* *local* - the wall-clock time as written, counted as if it were UTC;
* *epoch* - UTC seconds: local minus the written UTC offset. A time written
  without an offset is taken as UTC (epoch == local).

Nothing here calls ``strptime``: dates go through integer arithmetic
(``days_from_civil``) and small caches keyed by the date part of the text, so a
log with a handful of distinct days costs one dict look-up per line.
"""

from __future__ import annotations

import re

__all__ = [
    "MONTHS",
    "apache_epoch",
    "apache_local",
    "days_from_civil",
    "iso_epoch",
    "iso_local",
    "parse_iso",
    "parse_yymmdd",
    "syslog_local",
]

#: three-letter English month abbreviations as written in Apache and syslog lines
MONTHS: dict[bytes, int] = {
    name: number
    for number, name in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CACHE_LIMIT = 4096


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_from_civil(year: int, month: int, day: int) -> int | None:
    """Days from 1970-01-01 to the given proleptic Gregorian date, or ``None``.

    ``None`` when the month or day is out of range (Feb 29 only in leap years).
    Integer arithmetic after H. Hinnant's ``days_from_civil``.
    """
    if not 1 <= month <= 12 or day < 1:
        return None
    limit = 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month]
    if day > limit:
        return None
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _clock(hour: int, minute: int, second: int) -> int | None:
    """Seconds into the day; a leap second (``:60``) is allowed."""
    if hour > 23 or minute > 59 or second > 60:
        return None
    return hour * 3600 + minute * 60 + second


# ---------------------------------------------------------------- Apache / CLF

# "01/Dec/2020:08:12" -> local seconds at the start of that minute (None: invalid)
_apache_minutes: dict[bytes, float | None] = {}
_apache_offsets: dict[bytes, int | None] = {}
_MINUTE_CACHE_LIMIT = 1 << 16  # about 45 days of minutes


def _apache_minute(key: bytes) -> float | None:
    """``b"01/Dec/2020:08:12"`` -> seconds at the start of that minute (local)."""
    month = MONTHS.get(key[3:6])
    digits = key[0:2] + key[7:11] + key[12:14] + key[15:17]
    if month is None or len(digits) != 10 or not digits.isdigit():
        return None
    days = days_from_civil(int(key[7:11]), month, int(key[0:2]))
    seconds = _clock(int(key[12:14]), int(key[15:17]), 0)
    if days is None or seconds is None:
        return None
    return float(days * 86400 + seconds)


def _offset_seconds(text: bytes) -> int | None:
    """``b"+0130"`` -> 5400, ``b"-0800"`` -> -28800."""
    if len(text) != 5 or text[0:1] not in (b"+", b"-") or not text[1:].isdigit():
        return None
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 23 or minutes > 59:
        return None
    value = hours * 3600 + minutes * 60
    return -value if text[0:1] == b"-" else value


def apache_local(ts: bytes) -> float | None:
    """Local seconds of an Apache time ``01/Dec/2020:08:12:33 +0000`` (offset ignored).

    ``ts`` has the fixed layout ``DD/Mon/YYYY:HH:MM:SS +zzzz`` that the
    access-log patterns guarantee; the part up to the minute is cached.
    """
    key = ts[:17]
    try:
        base = _apache_minutes[key]
    except KeyError:
        if len(_apache_minutes) >= _MINUTE_CACHE_LIMIT:
            _apache_minutes.clear()
        base = _apache_minutes[key] = _apache_minute(key)
    if base is None:
        return None
    second = ts[18:20]
    if len(second) != 2 or not second.isdigit() or second > b"60":
        return None
    return base + int(second)


def apache_epoch(ts: bytes) -> float | None:
    """UTC seconds of an Apache time ``01/Dec/2020:08:12:33 +0100`` (offset applied)."""
    local = apache_local(ts)
    if local is None:
        return None
    key = ts[21:26]
    try:
        offset = _apache_offsets[key]
    except KeyError:
        if len(_apache_offsets) >= _CACHE_LIMIT:
            _apache_offsets.clear()
        offset = _apache_offsets[key] = _offset_seconds(key)
    if offset is None:
        return None
    return local - offset


# ---------------------------------------------------------------- syslog

_syslog_days: dict[tuple[int, bytes, bytes], int | None] = {}


def syslog_local(ts: bytes, year: int) -> float | None:
    """Seconds of a BSD syslog time ``Nov 18 07:01:02`` / ``Nov  8 07:01:02`` in ``year``."""
    parts = ts.split()
    if len(parts) != 3:
        return None
    month_name, day_text, clock = parts
    key = (year, month_name, day_text)
    try:
        days = _syslog_days[key]
    except KeyError:
        if len(_syslog_days) >= _CACHE_LIMIT:
            _syslog_days.clear()
        month = MONTHS.get(month_name)
        days = None
        if month is not None and day_text.isdigit():
            days = days_from_civil(year, month, int(day_text))
        _syslog_days[key] = days
    if days is None:
        return None
    if len(clock) != 8 or not (clock[0:2] + clock[3:5] + clock[6:8]).isdigit():
        return None
    seconds = _clock(int(clock[0:2]), int(clock[3:5]), int(clock[6:8]))
    if seconds is None:
        return None
    return float(days * 86400 + seconds)


# ---------------------------------------------------------------- ISO 8601

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9})\d*)?)?)?"
    r" ?([Zz]|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)


def parse_iso(text: str | bytes) -> tuple[float, int | None] | None:
    """``(local seconds, offset seconds or None)`` of an ISO 8601 / RFC 3339 time.

    Accepts ``YYYY-MM-DD``, then optionally ``T`` or a space and
    ``HH:MM[:SS[.fraction]]`` (``,`` as decimal mark too), then optionally
    ``Z`` or an offset ``+HH``, ``+HHMM``, ``+HH:MM``. ``Z`` gives offset 0; no
    offset gives ``None``.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    days = days_from_civil(int(year), int(month), int(day))
    if days is None:
        return None
    seconds = _clock(int(hour or 0), int(minute or 0), int(second or 0))
    if seconds is None:
        return None
    local = float(days * 86400 + seconds)
    if fraction:
        local += int(fraction) / 10 ** len(fraction)
    if zone is None:
        return local, None
    if zone in ("Z", "z"):
        return local, 0
    digits = zone[1:].replace(":", "")
    oh, om = int(digits[:2]), int(digits[2:] or 0)
    if oh > 23 or om > 59:
        return None
    offset = oh * 3600 + om * 60
    return local, -offset if zone[0] == "-" else offset


def iso_local(text: str | bytes) -> float | None:
    """Local seconds of an ISO 8601 time (offset not applied)."""
    parsed = parse_iso(text)
    return None if parsed is None else parsed[0]


def iso_epoch(text: str | bytes) -> float | None:
    """UTC seconds of an ISO 8601 time (offset applied; no offset means UTC)."""
    parsed = parse_iso(text)
    if parsed is None:
        return None
    local, offset = parsed
    return local if offset is None else local - offset


# ---------------------------------------------------------------- yy/MM/dd


def parse_yymmdd(text: bytes) -> float | None:
    """Seconds of a Hadoop/Spark time ``17/06/09 20:10:40`` (yy/MM/dd HH:mm:ss).

    Two-digit years follow the POSIX ``%y`` rule: 69-99 are 19xx, 00-68 are 20xx.
    """
    if len(text) != 17 or text[2:3] != b"/" or text[5:6] != b"/":
        return None
    digits = text[0:2] + text[3:5] + text[6:8] + text[9:11] + text[12:14] + text[15:17]
    if not digits.isdigit():
        return None
    yy = int(text[0:2])
    days = days_from_civil(yy + (1900 if yy >= 69 else 2000), int(text[3:5]), int(text[6:8]))
    if days is None:
        return None
    seconds = _clock(int(text[9:11]), int(text[12:14]), int(text[15:17]))
    if seconds is None:
        return None
    return float(days * 86400 + seconds)
