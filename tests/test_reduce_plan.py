"""Reduce planned after Map (``plan.reducers``, ``tasks.plan_reduce``): the
reducers follow the keys the map tasks measured, not Plan's sample; and the
sample's key estimate states its range (``SampleStats.keys_range``)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from logmr import layout, tasks
from logmr.config import SHUFFLE_BUCKETS, Settings
from logmr.errors import CorruptJobDataError
from logmr.inputs.source import LocalInputSource
from logmr.mapreduce.partition import bucket_group
from logmr.plan import planner, tuning
from logmr.plan.reducers import (
    LISTED_KEYS_CHARS,
    TaskKeys,
    measured_keys,
    plan_reducers,
)
from logmr.plan.sample import SampleStats
from logmr.plan.tuning import Limits, local_limits
from logmr.run.embedded import embedded_backends
from logmr.spec import JobSpec, MapTask


def task_keys(*segments: list[str]) -> list[str] | str:
    """A map task's ``keys`` report over ``segments`` (``TaskKeys``)."""
    keys = TaskKeys()
    for segment in segments:
        keys.add(segment)
    return keys.report()


def summaries_of(keys_per_task: list[range]) -> list[list[str] | str]:
    """The ``keys`` of a map summary per task, over ``key<i>`` for i in each
    range (in two of the task's partitions)."""
    reports = []
    for keys in keys_per_task:
        names = [f"key{i}" for i in keys]
        reports.append(task_keys(names[::2], names[1::2]))
    return reports


# -- plan_reducers over synthetic map summaries ------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("distinct", "reducers"), [(50, 1), (99_000, 1), (250_000, 3), (430_000, 5), (10**7, 40)]
)
def test_the_reducers_follow_the_measured_keys(distinct: int, reducers: int) -> None:
    keys = {"distinct": distinct, "lower": distinct, "upper": distinct}
    decided = plan_reducers(
        keys, map_tasks=15, buckets=SHUFFLE_BUCKETS, limits=Limits(), planned=1, salted=False
    )
    assert decided.reducers == reducers == min(math.ceil(distinct / tuning.KEYS_PER_REDUCER), 40)
    assert decided.max_concurrency == max(15, reducers)
    assert "measured after Map" in decided.reason


@pytest.mark.unit
def test_overlapping_map_tasks_count_each_key_once() -> None:
    """Four map tasks over 30,000 keys, most of them in two tasks: 30,000,
    not the 52,500 the tasks' own counts add up to."""
    texts = summaries_of([range(15_000), range(7_500, 22_500), range(15_000, 30_000)])
    texts.append(summaries_of([range(7_500)])[0])
    keys = measured_keys(texts)
    assert keys["lower"] <= 30_000 <= keys["upper"]
    assert abs(keys["distinct"] - 30_000) < 0.05 * 30_000


@pytest.mark.unit
def test_few_keys_are_listed_and_counted_exactly() -> None:
    """Tasks with few keys list them (no sketch library loaded): the job's
    distinct keys are then exact, overlaps counted once."""
    reports = summaries_of([range(300), range(200, 400), range(10)])
    assert reports[0] == sorted(f"key{i}" for i in range(300))
    assert measured_keys(reports) == {"distinct": 400, "lower": 400, "upper": 400}
    assert measured_keys([]) == {"distinct": 0, "lower": 0, "upper": 0}
    # past LISTED_KEYS_CHARS (a key's characters and one more each), a sketch
    many = range(LISTED_KEYS_CHARS // len("key0000+"))
    assert isinstance(summaries_of([many])[0], list)
    assert isinstance(summaries_of([range(len(many) + 1_000)])[0], str)


@pytest.mark.unit
def test_listed_keys_and_sketches_count_a_shared_key_once() -> None:
    """One task sketched 5,000 keys; sixteen others listed 4,800 of them,
    300 each: 5,000 keys, not 9,800."""
    reports = summaries_of([range(5_000)])
    reports += summaries_of([range(start, start + 300) for start in range(0, 4_800, 300)])
    assert isinstance(reports[0], str) and all(isinstance(r, list) for r in reports[1:])
    keys = measured_keys(reports)
    assert keys["lower"] <= 5_000 <= keys["upper"] < 5_500


@pytest.mark.unit
@pytest.mark.parametrize("keys", [range(50), range(3_000)], ids=["listed", "sketched"])
def test_a_task_of_several_segments_reports_its_keys_once(keys: range) -> None:
    """A map task that spilled gives its keys segment by segment, a key maybe
    in several: its report is the one of all its keys at once."""
    names = [f"key{i}" for i in keys]
    segments = [names[::2], names[1::2], names[::3], names[len(names) // 2 :]]
    spilled = TaskKeys()
    for segment in segments:
        spilled.add(segment)
    at_once = task_keys(names)
    assert type(spilled.report()) is type(at_once)
    if isinstance(at_once, list):
        assert spilled.report() == at_once
    for report in (spilled.report(), at_once):  # a sketch's estimate depends on the order
        measured = measured_keys([report])
        assert measured["lower"] <= len(names) <= measured["upper"]


@pytest.mark.unit
@pytest.mark.parametrize("report", [None, 7, {"a": 1}, ["ok", 3]])
def test_a_damaged_key_report_is_named(report: object) -> None:
    with pytest.raises(CorruptJobDataError, match="keys"):
        measured_keys([["a"], report])


@pytest.mark.unit
def test_the_requests_figures_win_and_salting_keeps_plans_reducers() -> None:
    few = {"distinct": 10, "lower": 10, "upper": 10}
    given = plan_reducers(
        few,
        map_tasks=3,
        buckets=SHUFFLE_BUCKETS,
        limits=Limits(),
        planned=7,
        salted=False,
        requested_reducers=7,
        requested_concurrency=2,
    )
    assert (given.reducers, given.max_concurrency, given.reason) == (7, 2, "given")
    salted = plan_reducers(
        few, map_tasks=3, buckets=SHUFFLE_BUCKETS, limits=Limits(), planned=4, salted=True
    )
    assert salted.reducers == 4 and "salted" in salted.reason
    local = plan_reducers(
        few, map_tasks=3, buckets=SHUFFLE_BUCKETS, limits=local_limits(6), planned=6, salted=False
    )
    assert local.reducers == 6  # one per worker on one machine
    capped = plan_reducers(
        few, map_tasks=3, buckets=4, limits=local_limits(6), planned=4, salted=False
    )
    assert capped.reducers == 4 and "buckets" in capped.reason


# -- the sample's range ----------------------------------------------------------------------
@pytest.mark.unit
def test_a_sample_of_mostly_singletons_gives_a_wide_range() -> None:
    """The realistic log's access_report sample (its figures): Chao1 says
    7,636 keys, growth at the Good-Turing rate 2.8 million; the input holds
    about 430,000, inside."""
    sample = SampleStats(
        bytes=260_448, lines=1119, pairs=4476, keys=832, keys_first_half=456,
        singletons=729, doubletons=38,
    )  # fmt: skip
    low, high = sample.keys_range(10**9)
    assert low == sample.keys_in(10**9) == 832 + math.ceil(729 * 728 / (2 * 39))
    assert low < 430_000 < high == 832 + math.ceil(729 / 4476 * 4476 * (10**9 - 260_448) / 260_448)


@pytest.mark.unit
def test_a_saturated_or_complete_sample_gives_one_figure() -> None:
    saturated = SampleStats(
        bytes=260_000, lines=1100, pairs=1100, keys=14, keys_first_half=14,
        singletons=0, doubletons=0,
    )  # fmt: skip
    assert saturated.keys_range(10**12) == (14, 14)
    complete = SampleStats(
        bytes=5000, lines=50, pairs=50, keys=40, keys_first_half=25, singletons=35,
        doubletons=5, complete=True,
    )  # fmt: skip
    assert complete.keys_range(5000) == (40, 40)


# -- a run whose sample underestimates ----------------------------------------------------------
@pytest.fixture
def runs_of_keys(tmp_path: Path) -> Path:
    """2,400 keys, each on 50 lines in a row: any piece of the sample sees
    each of its keys many times (no singletons), so Plan takes the key set
    for finite and nearly seen."""
    path = tmp_path / "runs.log"
    path.write_bytes(b"".join(b"key%06d\n" % (i // 50) for i in range(120_000)))
    return path


@pytest.mark.functional
def test_a_run_whose_sample_underestimates_gets_the_reducers_of_its_keys(
    tmp_path: Path, runs_of_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "KEYS_PER_REDUCER", 500)  # 2,400 keys: 5 reducers on Lambda
    backends = embedded_backends(Settings.load(home=tmp_path / "home"))
    request = {"job": "word_count", "inputs": [str(runs_of_keys)], "chunk_size": 150_000}
    plan = tasks.plan(JobSpec.from_dict({**request, "job_id": "under"}), backends, Limits())
    spec = JobSpec.from_dict(plan["spec"])
    manifest = backends.objects.get_json(layout.manifest_key("under"))
    assert manifest["tuning"]["expected_keys"] < 1000 and spec.reducers <= 2  # the sample's view
    for task in plan["map_tasks"]:
        tasks.map_task(spec, MapTask.from_dict(task), backends)
    reducing = tasks.plan_reduce(spec, plan["map_task_count"], backends, Limits())
    spec = JobSpec.from_dict(reducing["spec"])
    decision = backends.objects.get_json(layout.reduce_plan_key("under"))
    assert decision["keys_lower"] <= 2400 <= decision["keys_upper"]
    assert spec.reducers == 5  # measured: 2,400 keys / 500
    assert reducing["partitions"] == list(range(5))
    written = [
        tasks.reduce_task(spec, partition, plan["map_task_count"], backends)["keys"]
        for partition in reducing["partitions"]
    ]
    tasks.finalize(spec, plan["map_task_count"], backends)
    want = Counter(f"key{i // 50:06d}" for i in range(120_000))
    assert dict(backends.job_results().iter_results("under")) == want
    # the keys spread over the reducers' groups of buckets: none empty, none far above its share
    assert all(0.5 * 2400 / 5 <= count <= 1.5 * 2400 / 5 for count in written), written
    record = backends.results.get_job("under")
    assert record.spec["reducers"] == 5 and record.bill is not None
    assert record.bill["lambda_requests"] == 3 + plan["map_task_count"] + 5
    assert [bucket_group(p, 5, spec.buckets) for p in (0, 4)] == [range(51), range(204, 256)]


@pytest.mark.functional
@pytest.mark.parametrize(
    ("reducers", "buckets"), [(0, SHUFFLE_BUCKETS), (3, SHUFFLE_BUCKETS), (300, 300)]
)
def test_plan_sets_the_buckets_a_requests_reducers_never_outnumber(
    runs_of_keys: Path, reducers: int, buckets: int
) -> None:
    spec = JobSpec.from_dict(
        {"job_id": "b", "job": "word_count", "inputs": [str(runs_of_keys)], "reducers": reducers}
    )
    planned = planner.make_plan(spec, LocalInputSource(), Limits()).spec
    assert planned.buckets == buckets
    assert planned.reducers == (reducers or planned.reducers) <= planned.buckets
