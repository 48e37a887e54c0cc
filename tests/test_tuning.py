"""The planner's auto-tuning (logmr.plan.tuning) and its sample (logmr.plan.sample)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr.plan.sample import SampleStats
from logmr.plan.tuning import (
    MAX_MAP_TASKS,
    MIN_CHUNK_BYTES,
    Limits,
    limits_from_env,
    local_limits,
    tune,
)

MiB = 1024 * 1024
GB = 10**9


def stats(keys: int = 10, **more: object) -> SampleStats:
    return SampleStats(bytes=100_000, lines=500, pairs=500, keys=keys, keys_first_half=keys, **more)  # type: ignore[arg-type]


@pytest.mark.unit
def test_lambda_chunk_spreads_the_input_over_the_concurrency() -> None:
    limits = Limits(concurrency=1000)
    tuned = tune(1000 * GB, stats(), limits)
    # 1 TB over 1,000 tasks: one wave, ceil(1e12 / 1000 / MiB) MiB per task
    assert tuned.chunk_size == math.ceil(1e12 / 1000 / MiB) * MiB
    assert tuned.max_concurrency == 1000


@pytest.mark.unit
def test_small_inputs_get_the_minimum_chunk_and_few_tasks() -> None:
    tuned = tune(100 * MiB, stats(), Limits())
    assert tuned.chunk_size == MIN_CHUNK_BYTES
    assert tuned.max_concurrency == 2  # two map tasks


@pytest.mark.unit
def test_chunk_is_bounded_by_the_task_duration_and_the_task_count() -> None:
    limits = Limits(concurrency=10, timeout_s=120)  # a quarter of 120 s at 60 MB/s
    tuned = tune(100 * GB, stats(), limits)
    assert tuned.chunk_size == math.ceil(30 * 60e6 / MiB) * MiB
    huge = tune(10**15, stats(), limits)  # 1 PB: the task count bound wins
    assert math.ceil(10**15 / huge.chunk_size) <= MAX_MAP_TASKS


@pytest.mark.unit
def test_memory_below_one_vcpu_slows_the_model_down() -> None:
    assert Limits(memory_mb=1769).map_mb_per_s == pytest.approx(60.0)
    assert Limits(memory_mb=885).map_mb_per_s == pytest.approx(60.0 * 885 / 1769)
    assert Limits(memory_mb=3538).map_mb_per_s == pytest.approx(60.0)  # one core per task


@pytest.mark.unit
def test_reducers_follow_the_expected_keys_within_one_inline_wave() -> None:
    limits = Limits()
    assert tune(GB, stats(keys=14), limits).reducers == 1
    many = SampleStats(bytes=100_000, keys=5000, keys_first_half=2500, singletons=5000)
    tuned = tune(100 * GB, many, limits)
    assert tuned.expected_keys > 100_000
    assert 1 < tuned.reducers <= 40


@pytest.mark.unit
def test_given_figures_win() -> None:
    tuned = tune(
        GB, stats(), Limits(), chunk_size=123, reducers=7, max_concurrency=3, salted_keys=["a"]
    )
    assert (tuned.chunk_size, tuned.reducers, tuned.max_concurrency) == (123, 7, 3)
    assert tuned.salted_keys == ["a"]
    assert set(tuned.reasons.values()) == {"given"}


@pytest.mark.unit
def test_local_is_one_chunk_and_one_reducer_per_core() -> None:
    limits = local_limits(workers=2)
    tuned = tune(100 * MiB, stats(), limits)
    assert tuned.chunk_size == 50 * MiB
    assert tuned.reducers == 2
    assert tune(1000, stats(), limits).chunk_size == MiB
    # beyond 64 MiB per core: equal chunks, as many as a multiple of the cores,
    # so that no worker runs a last task alone (1 GB would be 15 tasks of 64 MiB)
    for total in (10**9, 10 * GB, 129 * MiB, 256 * MiB + 1):
        chunk = tune(total, stats(), limits).chunk_size
        assert chunk <= 64 * MiB
        assert -(-total // chunk) % 2 == 0, total
    assert tune(10**9, stats(), limits).chunk_size == 62_500_000  # 16 tasks


@pytest.mark.unit
def test_limits_from_the_environment() -> None:
    assert limits_from_env({"LOGMR_STORAGE": "local", "LOGMR_WORKERS": "3"}) == local_limits(3)
    lam = limits_from_env({"LOGMR_MAP_MEMORY_MB": "3008", "LOGMR_MAP_CONCURRENCY": "50"})
    assert (lam.target, lam.memory_mb, lam.timeout_s, lam.concurrency) == ("lambda", 3008, 900, 50)


@pytest.mark.property
@given(
    total=st.integers(min_value=1, max_value=10**16),
    concurrency=st.integers(min_value=1, max_value=10_000),
    memory=st.integers(min_value=128, max_value=10_240),
    timeout=st.integers(min_value=10, max_value=900),
    keys=st.integers(min_value=1, max_value=10**9),
)
def test_lambda_tuning_stays_within_its_bounds(
    total: int, concurrency: int, memory: int, timeout: int, keys: int
) -> None:
    limits = Limits(memory_mb=memory, timeout_s=timeout, concurrency=concurrency)
    sample = SampleStats(bytes=10, keys=keys, keys_first_half=keys, complete=False)
    tuned = tune(total, sample, limits)
    tasks = math.ceil(total / tuned.chunk_size)
    assert tuned.chunk_size % MiB == 0
    assert tasks <= MAX_MAP_TASKS
    # within the time bound unless the task-count bound needs bigger chunks
    assert tuned.chunk_size <= max(
        limits.max_chunk_bytes, math.ceil(total / MAX_MAP_TASKS / MiB) * MiB
    )
    assert 1 <= tuned.reducers <= 40
    assert 1 <= tuned.max_concurrency <= concurrency
