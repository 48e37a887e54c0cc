"""logmr's answers on ../shared/data against the independently computed
``*.expected.json`` (their exact definitions are inside each file)."""

from __future__ import annotations

import calendar
import json
import re
from typing import Any

import pytest

from conftest import expected, expected_by_logmr, shared_file
from helpers import run_inline
from logmr.jobs import top_n
from reference_access import access_answers, lines_of

pytestmark = [pytest.mark.reference, pytest.mark.functional]

ACCESS = [("access.log.1", "apache_combined"), ("access_log", "apache_common")]
ALL = [
    "access.log.1",
    "access_log",
    "syslog.3",
    "kafka1_server.log.2016-12-19-20",
    "cowrie.json.2018-06-19",
]
DETECTED = {
    "access.log.1": "apache_combined",
    "access_log": "apache_common",
    "syslog.3": "syslog_rfc3164",
    "kafka1_server.log.2016-12-19-20": "applog",
    "cowrie.json.2018-06-19": "jsonl",
}


def ranked(results: dict[str, Any], n: int) -> list[list[Any]]:
    return [
        [key, value if not isinstance(value, dict) else value["count"]]
        for key, value in top_n(results.items(), n)
    ]


@pytest.mark.parametrize(("name", "fmt"), ACCESS)
def test_the_access_answers_rederived_are_the_references(name: str, fmt: str) -> None:
    """``reference_access`` re-derives the access figures from the reference's
    definitions: with the reference's own regex it gives its figures back, so
    what ``expected_by_logmr`` changes is only what its regex change accepts."""
    want = expected(name)
    got = access_answers(lines_of(shared_file(name)), re.compile(want["format_regex"].encode()))
    assert got == {key: want[key] for key in got}


def test_apache_combined_differs_from_the_reference_only_by_trailing_fields() -> None:
    """On purpose (issue 16): logmr's ``apache_combined`` takes fields after
    the user agent, which the reference's regex refuses. In access.log.1 two
    lines have them (an extra ``"-"``; ``0.008 995``): for logmr they are
    records, and the other two malformed lines (a common line, an empty one)
    stay malformed."""
    name = "access.log.1"
    reference, logmr = expected(name), expected_by_logmr(name)
    assert logmr["matching_lines"] == reference["matching_lines"] + 2
    kept = [line for _, line in reference["malformed_examples_first5"]]
    still = [line for _, line in logmr["malformed_examples_first5"]]
    assert [line for line in kept if line not in still] == [kept[0], kept[3]]
    assert kept[0].endswith('"-"') and kept[3].endswith(" 0.008 995")
    assert logmr["status_counts"]["200"] == reference["status_counts"]["200"] + 2


@pytest.mark.parametrize("name", ALL)
def test_words(name: str) -> None:
    want = expected(name)["words"]
    record, results = run_inline(shared_file(name), "word_count", chunk_size=64 * 1024)
    assert record.counters["lines"] == expected(name)["total_lines"]
    assert sum(results.values()) == want["total_words"]
    assert len(results) == want["distinct_words"]
    assert ranked(results, 50) == want["top50"]


@pytest.mark.parametrize("name", ALL)
def test_auto_detection_and_malformed_counts(name: str) -> None:
    """Total and malformed lines as the reference counts them; auto-detection
    picks the declared format. Jobs differ in the fields they need: the count
    of lines is the same for every job, so status_codes (access logs),
    level_counts (kafka) and requests_per_window (the others) stand in."""
    want = expected_by_logmr(name)
    job = {
        "access.log.1": "status_codes",
        "access_log": "status_codes",
        "kafka1_server.log.2016-12-19-20": "level_counts",
    }
    record, _ = run_inline(shared_file(name), job.get(name, "requests_per_window"))
    assert record.spec["format"] == DETECTED[name]
    assert record.counters["lines"] == want["total_lines"]
    assert record.counters["records"] == want["matching_lines"]
    assert record.counters["malformed"] == want["malformed_lines"]
    samples = [sample["line"] for sample in record.malformed_samples]
    assert samples[:5] == [line for _, line in want["malformed_examples_first5"]]


@pytest.mark.parametrize(("name", "fmt"), ACCESS)
def test_access_status_bytes_paths(name: str, fmt: str) -> None:
    want = expected_by_logmr(name)
    _, status = run_inline(shared_file(name), "status_codes", fmt=fmt)
    assert status == want["status_counts"]
    record, totals = run_inline(shared_file(name), "bytes_total", fmt=fmt)
    assert totals["bytes"] == want["total_response_bytes"]
    record, paths = run_inline(shared_file(name), "top_paths", fmt=fmt, params={"top": 20})
    assert ranked(paths, 20) == want["top20_paths"]
    assert len(paths) == want["distinct_paths"]
    assert record.counters.get("no_path", 0) == want["requests_without_path"]
    assert record.summary is not None
    assert [[key, count] for key, count, _ in record.summary["top"]] == want["top20_paths"]


@pytest.mark.parametrize(("name", "fmt"), ACCESS)
def test_access_per_hour_local_time(name: str, fmt: str) -> None:
    """The reference keys hours by the log's own clock (offset not applied): tz=local."""
    want = expected_by_logmr(name)["per_hour"]
    _, windows = run_inline(
        shared_file(name), "requests_per_window", fmt=fmt, params={"window": "1h", "tz": "local"}
    )
    assert {key[:13]: value["count"] for key, value in windows.items()} == want


def test_kafka_levels() -> None:
    name = "kafka1_server.log.2016-12-19-20"
    record, levels = run_inline(shared_file(name), "level_counts", fmt="applog")
    assert levels == expected(name)["level_counts"]
    # Stack-trace lines are malformed for applog (not attached to the record
    # before them: a byte range may start inside a trace); logmr also tells
    # how many of the malformed lines look like continuation lines.
    assert record.counters["malformed"] == expected(name)["malformed_lines"]
    assert record.counters["continuation_lines"] == expected(name)["malformed_lines"]
    _, windows = run_inline(shared_file(name), "requests_per_window", params={"tz": "local"})
    assert {key[:13]: value["count"] for key, value in windows.items()} == expected(name)[
        "per_hour"
    ]


def test_cowrie_categories_and_hours() -> None:
    name = "cowrie.json.2018-06-19"
    want = expected(name)
    _, categories = run_inline(
        shared_file(name), "pattern_count", params={"pattern": r'"eventid": "(?P<key>[^"]*)"'}
    )
    assert ranked(categories, 20) == want["top20_categories"]
    _, windows = run_inline(
        shared_file(name), "requests_per_window", fmt="jsonl", params={"window": "1h"}
    )
    assert {key[:13]: value["count"] for key, value in windows.items()} == want["per_hour"]


def test_syslog_programs_and_hours() -> None:
    name = "syslog.3"
    want = expected(name)
    _, programs = run_inline(
        shared_file(name), "field_count", fmt="syslog_rfc3164", params={"field": "program"}
    )
    assert ranked(programs, 20) == want["top20_program"]
    assert len(programs) == want["distinct_program"]
    _, windows = run_inline(
        shared_file(name), "requests_per_window", fmt="syslog_rfc3164", params={"tz": "local"}
    )
    # The reference keys hours as 'Mon DD HH' (no year in the log); logmr's
    # window keys are ISO 8601 in the year the format assumes.
    months = {f"{i:02d}": calendar.month_abbr[i] for i in range(1, 13)}
    as_reference = {
        f"{months[k[5:7]]} {k[8:10]} {k[11:13]}": v["count"] for k, v in windows.items()
    }
    assert as_reference == want["per_hour"]


def test_expected_files_are_not_in_the_project() -> None:
    from conftest import REPO

    assert not list(REPO.rglob("*.expected.json")), json.dumps("copied reference answers")
