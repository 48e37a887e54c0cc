"""Time ranges (docs/time-ranges.md): ``since``/``until`` parsed and resolved
once (``logmr.timerange``, ``logmr.spec``), and applied to records on the map
side, for every kind of job (``mapreduce.side.MapSide``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import run_inline
from logmr.cli import main
from logmr.errors import FormatMismatchError, InvalidParameterError
from logmr.run.request import build_request
from logmr.spec import JobSpec, request_to_spec, resolve_times
from logmr.timerange import TimeRange, resolve

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


# -- parsing and resolving ----------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("given", "absolute"),
    [
        ("-1h", "2026-12-05T11:00:00Z"),
        ("1h", "2026-12-05T11:00:00Z"),  # --since 1h: argparse takes -1h for an option
        ("-30m", "2026-12-05T11:30:00Z"),
        ("-2d", "2026-12-03T12:00:00Z"),
        ("-1w", "2026-11-28T12:00:00Z"),
        ("-45s", "2026-12-05T11:59:15Z"),
        ("now", "2026-12-05T12:00:00Z"),
        ("2026-12-01", "2026-12-01T00:00:00Z"),
        ("2026-12-01T08:15", "2026-12-01T08:15:00Z"),
        ("2026-12-01T08:15:00Z", "2026-12-01T08:15:00Z"),
        ("2026-12-01 08:15:00+02:00", "2026-12-01T06:15:00Z"),
        ("2026-12-01T08:15:00.5-01:00", "2026-12-01T09:15:00.500000Z"),
    ],
)
def test_a_bound_resolves_to_absolute_utc_text(given: str, absolute: str) -> None:
    assert resolve(given, NOW, "since") == absolute


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["yesterday", "-1y", "+1h", "1", "2026-13-01", "", "  "])
def test_a_bound_that_is_no_time_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidParameterError, match="until"):
        resolve(bad, NOW, "until")


@pytest.mark.unit
def test_a_request_resolves_relative_bounds_once_and_the_spec_keeps_them_absolute() -> None:
    request = {"job": "status_codes", "inputs": ["/a.log"], "since": "-1h", "until": "now"}
    resolved = resolve_times(request, NOW)
    assert (resolved["since"], resolved["until"]) == (
        "2026-12-05T11:00:00Z",
        "2026-12-05T12:00:00Z",
    )
    spec = request_to_spec(resolved, default_job_id="j-1")
    # a map task rebuilds the spec later: the same instants, whatever the clock says then
    again = JobSpec.from_dict(spec.to_dict())
    assert again.time_range == TimeRange(NOW.timestamp() - 3600, NOW.timestamp())


@pytest.mark.unit
def test_a_spec_refuses_a_relative_bound_that_was_never_resolved() -> None:
    with pytest.raises(InvalidParameterError, match="resolve it first"):
        JobSpec.from_dict({"job_id": "j", "job": "status_codes", "inputs": ["/a"], "since": "-1h"})


@pytest.mark.unit
def test_an_empty_range_is_refused_before_any_work() -> None:
    with pytest.raises(InvalidParameterError, match="must be before until"):
        request_to_spec(
            {"job": "status_codes", "inputs": ["/a"], "since": "2026-12-05", "until": "2026-12-04"}
        )


@pytest.mark.unit
def test_build_request_resolves_a_relative_bound_when_the_request_is_made() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    request = build_request(["/a.log"], "status_codes", since="-2h")
    since = datetime.fromisoformat(request["since"].replace("Z", "+00:00"))
    assert before - timedelta(hours=2, seconds=1) <= since <= datetime.now(UTC) - timedelta(hours=2)
    assert "until" not in request


@pytest.mark.unit
def test_the_range_is_half_open() -> None:
    window = TimeRange(100.0, 200.0)
    assert [window.contains(t) for t in (99.9, 100.0, 199.9, 200.0)] == [False, True, True, False]
    assert (
        window.overlaps(50, 100.5)
        and not window.overlaps(50, 100)
        and not window.overlaps(200, 300)
    )
    assert window.covers(100, 200) and not window.covers(99, 150)
    assert TimeRange(None, 10).contains(-1e12) and TimeRange(10, None).contains(1e12)


# -- records filtered on the map side -----------------------------------------------------
START = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
#: a record written: its time, status, path and bytes
Written = tuple[datetime, str, str, int]
STATUSES = ["200", "404", "500", "301", "200", "200", "503"]
PATHS = ["/", "/api/a", "/api/b", "/static/x.css"]


def _clf(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _write_log(path: Path) -> list[Written]:
    """An Apache combined log of 600 records a minute apart (some in +0200),
    a few malformed lines and lines without a time; the (time, status, path,
    bytes) of each record."""
    written: list[Written] = []
    lines = []
    for i in range(600):
        moment = START + timedelta(minutes=i)
        status, where, size = STATUSES[i % 7], PATHS[i % 4], 100 + i
        stamp = _clf(moment)
        if i % 5 == 0:  # the same instant written in another offset
            stamp = (moment + timedelta(hours=2)).strftime("%d/%b/%Y:%H:%M:%S +0200")
        lines.append(
            f'10.0.0.{i % 9} - - [{stamp}] "GET {where} HTTP/1.1" {status} {size} "-" "ua/{i % 3}"'
        )
        written.append((moment, status, where, size))
        if i % 97 == 0:
            lines.append("this line is not an access log line")
    path.write_text("\n".join(lines) + "\n")
    return written


@pytest.fixture
def access_log(tmp_path: Path) -> tuple[Path, list[Written]]:
    path = tmp_path / "range.log"
    return path, _write_log(path)


SINCE, UNTIL = "2026-03-01T11:07:00Z", "2026-03-01T14:30"


def _inside(records: list[Written]) -> list[tuple[str, str, int]]:
    low, high = datetime(2026, 3, 1, 11, 7, tzinfo=UTC), datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    return [
        (status, where, size) for moment, status, where, size in records if low <= moment < high
    ]


@pytest.mark.functional
def test_a_counting_job_counts_only_records_within_the_range(tmp_path: Path, access_log) -> None:
    path, written = access_log
    record, results = run_inline(path, "status_codes", since=SINCE, until=UNTIL, home=tmp_path)
    inside = _inside(written)
    expected: dict[str, int] = {}
    for status, _, _ in inside:
        expected[status] = expected.get(status, 0) + 1
    assert results == expected
    assert record.counters["records"] == len(inside)
    assert record.counters["out_of_range"] == len(written) - len(inside)
    assert record.counters["malformed"] == 7  # lines 0, 97, ... 582: never asked for a time


@pytest.mark.functional
def test_a_column_job_is_filtered_before_its_column_mapper(tmp_path: Path, access_log) -> None:
    path, written = access_log
    _, results = run_inline(
        path, "top_paths", since=SINCE, until=UNTIL, home=tmp_path, fmt="apache_combined"
    )
    expected: dict[str, dict[str, int]] = {}
    for _, where, size in _inside(written):
        found = expected.setdefault(where, {"count": 0, "bytes": 0})
        found["count"] += 1
        found["bytes"] += size
    assert results == expected


@pytest.mark.functional
def test_a_record_job_sees_only_records_within_the_range(tmp_path: Path, access_log) -> None:
    path, written = access_log
    _, results = run_inline(path, "error_rate", since=SINCE, home=tmp_path)
    low = datetime(2026, 3, 1, 11, 7, tzinfo=UTC)
    kept = [status for moment, status, _, _ in written if moment >= low]
    assert results["total"] == len(kept)
    assert results["errors"] == sum(status[0] in "45" for status in kept)


@pytest.mark.functional
def test_a_raw_lines_job_keeps_the_lines_whose_parsed_time_is_within(
    tmp_path: Path, access_log
) -> None:
    path, written = access_log
    record, results = run_inline(
        path, "word_count", since=SINCE, until=UNTIL, fmt="apache_combined", home=tmp_path
    )
    inside = _inside(written)
    # each kept line carries one word "get" (the malformed ones have none)
    assert results["get"] == len(inside)
    assert results["ua"] == len(inside)
    assert record.counters["no_time"] == 7
    assert record.counters["out_of_range"] == len(written) - len(inside)


@pytest.mark.functional
def test_a_range_on_a_format_without_times_is_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("hello world\n")
    with pytest.raises(FormatMismatchError, match="needs each record's time"):
        run_inline(path, "word_count", since="2026-01-01", home=tmp_path)


# -- the command line ---------------------------------------------------------------------
@pytest.mark.functional
def test_run_since_and_until_on_the_command_line(
    tmp_path: Path, access_log: tuple[Path, list[Written]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, written = access_log
    argv = ["run", str(path), "--job", "status_codes", "--home", str(tmp_path), "--json"]
    assert main([*argv, "--since", SINCE, "--until", UNTIL]) == 0
    out = json.loads(capsys.readouterr().out)
    inside = _inside(written)
    assert sum(out["results"].values()) == out["counters"]["records"] == len(inside)
    assert out["counters"]["out_of_range"] == len(written) - len(inside)
    # a bare duration is back from now: nothing of March 2026 is within the last hour
    assert main([*argv, "--since", "1h"]) == 0
    late = json.loads(capsys.readouterr().out)
    assert late["results"] == {} and late["counters"]["out_of_range"] == len(written)


# -- every built-in job: a range is the same as a log of just the records within -----------
#: parameters the jobs that require some are given (as bench/golden.py does)
PARAMS = {
    "field_count": {"field": "status"},
    "pattern_count": {"pattern": "(?P<key>GET|POST)"},
    "query": {"query": "stats count(*), sum(bytes) by status"},
}
LEVEL_JOBS = {"level_counts", "level_report"}  # an access log has no level


def _builtin_jobs() -> list[str]:
    from logmr.jobs import JOBS, is_builtin

    is_builtin("status_codes")  # loads the catalogue
    return sorted(set(JOBS) - LEVEL_JOBS)


@pytest.mark.functional
@pytest.mark.parametrize("job", _builtin_jobs())
def test_every_builtin_job_over_a_range_answers_as_over_only_the_records_within(
    tmp_path: Path, access_log: tuple[Path, list[Written]], job: str
) -> None:
    path, written = access_log
    low, high = datetime(2026, 3, 1, 11, 7, tzinfo=UTC), datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    lines = path.read_text().splitlines(keepends=True)
    well_formed = [line for line in lines if line.startswith("10.0.0.")]
    within = tmp_path / "within.log"
    within.write_text(
        "".join(
            line
            for line, (moment, *_) in zip(well_formed, written, strict=True)
            if low <= moment < high
        )
    )
    options: dict[str, Any] = {"fmt": "apache_combined", "params": PARAMS.get(job)}
    record, ranged = run_inline(path, job, since=SINCE, until=UNTIL, home=tmp_path / "a", **options)
    plain_record, plain = run_inline(within, job, home=tmp_path / "b", **options)
    assert ranged == plain
    summary, plain_summary = record.summary or {}, plain_record.summary or {}
    if job == "percentiles":  # merging many windows' KLL sketches compacts at random
        for found in (summary, plain_summary):
            found["overall"] = {k: found["overall"][k] for k in ("count", "min", "max")}
    assert summary == plain_summary
    assert record.counters["records"] == plain_record.counters["records"]


@pytest.mark.functional
@pytest.mark.parametrize("job", ["status_codes", "top_paths", "error_rate", "access_report"])
def test_a_range_that_holds_every_record_changes_no_answer(
    tmp_path: Path, access_log: tuple[Path, list[Written]], job: str
) -> None:
    """A batch all within is passed on uncut (``MapSide._inside``'s shortcut)."""
    path, _ = access_log
    options: dict[str, Any] = {"fmt": "apache_combined"}
    record, ranged = run_inline(
        path, job, since="2026-03-01", until="2026-03-02", home=tmp_path / "a", **options
    )
    plain_record, plain = run_inline(path, job, home=tmp_path / "b", **options)
    assert ranged == plain
    assert record.counters == plain_record.counters  # no out_of_range, no no_time
