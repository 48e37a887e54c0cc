"""The Map task: one byte range in, one shuffle object and a summary out."""

from __future__ import annotations

import time
from typing import Any

from logmr import layout
from logmr.config import SAMPLES_PER_TASK
from logmr.errors import InvalidParameterError
from logmr.inputs.lines import iter_range_texts
from logmr.inputs.source import decompressing
from logmr.jobs.binding import prepare
from logmr.mapreduce.shuffle import Binding, encode
from logmr.mapreduce.side import MapSide
from logmr.plan.reducers import task_keys
from logmr.spec import JobSpec, MapTask
from logmr.storage.backends import Backends
from logmr.storage.counting import CountingStore
from logmr.tasks.summaries import new_attempt, put_summary


def map_task(
    spec: JobSpec, task: MapTask, backends: Backends, attempt: str | None = None
) -> dict[str, Any]:
    """Read one byte range, map and combine it, write one shuffle object and
    then the summary, both bound to the job, the task and this attempt
    (``attempt``: a new one unless given; ``tasks.summaries``)."""
    started = time.perf_counter()
    attempt = attempt or new_attempt()
    _check_planned(spec)
    job, fmt = prepare(spec)
    objects = CountingStore(backends.objects)
    side = MapSide(job, fmt, SAMPLES_PER_TASK, sample_origin=f"{task.uri}@{task.start}")
    # one ranged GET on S3, of the version Plan listed (If-Match)
    raw = backends.inputs.open_at(task.uri, max(task.start - 1, 0), version=task.version)
    with decompressing(raw, task.compression, task.uri) as stream:
        texts = iter_range_texts(stream, task.start, task.end, on_long_line=side.long_line)
        for text in texts:
            side.feed_text(text)
            del text  # one 8 MiB text alive at a time: the allocator reuses it in place
    backends.inputs.verify(task.uri, task.version)  # a local file may change as it is read
    side.combine()
    parts = side.partitions(spec.buckets, frozenset(spec.salted_keys), task.task)
    keys = task_keys(parts)
    data = encode(parts, Binding(spec.job_id, task.task, attempt))
    objects.put(layout.shuffle_key(spec.job_id, task.task), data)
    requests = objects.requests()
    summary = {
        "job_id": spec.job_id,
        "task": task.task,
        "attempt": attempt,
        "counters": side.counters(),
        "samples": side.samples,
        "shuffle_bytes": len(data),
        # the task's distinct keys, for PlanReduce (``tasks.reduce_planning``)
        "keys": keys,
        "input_bytes": (task.end - task.start) if task.end is not None else None,
        "seconds": round(time.perf_counter() - started, 4),
        # the input GET, and this summary's own PUT
        "requests": {**requests, "get": requests["get"] + 1, "put": requests["put"] + 1},
    }
    put_summary(objects, layout.map_summary_key(spec.job_id, task.task), summary)
    return {
        "task": task.task,
        "counters": summary["counters"],
        "seconds": summary["seconds"],
        "input_bytes": summary["input_bytes"],
    }


def _check_planned(spec: JobSpec) -> None:
    """A map task partitions into ``spec.buckets``, which Plan chooses."""
    if spec.reducers < 1 or spec.buckets < spec.reducers:
        raise InvalidParameterError(
            f"job {spec.job_id}: a map task needs the spec Plan returns (buckets chosen)"
        )
