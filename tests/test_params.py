from __future__ import annotations

import pytest

from logmr.errors import InvalidJobError, InvalidParameterError
from logmr.jobs import job_class, load_job
from logmr.jobs.params import duration_seconds, parse_assignments


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("90m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.unit
@pytest.mark.parametrize("text", ["", "0s", "5", "1w", "-1h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="positive duration"):
        duration_seconds(text)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("job", "params", "message"),
    [
        (
            "top_paths",
            {"tpo": "3"},
            r"job top_paths: unknown parameter 'tpo' \(known: top, strip_query\)",
        ),
        ("top_paths", {"top": "three"}, r"job top_paths: parameter top='three'"),
        ("top_paths", {"top": "0"}, r"positive integer"),
        ("top_paths", {"strip_query": "maybe"}, r"expected true or false"),
        ("requests_per_window", {"window": "1w"}, r"parameter window='1w'"),
        ("requests_per_window", {"tz": "mars"}, r"tz='mars' must be one of utc, local"),
        ("pattern_count", {}, r"parameter 'pattern' is required"),
        ("pattern_count", {"pattern": "("}, r"invalid regular expression"),
        ("pattern_count", {"pattern": "a*"}, r"matches the empty string"),
        ("pattern_count", {"pattern": "x" * 1001}, r"longer than 1000 characters"),
        ("status_codes", {"top": [1]}, r"unknown parameter 'top'"),
    ],
)
def test_bad_parameters_are_one_line_errors(
    job: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        load_job(job, params)
    assert "\n" not in str(caught.value)


@pytest.mark.unit
def test_json_scalars_are_accepted() -> None:
    job = load_job("top_paths", {"top": 5, "strip_query": True})
    assert job.options == {"top": 5, "strip_query": True}


@pytest.mark.unit
def test_unknown_job_lists_the_catalogue() -> None:
    known = r"known: access_report, bytes_total, distinct_count, error_rate"
    with pytest.raises(InvalidJobError, match=rf"unknown job 'nope' \({known}"):
        job_class("nope")


@pytest.mark.unit
def test_user_job_by_dotted_path() -> None:
    cls = job_class("logmr.jobs.builtin:StatusCodes")
    assert cls.name == "status_codes"
    with pytest.raises(InvalidJobError, match="cannot import job module"):
        job_class("no_such_module_xyz:Job")
    with pytest.raises(InvalidJobError, match="is not a Job subclass"):
        job_class("logmr.jobs.builtin:WORD")


@pytest.mark.unit
def test_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InvalidParameterError, match="expected NAME=VALUE"):
        parse_assignments(["novalue"])
