"""access_report against a reference computed here from an independent reading
of the log, its batch path against its per-record mapper, and its splitting."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics_reference import (
    Row,
    access_report_rows,
    iso,
    rank_interval,
    read_access,
    without_estimates,
)
from helpers import generated_logs, run_inline
from logmr.formats import get_format
from logmr.formats.base import Column, Format
from logmr.jobs.base import KV
from logmr.jobs.report import AccessReport
from logmr.jobs.sketches import KLL_RANK_ERROR

pytestmark = pytest.mark.functional


class PerRecordAccessReport(AccessReport):
    """The same job without its columns: MapSide calls ``mapper`` per record."""

    name = "access_report_per_record"

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.per_record = self.columns
        self.columns = ()  # MapSide then calls ``mapper`` per record

    def mapper(self, record: Any) -> Iterator[KV]:
        yield from self.map_columns(
            [Column([self.fields[field](record)]) for field in self.per_record]
        )


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_logs(tmp_path_factory.mktemp("logs"), lines=6000, seed=31)["access"]


@pytest.fixture(scope="module")
def rows(log: Path) -> list[Row]:
    return read_access(log)


def sizes_per_window(rows: list[Row], window: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.epoch is not None:
            found[f"window:{iso(int(row.epoch // window * window))}"].append(float(row.size))
    return {key: sorted(values) for key, values in found.items()}


@pytest.mark.parametrize("window", ["1m", "5m"])
def test_rows_and_summary_match_the_reference(log: Path, rows: list[Row], window: str) -> None:
    seconds = {"1m": 60, "5m": 300}[window]
    record, results = run_inline(log, "access_report", params={"window": window, "top": "5"})
    assert without_estimates(results) == access_report_rows(rows, seconds)
    for key, exact in sizes_per_window(rows, seconds).items():
        for name, rank in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            below, at_or_below = rank_interval(exact, results[key][name])
            assert below - KLL_RANK_ERROR <= rank <= at_or_below + KLL_RANK_ERROR, (key, name)
        assert results[key]["sketch"].startswith("kll1:")

    paths = Counter(row.path for row in rows if row.path is not None)
    path_bytes = Counter()
    for row in rows:
        if row.path is not None:
            path_bytes[row.path] += row.size
    top = sorted(paths.items(), key=lambda item: (-item[1], item[0]))[:5]
    summary = record.summary
    assert summary["requests"] == len(rows)
    assert summary["bytes"] == sum(row.size for row in rows)
    assert summary["errors"] == sum(row.error for row in rows)
    assert summary["status"] == dict(sorted(Counter(row.status for row in rows).items()))
    assert summary["top_paths"] == [[path, count, path_bytes[path]] for path, count in top]
    assert summary["distinct_paths"] == len(paths)
    windows = access_report_rows(rows, seconds)
    assert [w[:3] for w in summary["windows"]] == sorted(
        [key.removeprefix("window:"), value["count"], value["errors"]]
        for key, value in windows.items()
        if key.startswith("window:")
    )
    assert all(len(w[3]) == 3 for w in summary["windows"])


def test_without_percentiles(log: Path, rows: list[Row]) -> None:
    record, results = run_inline(log, "access_report", params={"percentiles": "false"})
    assert results == access_report_rows(rows, 3600)
    assert all(window[3] is None for window in record.summary["windows"])


def test_without_windows(log: Path, rows: list[Row]) -> None:
    """``windows=false``: the same rows and summary but the windows, and the
    time is not among the columns the format extracts."""
    record, results = run_inline(log, "access_report", params={"windows": "false"})
    full = access_report_rows(rows, 3600)
    assert results == {key: value for key, value in full.items() if not key.startswith("window:")}
    with_windows, _ = run_inline(log, "access_report")
    assert record.summary == {**with_windows.summary, "windows": []}
    assert record.counters == with_windows.counters
    job = AccessReport({"windows": "false"})
    job.bind(get_format("apache_combined"))
    assert job.columns == ("status", "bytes", "path")


@pytest.mark.parametrize("windows", ["true", "false"])
def test_the_batch_path_equals_the_per_record_mapper(log: Path, windows: str) -> None:
    params = {"window": "1m", "percentiles": "false", "windows": windows}
    _, batched = run_inline(log, "access_report", params=params)
    _, per_record = run_inline(log, "test_access_report:PerRecordAccessReport", params=params)
    assert batched == per_record


def test_many_chunks_and_reducers_keep_exact_fields(log: Path, rows: list[Row]) -> None:
    record, results = run_inline(
        log, "access_report", params={"window": "1m"}, reducers=7, chunk_size=64 * 1024
    )
    assert record.counters["records"] == len(rows)
    assert without_estimates(results) == access_report_rows(rows, 60)
    for key, exact in sizes_per_window(rows, 60).items():
        below, at_or_below = rank_interval(exact, results[key]["p95"])
        assert below - KLL_RANK_ERROR <= 0.95 <= at_or_below + KLL_RANK_ERROR


@pytest.mark.parametrize("windows", ["true", "false"])
def test_records_missing_a_status_a_size_or_a_path(tmp_path: Path, windows: str) -> None:
    """JSON records may lack any field: such a record still counts in the
    totals (its size as 0), and the missing fields are counted by name."""
    records = [
        {"ts": "2024-03-01T10:00:00Z", "status": 200, "bytes": 100, "path": "/a"},
        {"ts": "2024-03-01T10:00:01Z", "status": 404, "bytes": 20, "path": "/a"},
        {"ts": "2024-03-01T10:00:02Z", "status": 500, "path": "/b"},
        {"ts": "2024-03-01T10:00:03Z", "bytes": 7, "path": "/b"},
        {"ts": "2024-03-01T10:00:04Z", "status": 200, "bytes": 5},
        {"ts": "2024-03-01T11:00:00Z", "status": 200, "bytes": 100, "path": "/a"},
    ]
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    params = {"windows": windows, "percentiles": "false", "tz": "utc"}
    record, results = run_inline(log, "access_report", params=params, fmt="jsonl")
    want: dict[str, Any] = {
        "status:200": 3,
        "status:404": 1,
        "status:500": 1,
        "path:/a": {"count": 3, "bytes": 220},
        "path:/b": {"count": 2, "bytes": 7},
        "total": {"count": 6, "bytes": 232, "errors": 2},
    }
    if windows == "true":
        want["window:2024-03-01T10:00:00Z"] = {"count": 5, "errors": 2, "bytes": 132}
        want["window:2024-03-01T11:00:00Z"] = {"count": 1, "errors": 0, "bytes": 100}
    assert results == want
    assert {name: record.counters.get(name) for name in ("no_status", "no_bytes", "no_path")} == {
        "no_status": 1,
        "no_bytes": 1,
        "no_path": 1,
    }
