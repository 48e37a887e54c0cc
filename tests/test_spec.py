"""logmr.spec: the job specification, its map tasks, job requests and job ids."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.errors import InvalidParameterError
from logmr.spec import (
    MAX_REDUCERS,
    MAX_REQUESTED,
    MAX_SALTED_KEY_CHARS,
    MAX_SALTED_KEYS,
    MIN_CHUNK_SIZE,
    REQUEST_FIELDS,
    JobSpec,
    MapTask,
    Piece,
    check_job_id,
    new_job_id,
    request_to_spec,
)

MINIMAL = {"job_id": "j-1", "job": "status_codes", "inputs": ["/logs/a.log"]}
FULL: dict[str, Any] = {
    "job_id": "full_job.2",
    "job": "top_paths",
    "inputs": ["/logs/a.log", "s3://bucket/b.log.gz"],
    "params": {"top": "5"},
    "format": "apache_combined",
    "format_options": {"timezone": "UTC"},
    "reducers": 7,
    "chunk_size": 1_048_576,
    "map_mode": "distributed",
    "max_concurrency": 12,
    "salted_keys": ["/hot", "/warm"],
    "buckets": 256,
    "since": "2026-12-05T10:00:00Z",
    "until": "2026-12-05T11:30:00.250000Z",
    "formats": {"apache_combined": 3, "alb": 1},
    "compression": {"gzip": 2, "xz": 1, "none": 1},
    "years": {},
    "variants": {"apache_combined": "combined + 1 trailing field (extra1 quoted)"},
}


def spec_of(**changes: Any) -> JobSpec:
    return JobSpec.from_dict({**MINIMAL, **changes})


# -- JobSpec.from_dict --------------------------------------------------------------------
@pytest.mark.unit
def test_every_field_survives_a_round_trip() -> None:
    spec = JobSpec.from_dict(FULL)
    assert spec.to_dict() == FULL
    assert JobSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.unit
def test_left_out_fields_are_left_to_the_planner() -> None:
    spec = JobSpec.from_dict(MINIMAL)
    assert (spec.format, spec.map_mode, spec.params, spec.format_options) == (
        "auto",
        "auto",
        {},
        {},
    )
    assert (spec.reducers, spec.chunk_size, spec.max_concurrency, spec.salted_keys) == (0, 0, 0, [])
    assert not spec.planned
    # None (a JSON null) is the same as left out
    nulls = dict.fromkeys(REQUEST_FIELDS - {"job_id", "job", "inputs"})
    assert JobSpec.from_dict({**MINIMAL, **nulls}) == spec


@pytest.mark.unit
def test_planned_only_when_every_figure_is_chosen() -> None:
    figures = {"reducers": 2, "chunk_size": 65_536, "max_concurrency": 3, "buckets": 256}
    assert spec_of(**figures).planned
    for name in figures:
        assert not spec_of(**{**figures, name: 0}).planned, name


@pytest.mark.unit
def test_numbers_written_as_strings_are_read_as_numbers() -> None:
    spec = spec_of(reducers="4", chunk_size="65536", max_concurrency="9")
    assert (spec.reducers, spec.chunk_size, spec.max_concurrency) == (4, 65536, 9)
    assert spec_of(format_options={"year": 2016}).format_options == {"year": "2016"}


@pytest.mark.unit
@pytest.mark.parametrize("missing", ["job_id", "job", "inputs"])
def test_a_missing_required_field_is_a_malformed_spec(missing: str) -> None:
    data = {key: value for key, value in MINIMAL.items() if key != missing}
    with pytest.raises(InvalidParameterError, match=f"malformed job specification: .*{missing}"):
        JobSpec.from_dict(data)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reducers": "many"}, "malformed job specification"),
        ({"inputs": 3}, "malformed job specification"),
        ({"params": ["a"]}, "malformed job specification"),
        ({"salted_keys": [1, 2]}, "salted_keys must be a list of strings"),
        ({"salted_keys": {"a": 1}}, "salted_keys must be a list of strings"),
        ({"inputs": []}, "no inputs given"),
        ({"reducers": -1}, "reducers must be 1..466 (0: chosen by the planner), got -1"),
        (
            {"reducers": MAX_REDUCERS + 1},
            "reducers must be 1..466 (0: chosen by the planner), got 467: the Reduce state,"
            " an inline Map, runs at most 466 reducers within an execution's 25,000 history"
            " events",
        ),
        ({"chunk_size": -5}, "chunk_size must be at least 65,536 bytes (64 KiB; 0: chosen by"),
        (
            {"chunk_size": 1},
            "chunk_size must be at least 65,536 bytes (64 KiB; 0: chosen by the planner), got 1:"
            " a map task's fixed output (its shuffle index and summary) would outweigh a smaller"
            " range",
        ),
        ({"chunk_size": MIN_CHUNK_SIZE - 1}, "got 65,535: a map task's fixed output"),
        ({"map_mode": "sideways"}, "map_mode must be one of auto, inline, distributed"),
        ({"max_concurrency": -1}, "max_concurrency must be 1..10000"),
        ({"max_concurrency": MAX_REQUESTED + 1}, "max_concurrency must be 1..10000"),
        ({"salted_keys": [f"k{i}" for i in range(MAX_SALTED_KEYS + 1)]}, "at most 10 keys"),
        ({"salted_keys": ["x" * (MAX_SALTED_KEY_CHARS + 1)]}, "of at most 512 characters"),
        ({"job_id": "has space"}, "must be 1-80 characters"),
    ],
)
def test_bad_fields_are_refused_with_a_one_line_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)) as caught:
        spec_of(**changes)
    assert "\n" not in str(caught.value)


@pytest.mark.unit
def test_the_limits_themselves_are_accepted() -> None:
    most = spec_of(
        reducers=MAX_REDUCERS,
        max_concurrency=MAX_REQUESTED,
        chunk_size=MIN_CHUNK_SIZE,
        salted_keys=[f"{i}".ljust(MAX_SALTED_KEY_CHARS, "k") for i in range(MAX_SALTED_KEYS)],
    )
    assert (most.reducers, most.max_concurrency) == (MAX_REDUCERS, MAX_REQUESTED)
    assert most.chunk_size == MIN_CHUNK_SIZE == 64 * 1024
    assert len(most.salted_keys) == MAX_SALTED_KEYS


@pytest.mark.unit
def test_salted_keys_a_lone_string_is_one_key_and_repeats_count_once() -> None:
    assert spec_of(salted_keys="/hot").salted_keys == ["/hot"]
    assert spec_of(salted_keys=["b", "a", "b", "a", "c"]).salted_keys == ["b", "a", "c"]
    # eleven names of which ten differ: within the limit once the repeat is dropped
    keys = [f"k{i}" for i in range(MAX_SALTED_KEYS)]
    assert spec_of(salted_keys=[*keys, "k0"]).salted_keys == keys


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
specs = st.fixed_dictionaries(
    {
        "job_id": st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}", fullmatch=True),
        "job": names,
        "inputs": st.lists(names, min_size=1, max_size=4),
        "params": st.dictionaries(names, names, max_size=3),
        "format": st.sampled_from(["auto", "apache_combined", "jsonl"]),
        "format_options": st.dictionaries(names, names, max_size=2),
        "reducers": st.integers(0, MAX_REDUCERS),
        "chunk_size": st.just(0) | st.integers(MIN_CHUNK_SIZE, 10**12),
        "map_mode": st.sampled_from(["auto", "inline", "distributed"]),
        "max_concurrency": st.integers(0, MAX_REQUESTED),
        "salted_keys": st.lists(
            st.text(max_size=MAX_SALTED_KEY_CHARS), max_size=MAX_SALTED_KEYS, unique=True
        ),
        # 0, or at least the reducers (``test_fewer_buckets_than_reducers_are_refused``)
        "buckets": st.sampled_from([0, MAX_REQUESTED]),
        # absolute UTC text, as ``request_to_spec`` resolves it ("": unbounded)
        "since": st.sampled_from(["", "2026-12-05T10:00:00Z"]),
        "until": st.sampled_from(["", "2026-12-06T00:00:00.500000Z"]),
        # what Plan found: objects per format, compression, syslog year
        "formats": st.dictionaries(names, st.integers(1, 10**6), max_size=3),
        "compression": st.dictionaries(names, st.integers(1, 10**6), max_size=3),
        "years": st.dictionaries(names, st.integers(1, 10**6), max_size=2),
        "variants": st.dictionaries(names, names, max_size=2),
    }
)


@pytest.mark.property
@given(data=specs)
def test_any_valid_spec_round_trips_through_its_dict(data: dict[str, Any]) -> None:
    spec = JobSpec.from_dict(data)
    assert spec.to_dict() == data
    assert JobSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.unit
def test_fewer_buckets_than_reducers_are_refused() -> None:
    assert spec_of(reducers=300, buckets=300).buckets == 300
    for buckets in (-1, 299):
        with pytest.raises(InvalidParameterError, match="buckets must be at least the reducers"):
            spec_of(reducers=300, buckets=buckets)


# -- request_to_spec ------------------------------------------------------------------------
@pytest.mark.unit
def test_a_request_with_an_unknown_field_is_refused_naming_it() -> None:
    with pytest.raises(InvalidParameterError, match="unknown field 'jbo'") as caught:
        request_to_spec({"jbo": "status_codes", "job": "status_codes", "inputs": ["a"]})
    assert "known: chunk_size, format" in str(caught.value)
    # several unknown fields: the first in order is named
    with pytest.raises(InvalidParameterError, match="unknown field 'aa'"):
        request_to_spec({"job": "x", "inputs": ["a"], "zz": 1, "aa": 2})


@pytest.mark.unit
@pytest.mark.parametrize("request_", [{"inputs": ["a"]}, {}])
def test_a_request_without_a_job_is_refused(request_: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError, match="the job request has no 'job'"):
        request_to_spec(request_, default_job_id="e-1")


@pytest.mark.unit
@pytest.mark.parametrize("request_", [["status_codes"], "status_codes", None])
def test_a_request_that_is_not_an_object_is_refused(request_: Any) -> None:
    with pytest.raises(InvalidParameterError, match="must be a JSON object"):
        request_to_spec(request_)


@pytest.mark.unit
def test_a_lone_input_string_is_one_input() -> None:
    spec = request_to_spec({"job": "status_codes", "inputs": "s3://b/logs/"}, "e-1")
    assert spec.inputs == ["s3://b/logs/"]


@pytest.mark.unit
def test_the_job_id_is_the_requests_else_the_default_else_a_new_one() -> None:
    request = {"job": "status_codes", "inputs": ["a"]}
    assert request_to_spec({**request, "job_id": "mine"}, "execution-1").job_id == "mine"
    assert request_to_spec(request, "execution-1").job_id == "execution-1"
    assert request_to_spec({**request, "job_id": ""}, "execution-1").job_id == "execution-1"
    generated = request_to_spec(request).job_id
    assert re.fullmatch(r"status_codes-\d{8}T\d{6}-[0-9a-f]{6}", generated), generated
    assert request_to_spec(request).job_id != generated  # a new one each time


@pytest.mark.unit
def test_a_request_is_validated_as_a_spec() -> None:
    with pytest.raises(InvalidParameterError, match="no inputs given"):
        request_to_spec({"job": "status_codes", "inputs": []}, "e-1")
    with pytest.raises(InvalidParameterError, match="must be 1-80 characters"):
        request_to_spec({"job": "status_codes", "inputs": ["a"]}, ".hidden")


# -- job ids ----------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    "job_id", ["a", "A-b_c.d", "2026.job", "-leading-dash", "_", "x" * 80, "ends.", "a..b"]
)
def test_job_ids_of_letters_digits_dash_underscore_and_dot(job_id: str) -> None:
    assert check_job_id(job_id) == job_id


@pytest.mark.unit
@pytest.mark.parametrize(
    "job_id",
    ["", "x" * 81, ".hidden", "a/b", "../up", "a b", "tab\t", "café", "a:b", "a\nb", "%41"],
)
def test_other_job_ids_are_refused(job_id: str) -> None:
    with pytest.raises(InvalidParameterError, match="must be 1-80 characters") as caught:
        check_job_id(job_id)
    assert "\n" not in str(caught.value)


@pytest.mark.unit
def test_a_new_job_id_names_the_job_and_fits_in_80_characters() -> None:
    assert new_job_id("user_jobs:Sessions").startswith("user_jobs-Sessions-")
    long = new_job_id("j" * 200)
    assert len(long) <= 80 and long.startswith("j" * 40 + "-")


@pytest.mark.property
@given(job=st.text(max_size=120))
def test_a_new_job_id_is_always_a_valid_job_id(job: str) -> None:
    assert check_job_id(new_job_id(job))


# -- MapTask -----------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    "task",
    [
        MapTask(task=0, pieces=(Piece(uri="/logs/a.log", start=0, end=1000),)),
        MapTask(task=41, pieces=(Piece("s3://b/k.gz", 0, None, "gzip", '"etag"'),)),
        MapTask(
            task=7,
            pieces=(
                Piece("/logs/a.log", 64, 1000, None, "1:2:1000"),
                Piece("/logs/b.gz", 0, None, "gzip", "1:3:40"),
                Piece("/logs/c.log", 0, 12),
            ),
        ),
    ],
)
def test_a_map_task_round_trips_through_its_dict(task: MapTask) -> None:
    assert MapTask.from_dict(task.to_dict()) == task
    assert MapTask.from_dict({**task.to_dict(), "task": str(task.task)}) == task
    assert MapTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task
    assert task.to_dict()["pieces"][0] == {
        "uri": task.pieces[0].uri,
        "start": task.pieces[0].start,
        "end": task.pieces[0].end,
        "compression": task.pieces[0].compression,
        "version": task.pieces[0].version,
    }


@pytest.mark.unit
def test_a_map_tasks_input_bytes_are_its_ranges_or_unknown_with_a_whole_object() -> None:
    ranges = MapTask(0, (Piece("a", 10, 110), Piece("b", 0, 5)))
    assert ranges.input_bytes == 105
    mixed = MapTask(1, (Piece("a", 10, 110), Piece("b.gz", 0, None, "gzip")))
    assert mixed.input_bytes is None


@pytest.mark.unit
@pytest.mark.parametrize(
    "data",
    [
        {"pieces": [{"uri": "a", "start": 0, "end": 1}]},
        {"task": 1},
        {"task": 1, "pieces": []},
        {"task": 1, "pieces": {"uri": "a", "start": 0, "end": 1}},
        {"task": 1, "pieces": ["a"]},
        {"task": 1, "pieces": [{"start": 0, "end": 1}]},
        {"task": 1, "pieces": [{"uri": "a", "end": 1}]},
        {"task": "one", "pieces": [{"uri": "a", "start": 0, "end": 1}]},
        {"task": 1, "pieces": [{"uri": "a", "start": None, "end": 1}]},
        {"task": 1, "pieces": [{"uri": "a", "start": 0, "end": "end"}]},
        # the one-range form of before: a task is its pieces
        {"task": 1, "uri": "a", "start": 0, "end": 1},
    ],
)
def test_a_malformed_map_task_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError, match="malformed map task"):
        MapTask.from_dict(data)
