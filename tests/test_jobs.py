"""Each built-in job against a reference computed here, independently, on a
small hand-written log (parsed with plain string operations, not logmr)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import run_inline
from logmr.errors import FormatMismatchError
from logmr.formats.base import Format
from logmr.jobs.builtin import TopPaths

pytestmark = pytest.mark.functional

ACCESS_LINES = [
    '10.0.0.1 - - [01/Dec/2020:08:00:01 +0000] "GET /a?x=1 HTTP/1.1" 200 100 "-" "curl/8"',
    '10.0.0.2 - - [01/Dec/2020:08:10:00 +0000] "GET /a?x=2 HTTP/1.1" 404 50 "-" "curl/8"',
    '10.0.0.1 - - [01/Dec/2020:08:59:59 +0000] "POST /b HTTP/1.1" 500 - "-" "curl/8"',
    '10.0.0.3 - - [01/Dec/2020:09:00:00 +0000] "GET /a HTTP/1.1" 200 25 "http://x/" "Mozilla/5.0"',
    '10.0.0.3 - - [01/Dec/2020:10:30:00 +0100] "-" 408 0 "-" "-"',
    "not an access log line",
    "",
    '10.0.0.4 - - [01/Dec/2020:11:00:00 +0000] "HEAD /c HTTP/1.0" 301 0 "-" "bot \\"quoted\\""',
]


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_text("\n".join(ACCESS_LINES) + "\n")
    return path


def parsed() -> list[dict[str, Any]]:
    """The reference parse: split on quotes and spaces by hand."""
    rows = []
    for line in ACCESS_LINES:
        if not line.startswith("10."):
            continue
        head, request, tail = line.split('"')[0], line.split('"')[1], line.split('" ', 2)[1]
        status, size = tail.split()[:2]
        stamp = head.split("[")[1].split("]")[0]
        tokens = request.split()
        rows.append(
            {
                "status": status,
                "bytes": 0 if size == "-" else int(size),
                "path": tokens[1] if len(tokens) >= 2 else None,
                "time": datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z"),
            }
        )
    return rows


def test_status_codes(access_log: Path) -> None:
    record, results = run_inline(access_log, "status_codes", fmt="apache_combined")
    assert results == dict(Counter(row["status"] for row in parsed()))
    assert record.counters["lines"] == len(ACCESS_LINES)
    assert record.counters["malformed"] == 2
    assert record.counters["records"] == len(parsed())


def test_top_paths_and_strip_query(access_log: Path) -> None:
    record, results = run_inline(access_log, "top_paths", fmt="apache_combined", params={"top": 2})
    want: dict[str, dict[str, int]] = {}
    for row in parsed():
        if row["path"] is None:
            continue
        entry = want.setdefault(row["path"], {"count": 0, "bytes": 0})
        entry["count"] += 1
        entry["bytes"] += row["bytes"]
    assert results == want
    assert record.counters["no_path"] == 1
    assert record.summary == {"top": [["/a", 1, 25], ["/a?x=1", 1, 100]]}
    _, stripped = run_inline(
        access_log, "top_paths", fmt="apache_combined", params={"strip_query": "true"}
    )
    assert stripped["/a"] == {"count": 3, "bytes": 175}


class PerRecordTopPaths(TopPaths):
    """top_paths without its columns: MapSide calls ``mapper`` per record."""

    name = "top_paths_per_record"

    def bind(self, fmt: Format) -> None:
        super().bind(fmt)
        self.columns = ()


@pytest.mark.parametrize("strip_query", ["false", "true"])
@pytest.mark.parametrize("fmt", ["apache_combined", "jsonl"])
def test_top_paths_columns_equal_the_per_record_mapper(
    tmp_path: Path, access_log: Path, fmt: str, strip_query: str
) -> None:
    """The batch path (distinct raw rows counted, each request converted once)
    gives the mapper's results and counters: from one ``findall`` (access) and
    from parsed records (JSON lines, some without a path or a size)."""
    log = access_log
    if fmt == "jsonl":
        log = tmp_path / "app.jsonl"
        records = [
            {"path": "/a?x=1", "bytes": 10},
            {"path": "/a?x=2", "bytes": 5},
            {"path": "/a?x=1"},
            {"bytes": 7},
            {"path": "/b", "bytes": 1},
        ]
        log.write_text("".join(json.dumps(record) + "\n" for record in records))
    params = {"strip_query": strip_query}
    batched, batched_results = run_inline(log, "top_paths", fmt=fmt, params=params)
    each, each_results = run_inline(log, "test_jobs:PerRecordTopPaths", fmt=fmt, params=params)
    assert batched_results == each_results
    assert batched.counters == each.counters
    assert batched.counters["no_path"] == 1


def test_bytes_total(access_log: Path) -> None:
    record, results = run_inline(access_log, "bytes_total", fmt="apache_combined")
    assert results == {"bytes": sum(row["bytes"] for row in parsed()), "responses": len(parsed())}
    assert record.summary is not None
    assert record.summary["bytes"] == 100 + 50 + 25


def test_error_rate_access(access_log: Path) -> None:
    record, results = run_inline(access_log, "error_rate", fmt="apache_combined")
    errors = sum(row["status"][0] in "45" for row in parsed())
    assert results == {"total": len(parsed()), "errors": errors}
    assert record.summary is not None
    assert record.summary["error_rate"] == pytest.approx(errors / len(parsed()))


def test_requests_per_window_utc_and_local(access_log: Path) -> None:
    _, results = run_inline(
        access_log, "requests_per_window", fmt="apache_combined", params={"window": "1h"}
    )
    want: dict[str, Counter[str]] = {}
    for row in parsed():
        hour = row["time"].astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")
        want.setdefault(hour, Counter())["count"] += 1
        want[hour][row["status"][0] + "xx"] += 1
    assert results == {key: dict(value) for key, value in want.items()}
    _, local = run_inline(
        access_log,
        "requests_per_window",
        fmt="apache_combined",
        params={"window": "30m", "tz": "local"},
    )
    assert local["2020-12-01T10:30:00"] == {"count": 1, "4xx": 1}  # +0100 not applied


def test_word_count_ignores_format_and_counts_every_line(access_log: Path) -> None:
    record, results = run_inline(access_log, "word_count", fmt="apache_combined")
    text = "\n".join(ACCESS_LINES).lower()
    assert results == dict(Counter(re.findall(r"[a-z0-9_]+", text)))
    assert record.counters["malformed"] == 0


def test_pattern_count_key_group_and_whole_match(access_log: Path) -> None:
    _, by_ip = run_inline(
        access_log, "pattern_count", params={"pattern": r"^(?P<key>10\.0\.0\.\d+) "}
    )
    assert by_ip == dict(
        Counter(line.split()[0] for line in ACCESS_LINES if line.startswith("10."))
    )
    _, curl = run_inline(
        access_log, "pattern_count", params={"pattern": "CURL/\\d", "ignore_case": "true"}
    )
    assert curl == {"curl/8": 3}


def test_level_counts_and_error_rate_on_applog(tmp_path: Path) -> None:
    lines = [
        "2024-01-02 03:04:05,678 INFO [main] com.x.Y - started",
        "2024-01-02 03:04:06,000 ERROR [main] com.x.Y - failed",
        "java.lang.IllegalStateException: boom",
        "\tat com.x.Y.run(Y.java:1)",
        "2024-01-02 03:05:00,000 WARN [main] com.x.Y - slow",
        "2024-01-02 03:05:01,000 ERROR [main] com.x.Y - again",
    ]
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines))  # no final newline: the last line counts
    record, levels = run_inline(path, "level_counts", fmt="applog")
    assert levels == {"INFO": 1, "ERROR": 2, "WARN": 1}
    assert record.counters["malformed"] == 2
    assert record.counters["continuation_lines"] == 2
    record, rate = run_inline(path, "error_rate", fmt="applog")
    assert rate == {"total": 4, "errors": 2}
    assert record.summary is not None
    assert record.summary["basis"] == "level ERROR/FATAL"


def test_job_needing_a_field_the_format_lacks_fails_before_work(access_log: Path) -> None:
    with pytest.raises(FormatMismatchError, match="format apache_combined has no field 'level'"):
        run_inline(access_log, "level_counts", fmt="apache_combined")


def test_user_job_by_dotted_path(access_log: Path) -> None:
    _, results = run_inline(access_log, "user_jobs:MethodCount", fmt="apache_combined")
    assert results == {"GET": 3, "POST": 1, "HEAD": 1, "-": 1}
