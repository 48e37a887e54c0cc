"""The Reduce task: one partition of every shuffle object in, results out."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from logmr import layout
from logmr.errors import CorruptShuffleError, InvalidParameterError
from logmr.jobs.base import key_text
from logmr.jobs.binding import prepare
from logmr.mapreduce import merging
from logmr.mapreduce.merging import GroupMerger, RowSorter
from logmr.mapreduce.partition import bucket_group
from logmr.mapreduce.side import collector_paused
from logmr.plan.tuning import ReduceBudget, reduce_budget
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.base import Block, BlockGroup
from logmr.storage.counting import CountingStore
from logmr.storage.parts import put_part, store_best
from logmr.tasks.common import read_each
from logmr.tasks.summaries import attempts_digest, new_attempt, put_summary


def reduce_task(
    spec: JobSpec,
    partition: int,
    map_task_count: int,
    backends: Backends,
    attempt: str | None = None,
    *,
    budget: ReduceBudget | None = None,
) -> dict[str, Any]:
    """Read one partition, the contiguous group of buckets
    ``partition.bucket_group`` gives it, from every map task's shuffle object
    and its spill objects (of each, the index and the group's adjacent
    blocks: at most 2 GETs per object, ``READ_THREADS`` map tasks at a time,
    held compressed and decoded a block at a time), reduce, write the
    partition's part file (every result) and its best results to the result
    store (``storage.parts``). A salted key's values (``spec.salted_keys``:
    the key is in many partitions) are only combined: the partial pairs go to
    the reduce summary, for Finalize to reduce. The summary is bound to the
    job, the partition and this attempt (a new one unless given) and names
    the attempts of the map outputs read (``tasks.summaries``).

    Within the memory ``budget`` gives it (``ReduceBudget``; default: the
    Reduce function's): past its shares, the pairs read and the results are
    spilled as sorted runs to a temporary folder and merged key by key
    (``mapreduce.merging``), and the part file is written a row group at a
    time, so a task's memory stays bounded however many keys its partition
    holds."""
    started = time.perf_counter()
    attempt = attempt or new_attempt()
    budget = budget or reduce_budget()
    if not 0 <= partition < spec.reducers:
        raise InvalidParameterError(f"partition {partition} outside 0..{spec.reducers - 1}")
    if spec.buckets < spec.reducers:
        raise InvalidParameterError(
            f"job {spec.job_id}: {spec.buckets} buckets for {spec.reducers} reducers"
            " (a reduce task needs the spec PlanReduce returns)"
        )
    job, _ = prepare(spec)
    objects = CountingStore(backends.objects)
    buckets = bucket_group(partition, spec.reducers, spec.buckets)

    def read(task: int) -> tuple[str, list[Block]]:
        """The attempt and the group's blocks of map task ``task``: of the
        spill objects its index counts (in the order they were written),
        every one of the same attempt, then of its object."""

        def group_of(spill: int) -> BlockGroup:
            key = layout.shuffle_key(spec.job_id, task, spill)
            return objects.read_bucket_blocks(
                key, buckets, spec.buckets, job_id=spec.job_id, task=task
            )

        own = group_of(0)
        blocks: list[Block] = []
        for spill in range(1, own.spills + 1):
            found = group_of(spill)
            if found.attempt != own.attempt:
                name = objects.location(layout.shuffle_key(spec.job_id, task, spill))
                raise CorruptShuffleError(
                    f"{name}: spill object {spill} of map task {task}'s attempt"
                    f" {found.attempt}, not of attempt {own.attempt} whose object counts it:"
                    " two attempts' outputs mixed; run the job again"
                )
            blocks += found.blocks
        return own.attempt, blocks + own.blocks

    salted = frozenset(spec.salted_keys)
    partials: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="logmr-reduce-") as scratch:
        merger = GroupMerger(job, budget.pairs_bytes, Path(scratch))
        attempts = []
        with collector_paused():  # decoding makes a list per value, none in a cycle
            for found, blocks in read_each(read, range(map_task_count)):
                attempts.append(found)
                for block in blocks:
                    merger.add(block.pairs())
                del blocks
            groups = merger.groups()  # what is held, grouped now; the runs merged as read
            map_attempts = attempts_digest(attempts)
            # reducing makes a tuple per result and holds millions of groups:
            # the collector stays paused (reducers make no cycles either)
            sorter = RowSorter(budget.rows_bytes, Path(scratch))
            rows: list[tuple[str, Any]] = []
            for key, values in groups:
                if key in salted:
                    partials += ([k, value] for k, value in job.combiner(key, values))
                    continue
                for out_key, value in job.reducer(key, values):
                    rows.append((key_text(out_key), value))
                if len(rows) >= merging.ROWS_CHECK_EVERY:
                    sorter.extend(rows)
                    rows = []
            sorter.extend(rows)
            del groups, rows
        spilled = {
            "runs": merger.runs.written + sorter.runs.written,
            "bytes": merger.runs.bytes + sorter.runs.bytes,
        }
        keys, best = put_part(
            objects, layout.part_key(spec.job_id, partition), sorter.rows, sorter.in_memory
        )
    stored = store_best(backends.results, spec.job_id, best)
    requests = objects.requests()
    summary = {
        "job_id": spec.job_id,
        "partition": partition,
        "attempt": attempt,
        # the attempt of every map output read, for Finalize (``tasks.summaries``)
        "map_attempts": map_attempts,
        "keys": keys,
        "stored": stored,
        "counters": dict(job.counters),
        # sorted runs written past the memory budget (``mapreduce.merging``)
        "spilled": spilled,
        "seconds": round(time.perf_counter() - started, 4),
        "requests": {**requests, "put": requests["put"] + 1},  # and this summary's PUT
    }
    if partials:
        summary["partials"] = partials
    put_summary(objects, layout.reduce_summary_key(spec.job_id, partition), summary)
    return {"partition": partition, "keys": keys, "seconds": summary["seconds"]}
