"""logmr.plan.sample: what the planner learns from a sample of the input (the
job's own map side over it), and the keys it chooses to salt."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.config import SHUFFLE_BUCKETS
from logmr.devtools.generate import generate
from logmr.jobs import binding
from logmr.mapreduce.partition import partition_of
from logmr.plan.sample import (
    DOMINANT_SHARE_FACTOR,
    HOT_KEY_SHARE,
    MIN_SALTED_PAIR_BYTES,
    SampleStats,
    choose_salted_keys,
    sample_stats,
)
from logmr.spec import MAX_SALTED_KEY_CHARS, MAX_SALTED_KEYS, JobSpec

#: the Apache combined line, its request and its status, the plain way
COMBINED = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "([^"]*)" (\d{3}) (?:\d+|-) "[^"]*" "[^"]*"$')


def _log(lines: int, seed: int = 5) -> bytes:
    out = io.BytesIO()
    generate(out, fmt="apache_combined", lines=lines, seed=seed)
    return out.getvalue()


def sampled(job: str, data: bytes, complete: bool = True) -> SampleStats:
    bound, fmt = binding.prepare(
        JobSpec(job_id="s", job=job, inputs=["x"], format="apache_combined")
    )
    return sample_stats(bound, fmt, data, complete=complete)


# -- sample_stats ----------------------------------------------------------------------------
@pytest.mark.unit
def test_sample_counts_the_jobs_keys_and_hot_keys() -> None:
    data = _log(800)
    sample = sampled("status_codes", data)
    statuses = [m[2].decode() for line in data.splitlines() if (m := COMBINED.match(line))]
    counts = Counter(statuses)
    assert sample.lines == 800 and sample.bytes == len(data)
    assert sample.keys == len(counts)
    assert sample.pairs == len(statuses)
    assert sample.weights == dict(counts)
    assert sample.singletons == sum(1 for n in counts.values() if n == 1)
    assert sample.doubletons == sum(1 for n in counts.values() if n == 2)
    hot = {code for code, n in counts.items() if n / len(statuses) >= HOT_KEY_SHARE}
    assert hot and {key for key, _ in sample.hot_keys} == hot
    assert [share for _, share in sample.hot_keys] == sorted(
        (share for _, share in sample.hot_keys), reverse=True
    )
    assert sample.complete
    assert sample.keys_in(10**12) == sample.keys  # the whole input was sampled


@pytest.mark.unit
def test_the_first_half_counts_the_keys_of_the_first_half_of_the_lines() -> None:
    data = _log(800)
    lines = data.splitlines()
    paths_first = {
        m[1].split()[1] for line in lines[:400] if (m := COMBINED.match(line)) and b" " in m[1]
    }
    sample = sampled("top_paths", data)
    assert sample.keys_first_half == len(paths_first)
    assert sample.keys > sample.keys_first_half  # new paths keep coming


@pytest.mark.unit
def test_the_sample_counts_a_column_jobs_pairs_per_record() -> None:
    """top_paths maps batches pre-combined (one pair per path per batch); the
    sample still counts each path's records, which the key estimate needs."""
    data = _log(800)
    sample = sampled("top_paths", data)
    requests = [m[1].split() for line in data.splitlines() if (m := COMBINED.match(line))]
    paths = Counter(parts[1].decode() for parts in requests if len(parts) > 1)
    assert sample.weights == dict(paths)
    assert sample.singletons == sum(1 for n in paths.values() if n == 1)


@pytest.mark.unit
def test_sample_drops_the_partial_last_line() -> None:
    data = _log(50)
    cut_short = data[: len(data) - 10]
    assert sampled("status_codes", cut_short, complete=False).lines == 49
    # complete: the input ends there, the last line is whole even without its LF
    assert sampled("status_codes", data[:-1], complete=True).lines == 50
    assert sampled("status_codes", data[: data.index(b"\n")], complete=False).lines == 0


@pytest.mark.unit
def test_an_empty_sample_knows_nothing() -> None:
    sample = sampled("status_codes", b"", complete=True)
    assert (sample.lines, sample.keys, sample.pairs, sample.bytes) == (0, 0, 0, 0)
    assert sample.keys_in(10**9) == 0


@pytest.mark.unit
def test_loads_are_the_bytes_of_each_keys_combined_pair() -> None:
    sample = sampled("status_codes", _log(800))
    for key, count in sample.weights.items():
        assert sample.loads[key] == len(f'["{key}",{count}]')


# -- the key estimate ------------------------------------------------------------------------------
@pytest.mark.unit
def test_a_complete_sample_is_the_whole_key_set() -> None:
    sample = SampleStats(bytes=1000, keys=30, keys_first_half=10, singletons=30, complete=True)
    assert sample.keys_in(1000) == sample.keys_in(10**12) == 30
    assert 1 <= sample.keys_in(10) <= 30  # a part of the input holds part of the keys


@pytest.mark.unit
def test_a_finite_key_set_saturates() -> None:
    """Levels or status codes: the second half found hardly a new key, and few
    keys were seen only once: the estimate stops growing with the input."""
    finite = SampleStats(bytes=1000, keys=20, keys_first_half=18, singletons=2, doubletons=3)
    assert finite.keys_in(10**9) == finite.keys_in(10**15)
    assert 20 <= finite.keys_in(10**15) < 2 * 20


@pytest.mark.unit
def test_ids_that_never_repeat_grow_with_the_input() -> None:
    """Request ids: every key seen once, half of them in the second half: the
    estimate grows at the rate the sample found them (one per 10 bytes here)."""
    ids = SampleStats(bytes=1000, keys=100, keys_first_half=50, singletons=100)
    for nbytes in (2_000, 5_000, 10_000, 40_000):
        assert abs(ids.keys_in(nbytes) - nbytes // 10) <= 100, nbytes


@pytest.mark.property
@given(
    keys=st.integers(1, 10_000),
    first_share=st.floats(0.0, 1.0),
    singleton_share=st.floats(0.0, 1.0),
    doubletons=st.integers(0, 100),
    small=st.integers(1, 10**6),
    more=st.integers(0, 10**12),
)
def test_the_estimate_never_shrinks_as_the_input_grows(
    keys: int, first_share: float, singleton_share: float, doubletons: int, small: int, more: int
) -> None:
    sample = SampleStats(
        bytes=1000,
        keys=keys,
        keys_first_half=int(keys * first_share),
        singletons=int(keys * singleton_share),
        doubletons=doubletons,
    )
    assert sample.keys_in(small) <= sample.keys_in(small + more)
    assert sample.keys_in(1000 + more) >= keys  # at least the keys already seen


# -- choose_salted_keys --------------------------------------------------------------------------
def loads_sample(loads: dict[str, int]) -> SampleStats:
    return SampleStats(bytes=1, loads=loads)


@pytest.mark.unit
def test_a_key_dominating_its_partition_by_bytes_is_salted() -> None:
    """One big sketch and many small ones: the sketch's partition holds far
    more than its fair share of the combined bytes."""
    loads = {"all": 50_000} | {f"k{i}": 300 for i in range(40)}
    keys, reason = choose_salted_keys(loads_sample(loads), reducers=4, map_tasks=10)
    assert keys == ["all"], reason
    assert "busiest partition" in reason


@pytest.mark.unit
def test_nothing_is_salted_on_uniform_data() -> None:
    loads = {f"k{i}": 1000 for i in range(400)}
    sample = loads_sample(loads)
    busiest = sample.largest_load_share(8)
    assert busiest < DOMINANT_SHARE_FACTOR / 8  # hashing spreads 400 even keys well
    keys, reason = choose_salted_keys(sample, reducers=8, map_tasks=10)
    assert keys == [], reason


@pytest.mark.unit
def test_small_pairs_are_never_salted_however_skewed() -> None:
    """A count's pair is a few bytes: M of them cost a reducer nothing."""
    loads = {"200": MIN_SALTED_PAIR_BYTES - 1, "404": 10, "500": 10}
    keys, reason = choose_salted_keys(loads_sample(loads), reducers=4, map_tasks=100)
    assert keys == [] and f"{MIN_SALTED_PAIR_BYTES}+ bytes" in reason


@pytest.mark.unit
def test_one_reducer_one_map_task_or_no_pairs_never_salts() -> None:
    loads = {"all": 50_000, "x": 300}
    assert choose_salted_keys(loads_sample(loads), reducers=4, map_tasks=10)[0] == ["all"]
    assert choose_salted_keys(loads_sample(loads), reducers=1, map_tasks=10)[0] == []
    assert choose_salted_keys(loads_sample(loads), reducers=4, map_tasks=1)[0] == []
    assert choose_salted_keys(loads_sample({}), reducers=4, map_tasks=10)[0] == []


@pytest.mark.unit
def test_salted_keys_are_capped_in_number_and_length() -> None:
    long_key = "x" * (MAX_SALTED_KEY_CHARS + 1)
    loads = {f"k{i}": 1000 for i in range(12)} | {long_key: 5000}
    sample = loads_sample(loads)
    # shares of 1/17 each: under 1/2, nothing salted; at R=20 the fair share is 1/20
    keys, _ = choose_salted_keys(sample, reducers=2, map_tasks=4)
    assert keys == []
    keys, _ = choose_salted_keys(sample, reducers=20, map_tasks=4)
    assert len(keys) == MAX_SALTED_KEYS
    assert long_key not in keys  # too long to travel in every payload


@pytest.mark.unit
def test_salted_keys_come_largest_first() -> None:
    loads = {"a": 11_000, "b": 20_000, "c": 12_000} | {f"k{i}": 10 for i in range(50)}
    keys, _ = choose_salted_keys(loads_sample(loads), reducers=4, map_tasks=8)
    assert keys == ["b", "c", "a"]


@pytest.mark.unit
def test_the_busiest_partition_share_follows_the_partitioner() -> None:
    loads = {f"k{i}": i + 1 for i in range(30)}
    by_partition = Counter[int]()
    for key, size in loads.items():  # each reducer reads a contiguous group of the buckets
        by_partition[partition_of(key, SHUFFLE_BUCKETS) * 3 // SHUFFLE_BUCKETS] += size
    sample = loads_sample(loads)
    assert sample.largest_load_share(3) == max(by_partition.values()) / sum(loads.values())
    assert sample.largest_load_share(1) == 1.0
