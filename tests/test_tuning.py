"""logmr.plan.tuning: the chunk size, reducers and concurrency the planner
chooses. The rules of the model (its module docstring, docs/performance.md),
not its figures: a test here says what must hold whatever the constants are
tuned to, with the limits it depends on imported from where they are defined."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logmr import config
from logmr.config import Settings
from logmr.limits import INLINE_MAP_CONCURRENCY, MAX_REDUCE_TASKS, MB_PER_VCPU
from logmr.plan import tuning
from logmr.plan.sample import SampleStats
from logmr.plan.tuning import (
    LOCAL_MAX_CHUNK_BYTES,
    LOCAL_MIN_CHUNK_BYTES,
    MAX_MAP_TASKS,
    MIN_CHUNK_BYTES,
    TIMEOUT_SHARE,
    Limits,
    choose_reducers,
    limits_for,
    local_limits,
    tune,
)
from logmr.workflow.names import FUNCTION_SIZES

MiB = 1024 * 1024
GB = 10**9
TB = 10**12


def stats(keys: int = 10, **more: object) -> SampleStats:
    """A sample that found ``keys`` keys and no new ones in its second half."""
    return SampleStats(bytes=100_000, lines=500, pairs=500, keys=keys, keys_first_half=keys, **more)  # type: ignore[arg-type]


def ids(keys: int) -> SampleStats:
    """A sample of ``keys`` keys each seen once, half of them new in its second half."""
    return SampleStats(bytes=100_000, keys=keys, keys_first_half=keys // 2, singletons=keys)


def tasks_of(total: int, chunk: int) -> int:
    return max(math.ceil(total / chunk), 1)


def task_seconds(chunk: int, limits: Limits) -> float:
    """A map task's duration in the model: its bytes at the model's throughput."""
    return chunk / (limits.map_mb_per_s * 1e6)


# -- the chunk size on Lambda -----------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("timeout", [30, 60, 120, 300, 900])
def test_a_map_task_stays_within_its_share_of_the_timeout(timeout: int) -> None:
    """Whatever the input, a task plans at most TIMEOUT_SHARE of the function's
    timeout (give or take the whole MiB the chunk is rounded to), unless the
    cap on the task count needs bigger chunks."""
    limits = Limits(timeout_s=timeout, concurrency=10)
    slack = MiB / (limits.map_mb_per_s * 1e6)
    checked = 0
    for total in (GB, 100 * GB, TB):
        chunk = tune(total, stats(), limits).chunk_size
        if tasks_of(total, chunk - MiB) <= MAX_MAP_TASKS:  # the time bound decided
            assert task_seconds(chunk, limits) <= timeout * TIMEOUT_SHARE + slack
            checked += 1
    assert checked  # not vacuous: the time bound decided for some input


@pytest.mark.unit
def test_a_shorter_timeout_never_gives_bigger_chunks() -> None:
    for total in (10 * GB, TB):
        chunks = [
            tune(total, stats(), Limits(timeout_s=t, concurrency=10)).chunk_size
            for t in (900, 300, 120, 60, 30, 10)
        ]
        assert chunks == sorted(chunks, reverse=True), total
        assert chunks[0] > chunks[-1]  # and the timeout matters at all


@pytest.mark.unit
def test_the_chunk_spreads_a_large_input_over_one_wave_of_the_concurrency() -> None:
    """1 TB at a concurrency of 1,000: chunks fitting the time bound give one
    wave of tasks (at most the concurrency), not more."""
    limits = Limits(concurrency=1000)
    tuned = tune(TB, stats(), limits)
    tasks = tasks_of(TB, tuned.chunk_size)
    assert tasks <= limits.concurrency
    assert tasks > limits.concurrency * 0.9  # the chunk is no bigger than it needs to be
    assert tuned.max_concurrency == tasks


@pytest.mark.unit
def test_small_inputs_get_the_minimum_chunk() -> None:
    """The fixed cost of a task stays small against its work: never a chunk
    under MIN_CHUNK_BYTES, so a small input is one or two tasks."""
    for total in (1, 10 * MiB, MIN_CHUNK_BYTES, MIN_CHUNK_BYTES + 1):
        tuned = tune(total, stats(), Limits())
        assert tuned.chunk_size == MIN_CHUNK_BYTES
        assert tuned.max_concurrency == tasks_of(total, MIN_CHUNK_BYTES)


@pytest.mark.unit
def test_the_task_count_cap_wins_over_the_time_bound() -> None:
    """1 PB with a tiny concurrency and a short timeout: the time bound would
    cut millions of tasks; the task count stays at most MAX_MAP_TASKS."""
    limits = Limits(concurrency=10, timeout_s=60)
    huge = 10**15
    tuned = tune(huge, stats(), limits)
    assert tasks_of(huge, tuned.chunk_size) <= MAX_MAP_TASKS
    assert task_seconds(tuned.chunk_size, limits) > 60 * TIMEOUT_SHARE
    assert "tasks" in tuned.reasons["chunk_size"]


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
    tasks = tasks_of(total, tuned.chunk_size)
    assert tuned.chunk_size % MiB == 0
    # at least the minimum chunk, unless the time bound is smaller still
    assert tuned.chunk_size >= min(MIN_CHUNK_BYTES, limits.max_chunk_bytes)
    assert tasks <= MAX_MAP_TASKS
    # within the time bound unless the task-count bound needs bigger chunks
    assert tuned.chunk_size <= max(
        limits.max_chunk_bytes, math.ceil(total / MAX_MAP_TASKS / MiB) * MiB
    )
    assert 1 <= tuned.reducers <= INLINE_MAP_CONCURRENCY
    assert 1 <= tuned.max_concurrency <= concurrency
    assert tuned.max_concurrency >= min(tasks, concurrency)  # no task waits for a slot needlessly
    assert set(tuned.reasons) == {"chunk_size", "reducers", "max_concurrency", "salted_keys"}


# -- the model's throughput --------------------------------------------------------------
@pytest.mark.unit
def test_a_map_task_is_slower_below_one_vcpu_and_no_faster_above() -> None:
    """Lambda gives memory / MB_PER_VCPU vCPUs; a map task uses at most one."""
    one = Limits(memory_mb=MB_PER_VCPU).map_mb_per_s
    half = Limits(memory_mb=MB_PER_VCPU // 2).map_mb_per_s
    assert half == pytest.approx(one * (MB_PER_VCPU // 2) / MB_PER_VCPU)
    assert Limits(memory_mb=2 * MB_PER_VCPU).map_mb_per_s == one
    speeds = [Limits(memory_mb=m).map_mb_per_s for m in range(128, 10_241, 128)]
    assert speeds == sorted(speeds)


# -- reducers ----------------------------------------------------------------------------
@pytest.mark.unit
def test_reducers_grow_with_the_expected_keys_up_to_one_inline_wave() -> None:
    limits = Limits()
    few = tune(GB, stats(keys=14), limits)
    assert (few.expected_keys, few.reducers) == (14, 1)  # status codes: one reducer
    counts = [tune(100 * GB, ids(keys), limits) for keys in (10, 100, 1000, 10_000, 100_000)]
    expected = [tuned.expected_keys for tuned in counts]
    reducers = [tuned.reducers for tuned in counts]
    assert expected == sorted(expected) and reducers == sorted(reducers)
    assert reducers[0] == 1 and reducers[-1] == INLINE_MAP_CONCURRENCY  # one wave, no more
    assert len(set(reducers)) > 2  # in between, they follow the keys


@pytest.mark.property
@given(
    smaller=st.integers(1, 10**6),
    more=st.integers(0, 10**6),
    total=st.integers(GB, 10 * TB),
)
def test_more_expected_keys_never_mean_fewer_reducers(smaller: int, more: int, total: int) -> None:
    limits = Limits()
    fewer = tune(total, ids(smaller), limits)
    larger = tune(total, ids(smaller + more), limits)
    assert fewer.expected_keys <= larger.expected_keys
    assert fewer.reducers <= larger.reducers <= INLINE_MAP_CONCURRENCY


# -- given figures -----------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("limits", [Limits(), local_limits(4)], ids=["lambda", "local"])
def test_given_figures_win(limits: Limits) -> None:
    tuned = tune(
        GB, stats(), limits, chunk_size=123, reducers=7, max_concurrency=3, salted_keys=["a"]
    )
    assert (tuned.chunk_size, tuned.reducers, tuned.max_concurrency) == (123, 7, 3)
    assert tuned.salted_keys == ["a"]
    assert set(tuned.reasons.values()) == {"given"}


@pytest.mark.unit
def test_one_given_figure_leaves_the_others_to_the_model() -> None:
    chosen = tune(100 * GB, ids(10_000), Limits())
    given_chunk = tune(100 * GB, ids(10_000), Limits(), chunk_size=chosen.chunk_size * 2)
    assert given_chunk.reasons["chunk_size"] == "given"
    assert given_chunk.reducers == chosen.reducers
    assert given_chunk.reasons["reducers"] != "given"


# -- on one machine ----------------------------------------------------------------------
@pytest.mark.unit
def test_local_is_a_multiple_of_the_cores_and_the_inline_maps_concurrency() -> None:
    for workers in (1, 2, 8):
        few = tune(10 * GB, stats(), local_limits(workers))
        assert few.reducers == workers  # one per core
        many = tune(GB // 50, ids(10**6), local_limits(workers))
        assert many.reducers % workers == 0 and many.reducers > workers  # millions of keys
        assert many.expected_keys <= many.reducers * tuning.LOCAL_KEYS_PER_REDUCER
        assert few.max_concurrency == many.max_concurrency == INLINE_MAP_CONCURRENCY
        # past the Reduce Map's bound (limits.MAX_REDUCE_TASKS): its largest multiple of the workers
        most = tune(10 * GB, ids(10**6), local_limits(workers))
        assert most.expected_keys > most.reducers * tuning.LOCAL_KEYS_PER_REDUCER
        assert most.reducers == MAX_REDUCE_TASKS // workers * workers
        assert "at most" in most.reasons["reducers"]


@pytest.mark.property
@given(
    workers=st.integers(1, 64),
    total=st.integers(1, 50 * GB),
)
def test_local_chunks_are_equal_and_a_multiple_of_the_workers(workers: int, total: int) -> None:
    """No worker runs a last task alone while the others idle: past one
    minimum chunk per worker, the task count is a multiple of the workers;
    the chunk stays between the local bounds."""
    chunk = tune(total, stats(), local_limits(workers)).chunk_size
    assert LOCAL_MIN_CHUNK_BYTES <= chunk <= LOCAL_MAX_CHUNK_BYTES
    tasks = tasks_of(total, chunk)
    if total >= workers * LOCAL_MIN_CHUNK_BYTES:
        assert tasks % workers == 0, (tasks, workers)
        # equal chunks: the last task is as long as the others, give or take a byte per task
        assert total - (tasks - 1) * chunk >= chunk - tasks
    else:
        assert chunk == LOCAL_MIN_CHUNK_BYTES  # a small input: the fewest tasks


@pytest.mark.unit
def test_local_chunks_grow_no_further_than_the_default_chunk_size() -> None:
    limits = local_limits(2)
    for total in (10 * GB, 100 * GB):
        assert tune(total, stats(), limits).chunk_size <= config.DEFAULT_CHUNK_SIZE


# -- the environment ---------------------------------------------------------------------
@pytest.mark.unit
def test_limits_from_the_environment() -> None:
    assert limits_for(
        Settings.load({"LOGMR_STORAGE": "local", "LOGMR_WORKERS": "3"})
    ) == local_limits(3)
    lam = limits_for(Settings.load({"LOGMR_MAP_MEMORY_MB": "3008", "LOGMR_MAP_CONCURRENCY": "50"}))
    assert (lam.target, lam.memory_mb, lam.concurrency) == ("lambda", 3008, 50)
    assert lam.timeout_s == FUNCTION_SIZES["Map"][1]  # not set: the stack's own
    default = limits_for(Settings.load({}))
    assert (default.memory_mb, default.timeout_s) == FUNCTION_SIZES["Map"]
    assert limits_for(Settings.load({"LOGMR_MAP_TIMEOUT_S": "120"})).timeout_s == 120


@pytest.mark.unit
def test_a_local_reducer_merges_at_most_a_million_keys() -> None:
    """On one machine: one reducer per worker, or a larger multiple of the
    workers past ``LOCAL_KEYS_PER_REDUCER`` keys each (10 million keys on 2
    workers: 10 reducers of a million)."""
    local = local_limits(2)
    assert choose_reducers(2 * tuning.LOCAL_KEYS_PER_REDUCER, local) == (2, "one per worker")
    reducers, reason = choose_reducers(10_000_000, local)
    assert reducers == 10 and "5 per worker" in reason
    assert choose_reducers(10_000_001, local)[0] == 12  # rounds up, a multiple of the workers


@pytest.mark.unit
def test_a_log_of_new_keys_is_cut_so_a_map_task_combines_at_most_a_million() -> None:
    """A sample whose second half finds a new key every 9 bytes (unique
    tokens): 64 MiB would hold about 7 million keys, so the chunk shrinks to
    about what holds MAP_TASK_KEYS; a log of repeating keys keeps its chunk."""
    fresh = SampleStats(
        bytes=1_000_000, lines=10_000, keys=111_111, keys_first_half=55_555, singletons=111_111
    )
    chunk, reason = tuning._fewer_keys_a_task(64 * MiB, "local", fresh, local_limits(2), GB)
    # the whole MiB at or just past a million keys
    assert fresh.keys_in(chunk - MiB) <= tuning.MAP_TASK_KEYS < fresh.keys_in(64 * MiB)
    assert "at most 1,000,000 a map task" in reason
    repeating = SampleStats(bytes=1_000_000, lines=10_000, keys=500, keys_first_half=500)
    assert tuning._fewer_keys_a_task(64 * MiB, "kept", repeating, local_limits(2), GB) == (
        64 * MiB,
        "kept",
    )


# -- a map task's memory budget ----------------------------------------------------------------
@pytest.mark.unit
def test_a_map_tasks_budget_is_its_memorys_shares() -> None:
    """On the Map function: the combining table's share, the held segments'
    share, 8 MiB texts, and the planner's million keys, which that share holds."""
    budget = Limits().map_budget
    memory = FUNCTION_SIZES["Map"][0] * MiB
    assert budget.state_bytes == int(memory * tuning.MAP_STATE_SHARE)
    assert budget.held_bytes == int(memory * tuning.MAP_HELD_SHARE)
    assert budget.state_bytes + 2 * budget.held_bytes < memory / 2
    assert budget.text_bytes == tuning.MAP_TEXT_BYTES
    assert budget.planned_keys == tuning.MAP_TASK_KEYS
    assert budget.planned_keys * tuning.PLANNED_KEY_BYTES <= budget.state_bytes


@pytest.mark.unit
def test_a_small_memory_plans_fewer_keys_and_smaller_texts() -> None:
    small = tuning.map_budget(16)
    assert small.planned_keys == small.state_bytes // tuning.PLANNED_KEY_BYTES
    assert small.planned_keys < tuning.MAP_TASK_KEYS
    assert tuning.MIN_TEXT_BYTES <= small.text_bytes <= small.state_bytes // 8
    assert tuning.map_budget(1).text_bytes == tuning.MIN_TEXT_BYTES
    fresh = SampleStats(
        bytes=1_000_000, lines=10_000, keys=111_111, keys_first_half=55_555, singletons=111_111
    )
    roomy, _ = tuning._fewer_keys_a_task(64 * MiB, "", fresh, local_limits(2, 2048), GB)
    tight, reason = tuning._fewer_keys_a_task(64 * MiB, "", fresh, local_limits(2, 64), GB)
    assert tight < roomy and f"at most {local_limits(2, 64).map_budget.planned_keys:,}" in reason


@pytest.mark.unit
def test_a_local_worker_gets_its_share_of_the_machine_at_most_the_functions() -> None:
    assert local_limits(2, 300).memory_mb == 300  # given: it wins
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MiB
    for workers in (1, 2, 64):
        share = local_limits(workers).memory_mb
        assert share == min(FUNCTION_SIZES["Map"][0], machine // (workers + 1))
    local = limits_for(Settings.load({"LOGMR_STORAGE": "local", "LOGMR_MAP_MEMORY_MB": "40"}))
    assert (local.target, local.memory_mb) == ("local", 40)
