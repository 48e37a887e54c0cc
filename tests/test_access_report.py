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
    is_static,
    iso,
    rank_interval,
    read_access,
    without_estimates,
)
from helpers import generated_logs, run_inline
from logmr.formats import get_format
from logmr.formats.base import Column, Format
from logmr.jobs.base import KV, key_text
from logmr.jobs.report import AccessReport, _prefixed_all
from logmr.jobs.report import is_static as report_is_static
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
    job = AccessReport({"windows": "false", "panels": "false"})
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


@pytest.mark.parametrize(("windows", "panels"), [("true", "false"), ("false", "true")])
def test_records_missing_a_status_a_size_or_a_path(
    tmp_path: Path, windows: str, panels: str
) -> None:
    """JSON records may lack any field: such a record still counts in the
    totals (its size as 0), and the missing fields are counted by name (the
    panels' too: these records have no client, referer, user agent nor method)."""
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
    params = {"windows": windows, "percentiles": "false", "tz": "utc", "panels": panels}
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
    if panels == "true":
        want["notfound:/a"] = 1
        want["kind:dynamic"] = {"count": 5, "bytes": 227}
        for field in ("client", "referer", "user_agent", "method"):
            assert record.counters[f"no_{field}"] == len(records)
        assert record.summary["top_not_found"] == [["/a", 1]]
        assert record.summary["static"] == {"count": 0, "bytes": 0}
    assert results == want
    assert {name: record.counters.get(name) for name in ("no_status", "no_bytes", "no_path")} == {
        "no_status": 1,
        "no_bytes": 1,
        "no_path": 1,
    }


class PerRecordMapper(AccessReport):
    """The same job through its own per-record ``mapper``."""

    name = "access_report_mapper"

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.columns = ()


def test_the_per_record_mapper_yields_the_panels_too(log: Path, rows: list[Row]) -> None:
    params = {"percentiles": "false", "windows": "false"}
    _, batched = run_inline(log, "access_report", params=params)
    _, per_record = run_inline(log, "test_access_report:PerRecordMapper", params=params)
    assert per_record == batched


def test_panels_summary_matches_the_reference(log: Path, rows: list[Row]) -> None:
    record, _ = run_inline(log, "access_report", params={"top": "5", "windows": "false"})
    summary = record.summary

    def top(counter: Counter[str]) -> list[list[Any]]:
        return [[k, n] for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]

    clients = Counter(row.client for row in rows)
    referers = Counter(row.referer for row in rows)
    agents = Counter(row.agent for row in rows)
    missing = Counter(row.path for row in rows if row.status == "404" and row.path is not None)
    assert summary["top_clients"] == top(clients)
    assert summary["distinct_clients"] == len(clients)
    assert summary["top_referers"] == top(referers)
    assert summary["distinct_referers"] == len(referers)
    assert summary["top_agents"] == top(agents)
    assert summary["distinct_agents"] == len(agents)
    assert summary["top_not_found"] == top(missing)
    assert summary["distinct_not_found"] == len(missing)
    methods = Counter(row.method for row in rows if row.method is not None)
    assert summary["methods"] == dict(sorted(methods.items(), key=lambda kv: (-kv[1], kv[0])))
    static = [row for row in rows if row.path is not None and is_static(row.path)]
    dynamic = [row for row in rows if row.path is not None and not is_static(row.path)]
    assert summary["static"] == {"count": len(static), "bytes": sum(r.size for r in static)}
    assert summary["dynamic"] == {"count": len(dynamic), "bytes": sum(r.size for r in dynamic)}
    assert static and dynamic  # the generated log has both


def test_without_panels_the_results_and_summary_are_the_old_ones(
    log: Path, rows: list[Row]
) -> None:
    record, results = run_inline(
        log, "access_report", params={"panels": "false", "percentiles": "false"}
    )
    assert results == access_report_rows(rows, 3600, panels=False)
    assert "top_clients" not in record.summary
    assert not any(name.startswith("no_") for name in record.counters)


def test_clients_false_leaves_the_clients_panel_out(log: Path, rows: list[Row]) -> None:
    params = {"windows": "false", "clients": "false"}
    record, results = run_inline(log, "access_report", params=params)
    full = access_report_rows(rows, 3600)
    want = {k: v for k, v in full.items() if not k.startswith(("window:", "client:"))}
    assert results == want
    assert "top_clients" not in record.summary and "distinct_clients" not in record.summary
    assert record.summary["top_agents"]


def test_common_log_format_has_no_referer_nor_agent_panel(tmp_path: Path) -> None:
    log = tmp_path / "common.log"
    log.write_text(
        '10.0.0.1 - - [01/Mar/2024:10:00:00 +0000] "GET /app.JS?v=2 HTTP/1.1" 200 10\n'
        '10.0.0.2 - - [01/Mar/2024:10:00:01 +0000] "POST /missing HTTP/1.1" 404 3\n'
        '10.0.0.1 - - [01/Mar/2024:10:00:02 +0000] "GET / HTTP/1.1" 200 5\n'
    )
    record, results = run_inline(
        log, "access_report", params={"windows": "false"}, fmt="apache_common"
    )
    assert {key: value for key, value in results.items() if key.split(":")[0] in PANELS} == {
        "client:10.0.0.1": 2,
        "client:10.0.0.2": 1,
        "method:GET": 2,
        "method:POST": 1,
        "notfound:/missing": 1,
        "kind:static": {"count": 1, "bytes": 10},
        "kind:dynamic": {"count": 2, "bytes": 8},
    }
    assert record.summary["top_referers"] == [] and record.summary["top_agents"] == []


PANELS = ("client", "referer", "agent", "method", "notfound", "kind")


@pytest.mark.parametrize(
    ("path", "static"),
    [
        ("/a/app.JS?v=3", True),
        ("/img/logo.png", True),
        ("/fonts/x.woff2#top", True),
        ("/products/12", False),
        ("/", False),
        ("/.css", False),
        ("/dir.css/page", False),
        ("/search?q=a.png", False),
        ("/api/data.json", False),
    ],
)
def test_static_is_by_extension_of_the_last_segment(path: str, static: bool) -> None:
    assert report_is_static(path) is static
    assert is_static(path) is static  # the reference agrees


def test_keys_decoded_at_once_equal_keys_decoded_one_by_one() -> None:
    raws = [b"ok", b"caf\xc3\xa9", b"bad\xe2\x82", b"\xff\xfe", b"", b"\\xff"]
    column = Column(raws)
    one_by_one = ["agent:" + key_text(raw) for raw in raws]
    assert _prefixed_all("agent:", column, raws) == one_by_one
    requests = [b"GET /a HTTP/1.1", b"GET /caf\xc3\xa9", b"BROKEN", b"POST /x\xff y"]
    paths = Column(requests, lambda raw: raw.split()[1] if len(raw.split()) > 1 else None)
    values = map(paths.value, requests)
    want = [None if value is None else "path:" + key_text(value) for value in values]
    assert _prefixed_all("path:", paths, requests) == want  # a None: one by one
    assert _prefixed_all("path:", paths, requests[:2]) == want[:2]  # all bytes: at once
