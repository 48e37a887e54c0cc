"""window_counts, sessions, percentiles and distinct_count against references
computed here from an independent reading of the log (tests/analytics_reference.py)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from analytics_reference import (
    Row,
    iso,
    rank_interval,
    read_access,
    session_groups,
    without_estimates,
)
from helpers import generated_logs, run_inline
from logmr.errors import FormatMismatchError, InvalidParameterError
from logmr.jobs import load_job
from logmr.jobs.sketches import HLL_RSE, KLL_RANK_ERROR, PERCENTILES

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generated_logs(tmp_path_factory.mktemp("logs"), lines=6000, seed=23)


@pytest.fixture(scope="module")
def rows(logs: dict[str, Path]) -> list[Row]:
    return read_access(logs["access"])


def run(path: Path, job: str, **params: str) -> tuple[Any, dict[str, Any]]:
    return run_inline(path, job, params=params, reducers=3, chunk_size=64 * 1024)


# -- window_counts -----------------------------------------------------------------


def windows_of(when: float, window: int, slide: int) -> list[int]:
    """Every start ``k * slide`` with ``start <= when < start + window``, by enumeration."""
    first = int((when - window) // slide)
    return [
        k * slide
        for k in range(first, int(when // slide) + 1)
        if k * slide <= when < k * slide + window
    ]


def window_reference(rows: list[Row], window: int, slide: int) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.epoch is None:
            continue
        for start in windows_of(row.epoch, window, slide):
            entry = counts.setdefault(iso(start), {"count": 0, "errors": 0})
            entry["count"] += 1
            entry["errors"] += row.error
    return counts


@pytest.mark.parametrize(("window", "slide"), [("5m", "window"), ("5m", "1m"), ("2m", "30s")])
def test_window_counts_tumbling_and_sliding(
    logs: dict[str, Path], rows: list[Row], window: str, slide: str
) -> None:
    seconds = {"5m": 300, "2m": 120, "1m": 60, "30s": 30}
    size = seconds[window]
    step = size if slide == "window" else seconds[slide]
    record, results = run(logs["access"], "window_counts", window=window, slide=slide)
    want = window_reference(rows, size, step)
    assert results == want
    assert record.summary["windows"] == len(want)
    if step == size:
        assert record.summary["records"] == sum(row.epoch is not None for row in rows)
        assert record.summary["errors"] == sum(row.error for row in rows if row.epoch is not None)


LOCAL_LINES = [
    '1.1.1.1 - - [01/Dec/2020:23:59:59 +0100] "GET / HTTP/1.1" 200 1 "-" "-"',
    '1.1.1.1 - - [02/Dec/2020:00:00:00 +0100] "GET / HTTP/1.1" 500 1 "-" "-"',
    '1.1.1.2 - - [01/Dec/2020:22:30:00 -0200] "GET / HTTP/1.1" 404 1 "-" "-"',
]


def test_window_counts_utc_and_local_clocks(tmp_path: Path) -> None:
    log = tmp_path / "tz.log"
    log.write_text("\n".join(LOCAL_LINES) + "\n")
    _, utc = run(log, "window_counts", window="1d")
    _, local = run(log, "window_counts", window="1d", tz="local")
    # UTC: 22:59:59Z and 23:00:00Z on Dec 1, and 00:30Z on Dec 2
    assert utc == {
        "2020-12-01T00:00:00Z": {"count": 2, "errors": 1},
        "2020-12-02T00:00:00Z": {"count": 1, "errors": 1},
    }
    # local: the days as written, whatever the offsets
    assert local == {
        "2020-12-01T00:00:00": {"count": 2, "errors": 1},
        "2020-12-02T00:00:00": {"count": 1, "errors": 1},
    }


_APP = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),\d{3} ([A-Z]+) ")


def test_window_counts_errors_by_level_in_an_app_log(logs: dict[str, Path]) -> None:
    from datetime import UTC, datetime

    want: dict[str, dict[str, int]] = {}
    for line in logs["app"].read_text(errors="replace").splitlines():
        match = _APP.match(line)
        if match is None:
            continue
        *parts, level = match.groups()
        when = datetime(*map(int, parts), tzinfo=UTC).timestamp()
        entry = want.setdefault(iso(int(when // 60 * 60)), {"count": 0, "errors": 0})
        entry["count"] += 1
        entry["errors"] += level in {"ERROR", "FATAL"}
    _, results = run(logs["app"], "window_counts", window="1m")
    assert results == want


# -- sessions ------------------------------------------------------------------------


def length_label(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    for label, limit in (("<1m", 60), ("<5m", 300), ("<30m", 1800), ("<1h", 3600), ("<1d", 86400)):
        if seconds < limit:
            return label
    return ">=1d"


def requests_label(requests: int) -> str:
    for label, low, high in (("1", 1, 1), ("2-5", 2, 5), ("6-10", 6, 10), ("11-50", 11, 50)):
        if low <= requests <= high:
            return label
    return "51-100" if requests <= 100 else ">100"


def session_reference(rows: list[Row], gap: int) -> dict[str, list[tuple[float, float, int]]]:
    """Sessions per client: (first, last, requests), split where a pause exceeds ``gap``."""
    return {
        client: [(group[0], group[-1], len(group)) for group in groups]
        for client, groups in session_groups(rows, gap).items()
    }


@pytest.mark.parametrize("gap", ["1m", "30m"])
def test_sessions(logs: dict[str, Path], rows: list[Row], gap: str) -> None:
    seconds = {"1m": 60, "30m": 1800}[gap]
    record, results = run(logs["access"], "sessions", gap=gap)
    want = session_reference(rows, seconds)
    assert set(results) == set(want)
    length_labels = ["0s", "<1m", "<5m", "<30m", "<1h", "<1d", ">=1d"]
    request_labels = ["1", "2-5", "6-10", "11-50", "51-100", ">100"]
    for client, sessions in want.items():
        lengths = [last - first for first, last, _ in sessions]
        by_length = Counter(length_label(length) for length in lengths)
        by_requests = Counter(requests_label(n) for _, _, n in sessions)
        assert results[client] == {
            "count": len(sessions),
            "requests": sum(n for _, _, n in sessions),
            "total_s": sum(lengths),
            "longest_s": max(lengths),
            "by_length": [by_length[label] for label in length_labels],
            "by_requests": [by_requests[label] for label in request_labels],
        }, client
    every = [session for sessions in want.values() for session in sessions]
    summary = record.summary
    assert summary["clients"] == len(want)
    assert summary["sessions"] == len(every)
    assert summary["requests"] == sum(n for _, _, n in every)
    assert summary["session_length"] == {
        label: sum(length_label(last - first) == label for first, last, _ in every)
        for label in length_labels
    }
    assert summary["requests_per_session"] == {
        label: sum(requests_label(n) == label for _, _, n in every) for label in request_labels
    }
    if seconds == 60:  # the short gap really splits sessions
        assert len(every) > len(want)


# -- percentiles ----------------------------------------------------------------------


def values_per_window(rows: list[Row], window: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.epoch is not None:
            found[iso(int(row.epoch // window * window)) if window else "all"].append(
                float(row.size)
            )
    return {key: sorted(values) for key, values in found.items()}


def assert_quantiles(got: dict[str, Any], exact: list[float]) -> None:
    assert (got["count"], got["min"], got["max"]) == (len(exact), exact[0], exact[-1])
    for name, rank in PERCENTILES:
        if name not in got:
            continue
        below, at_or_below = rank_interval(exact, got[name])
        assert below - KLL_RANK_ERROR <= rank <= at_or_below + KLL_RANK_ERROR, (name, got[name])


@pytest.mark.parametrize("window", ["1m", "all"])
def test_percentiles_per_window(logs: dict[str, Path], rows: list[Row], window: str) -> None:
    record, results = run(logs["access"], "percentiles", window=window)
    want = values_per_window(rows, 60 if window == "1m" else 0)
    assert set(results) == set(want)
    for key, exact in want.items():
        assert_quantiles(results[key], exact)
        assert results[key]["sketch"].startswith("kll1:")
    overall = sorted(value for values in want.values() for value in values)
    assert_quantiles(record.summary["overall"], overall)
    assert record.summary["windows"] == len(want)


def test_percentiles_need_a_format_with_the_field(logs: dict[str, Path]) -> None:
    with pytest.raises(FormatMismatchError, match="latency"):
        run_inline(logs["access"], "percentiles", params={"field": "latency"}, fmt="apache_common")


def test_a_combined_log_without_trailing_fields_has_no_latency(logs: dict[str, Path]) -> None:
    """``apache_combined`` names ``latency`` (a trailing seconds field) on
    every line that has one: the generated log has none, so every record
    counts in ``no_latency`` and there is no window."""
    record, results = run_inline(
        logs["access"], "percentiles", params={"field": "latency"}, fmt="apache_combined"
    )
    assert results == {}
    assert record.counters["no_latency"] == record.counters["records"] > 0


# -- distinct_count ----------------------------------------------------------------------


def within_three_errors(estimate: int, exact: int) -> bool:
    return abs(estimate - exact) <= max(3 * HLL_RSE * exact, 1)


@pytest.mark.parametrize(("field", "window"), [("client", "all"), ("client", "1m"), ("path", "5m")])
def test_distinct_count(logs: dict[str, Path], rows: list[Row], field: str, window: str) -> None:
    size = {"all": 0, "1m": 60, "5m": 300}[window]
    record, results = run(logs["access"], "distinct_count", field=field, window=window)
    values: dict[str, set[str | None]] = defaultdict(set)
    records: Counter[str] = Counter()
    for row in rows:
        value = getattr(row, field)
        if value is None or (size and row.epoch is None):
            continue
        key = iso(int(row.epoch // size * size)) if size and row.epoch is not None else "all"
        values[key].add(value)
        records[key] += 1
    assert set(results) == set(values)
    for key, distinct in values.items():
        got = results[key]
        assert got["count"] == records[key]
        assert within_three_errors(got["distinct"], len(distinct)), (key, got["distinct"])
        assert got["lower"] <= got["distinct"] <= got["upper"]
    overall = set().union(*values.values())
    assert record.summary["records"] == sum(records.values())
    assert within_three_errors(record.summary["distinct"], len(overall))


# -- splitting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "params"),
    [
        ("window_counts", {"window": "2m", "slide": "1m"}),
        ("sessions", {"gap": "1m"}),
        ("percentiles", {"window": "1m"}),
        ("distinct_count", {"window": "5m"}),
    ],
)
def test_many_chunks_and_reducers_keep_exact_fields(
    logs: dict[str, Path], rows: list[Row], job: str, params: dict[str, str]
) -> None:
    _, one = run_inline(logs["access"], job, params=params, reducers=1, chunk_size=8 << 20)
    record, many = run_inline(logs["access"], job, params=params, reducers=5, chunk_size=64 * 1024)
    assert record.counters["records"] == len(rows)
    assert without_estimates(one) == without_estimates(many)
    if job == "percentiles":  # and the quantiles keep their guarantee
        for key, exact in values_per_window(rows, 60).items():
            assert_quantiles(many[key], exact)


# -- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "params", "message"),
    [
        ("window_counts", {"window": "1h", "slide": "7m"}, "must divide"),
        ("window_counts", {"window": "1m", "slide": "2m"}, "must divide"),
        ("window_counts", {"window": "1d", "slide": "1s"}, "at most 1440"),
        ("window_counts", {"window": "5x"}, "window='5x'"),
        ("window_counts", {"tz": "mars"}, "must be one of utc, local"),
        ("sessions", {"gap": "0s"}, "gap='0s'"),
        ("sessions", {"key": "epoch"}, "key='epoch'"),
        ("percentiles", {"field": "status"}, "field='status'"),
        ("percentiles", {"window": "-5m"}, "window='-5m'"),
        ("distinct_count", {"field": "local_time"}, "field='local_time'"),
        ("distinct_count", {"bogus": "1"}, "unknown parameter 'bogus'"),
        ("access_report", {"top": "0"}, "top='0'"),
        ("access_report", {"percentiles": "maybe"}, "percentiles='maybe'"),
    ],
)
def test_bad_parameters(job: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        load_job(job, params)
