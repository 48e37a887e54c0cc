"""The timestamp helpers of the formats against ``datetime``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logmr.formats import timeparse
from logmr.formats.timeparse import (
    MONTHS,
    apache_epoch,
    apache_local,
    days_from_civil,
    iso_epoch,
    iso_local,
    parse_iso,
    parse_yymmdd,
    syslog_local,
)

EPOCH = date(1970, 1, 1)
_settings = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def utc(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


@pytest.mark.property
@_settings
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_days_from_civil_matches_date(day: date) -> None:
    assert days_from_civil(day.year, day.month, day.day) == (day - EPOCH).days


@pytest.mark.unit
@pytest.mark.parametrize(
    ("year", "month", "day"),
    [(2019, 2, 29), (1900, 2, 29), (2020, 4, 31), (2020, 13, 1), (2020, 0, 1), (2020, 1, 0)],
)
def test_days_from_civil_rejects_invalid_dates(year: int, month: int, day: int) -> None:
    assert days_from_civil(year, month, day) is None


@pytest.mark.unit
def test_leap_days() -> None:
    assert days_from_civil(2000, 2, 29) == (date(2000, 2, 29) - EPOCH).days
    assert days_from_civil(2024, 2, 29) == (date(2024, 2, 29) - EPOCH).days


@pytest.mark.unit
def test_months_table() -> None:
    assert MONTHS[b"Jan"] == 1
    assert MONTHS[b"Dec"] == 12
    assert len(MONTHS) == 12


@pytest.mark.property
@_settings
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_apache_times_match_datetime(moment: datetime, offset_minutes: int) -> None:
    moment = moment.replace(microsecond=0)
    tz = timezone(timedelta(minutes=offset_minutes))
    text = moment.replace(tzinfo=tz).strftime("%d/%b/%Y:%H:%M:%S %z").encode()
    assert apache_local(text) == utc(moment)
    assert apache_epoch(text) == moment.replace(tzinfo=tz).timestamp()


@pytest.mark.unit
def test_apache_time_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeparse, "_MINUTE_CACHE_LIMIT", 3)
    timeparse._apache_minutes.clear()
    for minute in range(10):
        text = f"01/Dec/2020:08:{minute:02d}:33 +0000".encode()
        assert apache_local(text) == utc(datetime(2020, 12, 1, 8, minute, 33))
        assert len(timeparse._apache_minutes) <= 3


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        b"31/Nov/2020:00:00:00 +0000",
        b"01/Nox/2020:00:00:00 +0000",
        b"01/Nov/2020:25:00:00 +0000",
        b"01/Nov/2020:00:00:99 +0000",
        b"01/Nov/2020:00:00:0",
        b"",
    ],
)
def test_apache_invalid(text: bytes) -> None:
    assert apache_local(text) is None
    assert apache_epoch(text) is None


@pytest.mark.unit
@pytest.mark.parametrize("offset", [b"+2400", b"+0060", b"x0000", b"+00"])
def test_apache_invalid_offset(offset: bytes) -> None:
    text = b"01/Nov/2020:00:00:00 " + offset
    assert apache_local(text) == utc(datetime(2020, 11, 1))
    assert apache_epoch(text) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "year", "want"),
    [
        (b"Nov 18 07:45:00", 2020, datetime(2020, 11, 18, 7, 45)),
        (b"Nov  8 07:45:00", 2020, datetime(2020, 11, 8, 7, 45)),
        (b"Feb 29 00:00:00", 2024, datetime(2024, 2, 29)),
        (b"Jan  1 00:00:00", 1970, datetime(1970, 1, 1)),
    ],
)
def test_syslog_local(text: bytes, year: int, want: datetime) -> None:
    assert syslog_local(text, year) == utc(want)


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [b"Feb 29 00:00:00", b"Foo 1 00:00:00", b"Nov 31 00:00:00", b"Nov 1 24:00:00", b"Nov 1", b""],
)
def test_syslog_invalid(text: bytes) -> None:
    assert syslog_local(text, 2019) is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "local", "offset"),
    [
        ("2018-06-19T00:01:41.028206Z", datetime(2018, 6, 19, 0, 1, 41, 28206), 0),
        ("2018-06-19T00:01:41z", datetime(2018, 6, 19, 0, 1, 41), 0),
        ("2018-06-19 00:01:41,5", datetime(2018, 6, 19, 0, 1, 41, 500000), None),
        ("2018-06-19T00:01", datetime(2018, 6, 19, 0, 1), None),
        ("2018-06-19", datetime(2018, 6, 19), None),
        ("2018-06-19T00:01:41+05:30", datetime(2018, 6, 19, 0, 1, 41), 19800),
        ("2018-06-19T00:01:41-0800", datetime(2018, 6, 19, 0, 1, 41), -28800),
        ("2018-06-19T00:01:41+01", datetime(2018, 6, 19, 0, 1, 41), 3600),
        ("2018-06-19T00:01:41.123456789123Z", datetime(2018, 6, 19, 0, 1, 41, 123457), 0),
        (b"2003-10-11T22:14:15.003Z", datetime(2003, 10, 11, 22, 14, 15, 3000), 0),
    ],
)
def test_parse_iso(text: str | bytes, local: datetime, offset: int | None) -> None:
    parsed = parse_iso(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(utc(local), abs=1e-6)
    assert parsed[1] == offset
    assert iso_local(text) == parsed[0]
    assert iso_epoch(text) == parsed[0] - (offset or 0)


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "",
        "2018-6-19",
        "2018-02-30T00:00:00Z",
        "2018-06-19T24:00:00Z",
        "2018-06-19T00:01:41+25:00",
        "2018-06-19T00:01:41 UTC",
        "2018-06-19T00:01:41Zjunk",
        "٢٠١٨-06-19",
        "yesterday",
    ],
)
def test_parse_iso_invalid(text: str) -> None:
    assert parse_iso(text) is None
    assert iso_local(text) is None
    assert iso_epoch(text) is None


@pytest.mark.property
@_settings
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_parse_iso_matches_fromisoformat(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = aware.isoformat()
    assert iso_epoch(text) == pytest.approx(aware.timestamp(), abs=1e-6)
    assert iso_local(text) == pytest.approx(utc(moment), abs=1e-6)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "want"),
    [
        (b"17/06/09 20:10:40", datetime(2017, 6, 9, 20, 10, 40)),
        (b"68/12/31 23:59:59", datetime(2068, 12, 31, 23, 59, 59)),
        (b"69/01/01 00:00:00", datetime(1969, 1, 1)),
    ],
)
def test_parse_yymmdd(text: bytes, want: datetime) -> None:
    assert parse_yymmdd(text) == utc(want)


@pytest.mark.unit
@pytest.mark.parametrize(
    "text", [b"17/13/09 20:10:40", b"17/06/31 20:10:40", b"17-06-09 20:10:40", b"17/06/09", b""]
)
def test_parse_yymmdd_invalid(text: bytes) -> None:
    assert parse_yymmdd(text) is None
