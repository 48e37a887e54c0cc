"""The Reduce task: one partition of every shuffle object in, results out."""

from __future__ import annotations

import time
from typing import Any

from logmr import layout
from logmr.errors import CorruptShuffleError, InvalidParameterError
from logmr.jobs.binding import prepare
from logmr.mapreduce.partition import bucket_group
from logmr.mapreduce.side import collector_paused, merge_groups, reduce_groups
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.base import BucketGroup
from logmr.storage.counting import CountingStore
from logmr.storage.parts import part_file, store_best
from logmr.tasks.common import read_all
from logmr.tasks.summaries import attempts_digest, new_attempt, put_summary


def reduce_task(
    spec: JobSpec,
    partition: int,
    map_task_count: int,
    backends: Backends,
    attempt: str | None = None,
) -> dict[str, Any]:
    """Read one partition, the contiguous group of buckets
    ``partition.bucket_group`` gives it, from every map task's shuffle object
    and its spill objects (of each, the index and the group's adjacent
    blocks: at most 2 GETs per object, ``READ_THREADS`` map tasks at a time),
    reduce, write the partition's part file (every result) and its best
    results to the result store (``storage.parts``). A salted key's values
    (``spec.salted_keys``: the key is in many partitions) are only combined:
    the partial pairs go to the reduce summary, for Finalize to reduce. The
    summary is bound to the job, the partition and this attempt (a new one
    unless given) and names the attempts of the map outputs read
    (``tasks.summaries``)."""
    started = time.perf_counter()
    attempt = attempt or new_attempt()
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

    def read(task: int) -> tuple[str, list[tuple[str, Any]]]:
        """The attempt and the group's pairs of map task ``task``: of its
        object, and of the spill objects its index counts (in the order they
        were written), every one of the same attempt."""

        def group_of(spill: int) -> BucketGroup:
            key = layout.shuffle_key(spec.job_id, task, spill)
            return objects.read_buckets(key, buckets, spec.buckets, job_id=spec.job_id, task=task)

        own = group_of(0)
        if not own.spills:
            return own.attempt, own.pairs
        pairs: list[tuple[str, Any]] = []
        for spill in range(1, own.spills + 1):
            found = group_of(spill)
            if found.attempt != own.attempt:
                name = objects.location(layout.shuffle_key(spec.job_id, task, spill))
                raise CorruptShuffleError(
                    f"{name}: spill object {spill} of map task {task}'s attempt"
                    f" {found.attempt}, not of attempt {own.attempt} whose object counts it:"
                    " two attempts' outputs mixed; run the job again"
                )
            pairs += found.pairs
        return own.attempt, pairs + own.pairs

    with collector_paused():  # decoding makes a list per value, none in a cycle
        outputs = read_all(read, range(map_task_count))
        map_attempts = attempts_digest([found for found, _ in outputs])
        groups = merge_groups(job, [pairs for _, pairs in outputs])
        del outputs
    salted = set(spec.salted_keys)
    partials = [
        [out_key, value]
        for key in sorted(salted.intersection(groups))
        for out_key, value in job.combiner(key, groups.pop(key))
    ]
    part, rows = part_file(reduce_groups(job, groups))
    del groups
    objects.put(layout.part_key(spec.job_id, partition), part)
    stored = store_best(backends.results, spec.job_id, rows)
    requests = objects.requests()
    summary = {
        "job_id": spec.job_id,
        "partition": partition,
        "attempt": attempt,
        # the attempt of every map output read, for Finalize (``tasks.summaries``)
        "map_attempts": map_attempts,
        "keys": len(rows),
        "stored": stored,
        "counters": dict(job.counters),
        "seconds": round(time.perf_counter() - started, 4),
        "requests": {**requests, "put": requests["put"] + 1},  # and this summary's PUT
    }
    if partials:
        summary["partials"] = partials
    put_summary(objects, layout.reduce_summary_key(spec.job_id, partition), summary)
    return {"partition": partition, "keys": len(rows), "seconds": summary["seconds"]}
