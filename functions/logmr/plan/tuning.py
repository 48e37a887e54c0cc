"""Planner auto-tuning: the chunk size, the number of reducers and the Map
states' concurrency from the input's size, where the tasks run, and a sample
of the job's output (``logmr.plan.sample``). Pure functions over a documented model
(docs/performance.md); a chunk size, reducer count or concurrency given in the
job request always wins.

The model, for AWS Lambda:

* a map task streams its byte range and parses it on one core at
  ``MAP_MB_PER_S_PER_VCPU`` (measured here at 95 MB/s per core for Apache
  combined lines, bench/results; a Lambda vCPU is taken as 0.65 of that core),
  never faster than one S3 GET stream (``S3_STREAM_MB_PER_S``); a Lambda has
  ``memory / 1769 MB`` vCPUs and a map task uses at most one;
* a map task should take about ``TARGET_MAP_TASK_S`` and never more than a
  quarter of the function's timeout, and at least ``MIN_CHUNK_BYTES`` so the
  fixed cost of a task (invocation, two state transitions, three S3 requests)
  stays small against its work;
* the chunk size spreads the input over the concurrency (one wave of map
  tasks when the time bound allows) and keeps the task count at most
  ``MAX_MAP_TASKS``: every reducer reads two ranges of every mapper's object;
* a reducer writes about ``KEYS_PER_REDUCER`` results (DynamoDB batch writes of
  25 items at about ``DYNAMODB_ITEMS_PER_S`` per reducer, under a minute), and
  there are at most ``MAX_REDUCERS``: the Reduce state is an inline Map, which
  runs 40 iterations at a time, so 40 reducers are one wave;
* a map task's memory is shared out (``MapBudget``): a share for its
  combining table, past which it spills a segment (``mapreduce.shuffle``),
  a share for the segments it holds compressed; the planner cuts a log of
  new keys so that a task plans to combine what its share holds
  (``MapBudget.planned_keys``), and the spill bounds it when the sample erred;
* a key whose combined pairs would make its reducer the long pole is salted:
  spread over every reducer, reduced in Finalize (``logmr.plan.sample.choose_salted_keys``);
* on one machine (``local``) the workers are the cores: equal chunks of at
  most ``LOCAL_MAX_CHUNK_BYTES``, as many as a multiple of the cores (each
  worker runs the same number of map tasks), one reducer per core; a
  worker's memory is its share of the machine's, at most the Map function's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logmr import config
from logmr.config import Settings
from logmr.limits import (
    ACCOUNT_CONCURRENCY,
    INLINE_MAP_CONCURRENCY,
    MAX_MAP_TASKS,
    MAX_REDUCE_TASKS,
)
from logmr.limits import MB_PER_VCPU as LAMBDA_MB_PER_VCPU
from logmr.plan.sample import SampleStats, choose_salted_keys
from logmr.workflow.names import FUNCTION_SIZES

MiB = 1024 * 1024
#: one vCPU's worth of Lambda memory (MB)
MB_PER_VCPU = LAMBDA_MB_PER_VCPU
#: map throughput of one Lambda vCPU (MB/s): 95 MB/s measured per core here
#: (bench/results/status_codes.md, full map task) times 0.65 for a Lambda vCPU
MAP_MB_PER_S_PER_VCPU = 60.0
#: one S3 GET stream's throughput (MB/s) from Lambda in the same region
S3_STREAM_MB_PER_S = 90.0
TARGET_MAP_TASK_S = 60.0
#: a map task never plans to use more than this share of the function timeout
TIMEOUT_SHARE = 0.25
MIN_CHUNK_BYTES = 64 * MiB
KEYS_PER_REDUCER = 100_000
#: distinct keys a map task plans to combine at most (its combining table
#: lives for the task: about 150-250 MB of Python objects at this size), so
#: a log of mostly new keys (ids, tokens) is cut in smaller ranges; fewer when
#: the task's memory budget holds fewer (``MapBudget.planned_keys``)
MAP_TASK_KEYS = 1_000_000
#: a map task's memory (``Limits.memory_mb``) shared out (``MapBudget``): the
#: combining table's estimated bytes at which it spills a segment (its spill
#: makes about as much again in passing), and the compressed segments held
#: before they are written as a spill object (copied once when written)
MAP_STATE_SHARE = 0.3
MAP_HELD_SHARE = 0.1
#: a reduce task's memory (its function's, ``FUNCTION_SIZES["Reduce"]``)
#: shared out (``ReduceBudget``): the decoded map output pairs held past which
#: they are merged and spilled as a sorted run (merging makes about as much
#: again in passing), and the results held past which they are sorted and
#: spilled (the part file's row groups are built from them, about as much again)
REDUCE_PAIRS_SHARE = 0.2
REDUCE_ROWS_SHARE = 0.1
#: bytes of the combining table's estimate the planner counts a key at
#: (``mapreduce.side.MapSide.footprint``: a short key, its entry and value)
PLANNED_KEY_BYTES = 150
#: the text a map task parses at a time (``inputs.lines.iter_range_texts``),
#: at most: a text's new keys join the table before the budget is checked,
#: so a text is also at most ``TEXTS_PER_STATE`` times smaller than the table
MAP_TEXT_BYTES = 8 * 1024 * 1024
TEXTS_PER_STATE = 8
MIN_TEXT_BYTES = 64 * 1024
#: a local worker's share of the machine's memory: the machine divided by
#: the workers and one more (the CLI, the engine, the page cache)
LOCAL_MEMORY_SHARES_EXTRA = 1
#: keys a reducer on one machine merges at most: past ``workers`` times this
#: many, the reducers are a larger multiple of the workers
LOCAL_KEYS_PER_REDUCER = 1_000_000
#: one reducer's result writes: 25-item BatchWriteItem calls of about 10 ms
DYNAMODB_ITEMS_PER_S = 2_500.0
#: the Reduce state is an inline Map (40 iterations at a time): one wave
MAX_REDUCERS = INLINE_MAP_CONCURRENCY
#: Lambda's default account concurrency: the Distributed Map's MaxConcurrency
LAMBDA_CONCURRENCY = ACCOUNT_CONCURRENCY
LOCAL_MAX_CHUNK_BYTES = config.DEFAULT_CHUNK_SIZE
LOCAL_MIN_CHUNK_BYTES = 1 * MiB


@dataclass(frozen=True)
class MapBudget:
    """What a map task's memory allows it (``map_budget``)."""

    #: the combining table's estimated bytes past which it spills a segment
    state_bytes: int
    #: compressed segments held past which they are written as a spill object
    held_bytes: int
    #: the largest text parsed at a time
    text_bytes: int

    @property
    def planned_keys(self) -> int:
        """Keys the planner lets a map task combine: ``MAP_TASK_KEYS``, or
        what the state budget holds at ``PLANNED_KEY_BYTES`` a key."""
        return max(min(MAP_TASK_KEYS, self.state_bytes // PLANNED_KEY_BYTES), 1)


def map_budget(memory_mb: int) -> MapBudget:
    """A map task's budget from its memory (MB): its shares
    (``MAP_STATE_SHARE``, ``MAP_HELD_SHARE``), texts at most 8 MiB and an
    eighth of the state's."""
    memory = memory_mb * MiB
    state = int(memory * MAP_STATE_SHARE)
    text = min(MAP_TEXT_BYTES, max(state // TEXTS_PER_STATE, MIN_TEXT_BYTES))
    return MapBudget(state_bytes=state, held_bytes=int(memory * MAP_HELD_SHARE), text_bytes=text)


@dataclass(frozen=True)
class ReduceBudget:
    """What a reduce task's memory allows it (``reduce_budget``)."""

    #: the map outputs' decoded pairs (estimated bytes) past which they are
    #: merged and spilled as a sorted run (``mapreduce.merging.GroupMerger``)
    pairs_bytes: int
    #: the results (estimated bytes) past which they are sorted and spilled
    #: (``mapreduce.merging.RowSorter``)
    rows_bytes: int


def reduce_budget(memory_mb: int = FUNCTION_SIZES["Reduce"][0]) -> ReduceBudget:
    """A reduce task's budget from its memory (MB; default: the Reduce
    function's): its shares
    (``REDUCE_PAIRS_SHARE``, ``REDUCE_ROWS_SHARE``)."""
    memory = memory_mb * MiB
    return ReduceBudget(
        pairs_bytes=int(memory * REDUCE_PAIRS_SHARE), rows_bytes=int(memory * REDUCE_ROWS_SHARE)
    )


def reduce_budget_for(settings: Settings) -> ReduceBudget:
    """The Reduce handler's budget: ``reduce_memory_mb`` if given, else the
    Reduce function's memory (``FUNCTION_SIZES``), on this machine at most a
    worker's share (``local_memory_mb``)."""
    if settings.reduce_memory_mb:
        return reduce_budget(settings.reduce_memory_mb)
    memory = FUNCTION_SIZES["Reduce"][0]
    if settings.storage == "local":
        workers = max(settings.workers or os.cpu_count() or 1, 1)
        memory = min(memory, local_memory_mb(workers))
    return reduce_budget(memory)


@dataclass(frozen=True)
class Limits:
    """Where the tasks run: ``lambda`` (the stack's functions) or ``local`` (cores)."""

    target: str = "lambda"
    memory_mb: int = FUNCTION_SIZES["Map"][0]
    timeout_s: int = FUNCTION_SIZES["Map"][1]
    concurrency: int = LAMBDA_CONCURRENCY
    #: local worker processes
    workers: int = 1

    @property
    def map_mb_per_s(self) -> float:
        """One map task's throughput: one core at most, capped by one GET stream."""
        vcpus = min(self.memory_mb / MB_PER_VCPU, 1.0)
        return min(MAP_MB_PER_S_PER_VCPU * vcpus, S3_STREAM_MB_PER_S)

    @property
    def map_budget(self) -> MapBudget:
        """What a map task's memory allows it."""
        return map_budget(self.memory_mb)

    @property
    def max_chunk_bytes(self) -> int:
        seconds = min(TARGET_MAP_TASK_S, self.timeout_s * TIMEOUT_SHARE)
        return _round_mib(self.map_mb_per_s * 1e6 * seconds)


def local_limits(workers: int | None = None, memory_mb: int | None = None) -> Limits:
    """This machine's: ``workers`` processes (default: the cores), each with
    ``memory_mb`` (default: the Map function's, at most a worker's share of
    the machine, ``local_memory_mb``)."""
    workers = max(workers or os.cpu_count() or 1, 1)
    return Limits(target="local", workers=workers, memory_mb=memory_mb or local_memory_mb(workers))


def local_memory_mb(workers: int) -> int:
    """A local worker's memory: the Map function's, at most the machine's
    divided by the workers and ``LOCAL_MEMORY_SHARES_EXTRA``."""
    lambda_mb = FUNCTION_SIZES["Map"][0]
    try:
        machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): Lambda's figure
        return lambda_mb
    return max(min(lambda_mb, machine // MiB // (workers + LOCAL_MEMORY_SHARES_EXTRA)), 1)


def limits_for(settings: Settings) -> Limits:
    """The handlers' view: local storage means the local engine (its
    workers); on Lambda the map function's memory and timeout the stack set,
    else ``FUNCTION_SIZES``. ``map_memory_mb`` wins in both."""
    if settings.storage == "local":
        return local_limits(settings.workers, settings.map_memory_mb)
    memory, timeout = FUNCTION_SIZES["Map"]
    return Limits(
        memory_mb=settings.map_memory_mb or memory,
        timeout_s=settings.map_timeout_s or timeout,
        concurrency=settings.map_concurrency or LAMBDA_CONCURRENCY,
    )


@dataclass(frozen=True)
class Tuning:
    chunk_size: int
    reducers: int
    max_concurrency: int
    #: distinct keys the sample predicts for the whole input
    expected_keys: int
    #: the range the sample allows (``SampleStats.keys_range``): low is ``expected_keys``
    keys_high: int = 0
    #: keys spread over every reducer (``logmr.plan.sample.choose_salted_keys``)
    salted_keys: list[str] = field(default_factory=list)
    #: the busiest partition's share of the sample's combined bytes
    largest_load_share: float = 1.0
    #: why each figure is what it is (for ``logmr plan``)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_size": self.chunk_size,
            "reducers": self.reducers,
            "max_concurrency": self.max_concurrency,
            "expected_keys": self.expected_keys,
            "keys_high": self.keys_high,
            "salted_keys": list(self.salted_keys),
            "largest_load_share": self.largest_load_share,
            "reasons": dict(self.reasons),
        }


def choose_chunk_size(total_bytes: int, limits: Limits) -> tuple[int, str]:
    if limits.target == "local":
        # a multiple of the workers in equal chunks: no worker idles while
        # another runs a last lone task (15 tasks on 2 workers waste 1/16)
        rounds = max(math.ceil(total_bytes / (limits.workers * LOCAL_MAX_CHUNK_BYTES)), 1)
        per_task = math.ceil(total_bytes / (limits.workers * rounds))
        chunk = min(max(per_task, LOCAL_MIN_CHUNK_BYTES), LOCAL_MAX_CHUNK_BYTES)
        return chunk, f"input / ({limits.workers} workers x {rounds}), within 1 MiB..64 MiB"
    spread = _round_mib(math.ceil(total_bytes / limits.concurrency))
    bounded = _round_mib(math.ceil(total_bytes / MAX_MAP_TASKS))
    chunk = max(spread, MIN_CHUNK_BYTES, bounded)
    reason = f"input / {limits.concurrency} concurrent tasks, at least {MIN_CHUNK_BYTES // MiB} MiB"
    if chunk > limits.max_chunk_bytes:
        chunk = max(limits.max_chunk_bytes, bounded)
        reason = (
            f"capped at {limits.max_chunk_bytes // MiB} MiB: "
            f"{min(TARGET_MAP_TASK_S, limits.timeout_s * TIMEOUT_SHARE):.0f} s "
            f"at {limits.map_mb_per_s:.0f} MB/s"
        )
    # the task count's bound decided (in the capped case too: the cap's reason would lie)
    if chunk == bounded and bounded > min(max(spread, MIN_CHUNK_BYTES), limits.max_chunk_bytes):
        reason = f"input / {MAX_MAP_TASKS} tasks (each reducer reads every map task's object)"
    return chunk, reason


def choose_reducers(expected_keys: int, limits: Limits) -> tuple[int, str]:
    if limits.target == "local":
        rounds = math.ceil(expected_keys / (limits.workers * LOCAL_KEYS_PER_REDUCER))
        if rounds <= 1:
            return limits.workers, "one per worker"
        reason = (
            f"{expected_keys:,} keys: at most {LOCAL_KEYS_PER_REDUCER:,} a reducer,"
            f" {rounds} per worker"
        )
        most = max(MAX_REDUCE_TASKS // limits.workers, 1) * limits.workers
        if limits.workers * rounds > most:  # the Reduce Map's bound, a multiple of the workers
            return most, f"{reason}; at most {most:,} (limits.MAX_REDUCE_TASKS)"
        return limits.workers * rounds, reason
    reducers = min(max(math.ceil(expected_keys / KEYS_PER_REDUCER), 1), MAX_REDUCERS)
    return reducers, f"{expected_keys:,} expected keys / {KEYS_PER_REDUCER:,} per reducer"


def choose_concurrency(map_tasks: int, reducers: int, limits: Limits) -> int:
    """The Map states' MaxConcurrency (map and reduce share it)."""
    if limits.target == "local":
        return INLINE_MAP_CONCURRENCY
    return max(1, min(max(map_tasks, reducers), limits.concurrency))


def tune(
    total_bytes: int,
    sample: SampleStats,
    limits: Limits,
    *,
    chunk_size: int = 0,
    reducers: int = 0,
    max_concurrency: int = 0,
    salted_keys: list[str] | None = None,
    count_tasks: Callable[[int], int] | None = None,
) -> Tuning:
    """Figures for a job over ``total_bytes``; non-zero (non-empty) arguments
    are the user's and win.
    ``count_tasks(chunk_size)``: the map tasks a chunk size gives (default: one
    object, ``ceil(total / chunk)``), for the concurrency."""
    reasons: dict[str, str] = {}
    if chunk_size:
        reasons["chunk_size"] = "given"
    else:
        chunk_size, reasons["chunk_size"] = choose_chunk_size(total_bytes, limits)
        chunk_size, reasons["chunk_size"] = _fewer_keys_a_task(
            chunk_size, reasons["chunk_size"], sample, limits, total_bytes
        )
    expected_keys, keys_high = sample.keys_range(total_bytes)
    if reducers:
        reasons["reducers"] = "given"
    else:
        reducers, reasons["reducers"] = choose_reducers(expected_keys, limits)
    tasks = count_tasks(chunk_size) if count_tasks else max(math.ceil(total_bytes / chunk_size), 1)
    if max_concurrency:
        reasons["max_concurrency"] = "given"
    else:
        max_concurrency = choose_concurrency(tasks, reducers, limits)
        reasons["max_concurrency"] = (
            "the inline Map's 40"
            if limits.target == "local"
            else f"the larger of map tasks and reducers, at most {limits.concurrency}"
        )
    if salted_keys:
        reasons["salted_keys"] = "given"
    else:
        salted_keys, reasons["salted_keys"] = choose_salted_keys(sample, reducers, tasks)
    return Tuning(
        chunk_size=chunk_size,
        reducers=reducers,
        max_concurrency=max_concurrency,
        expected_keys=expected_keys,
        keys_high=keys_high,
        salted_keys=list(salted_keys),
        largest_load_share=round(sample.largest_load_share(reducers), 4),
        reasons=reasons,
    )


def _fewer_keys_a_task(
    chunk: int, reason: str, sample: SampleStats, limits: Limits, total_bytes: int
) -> tuple[int, str]:
    """``chunk``, or a smaller one when the sample finds new keys so fast that
    a map task would combine more than ``MapBudget.planned_keys`` (its memory); never
    below the target's smallest chunk (on Lambda: ``MIN_CHUNK_BYTES``, and
    what keeps the tasks within ``MAX_MAP_TASKS``)."""
    most = limits.map_budget.planned_keys
    keys = sample.keys_in(chunk)
    if keys <= most:
        return chunk, reason
    if limits.target == "local":
        floor = LOCAL_MIN_CHUNK_BYTES
    else:
        floor = max(
            min(MIN_CHUNK_BYTES, limits.max_chunk_bytes),
            _round_mib(math.ceil(total_bytes / MAX_MAP_TASKS)),
        )
    smaller = max(_round_mib(chunk * most / keys), floor)
    return min(smaller, chunk), (
        f"about {keys:,} new keys in {chunk // MiB} MiB: at most {most:,} a map task"
    )


def _round_mib(nbytes: float) -> int:
    """``nbytes`` rounded up to a whole MiB (at least one)."""
    return max(math.ceil(nbytes / MiB), 1) * MiB
