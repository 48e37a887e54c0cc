"""The Map task: its pieces in (byte ranges of one or more objects), one
shuffle object (and a spill object per budget's worth of spilled segments)
and a summary out."""

from __future__ import annotations

import time
from typing import Any

from logmr import layout
from logmr.config import SAMPLES_PER_TASK
from logmr.errors import InvalidParameterError
from logmr.inputs.lines import iter_range_texts
from logmr.inputs.source import decompressing
from logmr.jobs.binding import prepare
from logmr.mapreduce.shuffle import Binding, Segments
from logmr.mapreduce.side import MapSide
from logmr.plan.reducers import TaskKeys
from logmr.plan.tuning import Limits, MapBudget, local_limits
from logmr.spec import JobSpec, MapTask
from logmr.storage.backends import Backends
from logmr.storage.counting import CountingStore
from logmr.tasks.summaries import new_attempt, put_summary


def map_task(
    spec: JobSpec,
    task: MapTask,
    backends: Backends,
    limits: Limits | None = None,
    attempt: str | None = None,
) -> dict[str, Any]:
    """Read the task's pieces in order (each the lines of one byte range of
    one object, ``inputs.lines``), map and combine them, write its shuffle
    objects and then the summary, all bound to the job, the task and this attempt
    (``attempt``: a new one unless given; ``tasks.summaries``). Within the
    memory ``limits`` give it (``MapBudget``; default: this machine's share):
    when the combining table's estimate passes the budget, its pairs go out as
    a segment and combining starts again (``mapreduce.shuffle``, "Segments
    and spills"), so a task's memory stays bounded however many keys its
    range holds."""
    started = time.perf_counter()
    attempt = attempt or new_attempt()
    _check_planned(spec)
    budget = (limits or local_limits()).map_budget
    job, fmt = prepare(task.read_as(spec))  # its pieces' format (inputs of several formats)
    objects = CountingStore(backends.objects)
    side = MapSide(job, fmt, SAMPLES_PER_TASK, window=spec.time_range)
    output = _Output(spec, task, objects, budget, Binding(spec.job_id, task.task, attempt))
    # one buffer for every piece's reads: a task of many small objects would
    # otherwise allocate (and fault in) a block per object
    buffer = bytearray(budget.text_bytes)
    for piece in task.pieces:
        side.sample_origin = f"{piece.uri}@{piece.start}"  # names a malformed line's piece
        # one ranged GET on S3, of the version Plan listed (If-Match)
        raw = backends.inputs.open_at(piece.uri, max(piece.start - 1, 0), version=piece.version)
        with decompressing(raw, piece.compression, piece.uri) as stream:
            texts = iter_range_texts(
                stream,
                piece.start,
                piece.end,
                on_long_line=side.long_line,
                block_size=budget.text_bytes,
                buffer=buffer,
            )
            for text in texts:
                side.feed_text(text)
                del text  # one text alive at a time: the allocator reuses it in place
                if side.footprint() > budget.state_bytes:
                    output.spill(side)
        # a local file may change as it is read
        backends.inputs.verify(piece.uri, piece.version)
    shuffle_bytes = output.close(side)
    requests = objects.requests()
    summary = {
        "job_id": spec.job_id,
        "task": task.task,
        "attempt": attempt,
        "counters": side.counters(),
        "samples": side.samples,
        "shuffle_bytes": shuffle_bytes,
        # the task's distinct keys, for PlanReduce (``tasks.reduce_planning``)
        "keys": output.keys.report(),
        "segments": output.segments,
        "spills": output.spills,
        "input_bytes": task.input_bytes,
        "pieces": len(task.pieces),
        "seconds": round(time.perf_counter() - started, 4),
        # a GET per piece, and this summary's own PUT
        "requests": {
            **requests,
            "get": requests["get"] + len(task.pieces),
            "put": requests["put"] + 1,
        },
    }
    put_summary(objects, layout.map_summary_key(spec.job_id, task.task), summary)
    return {
        "task": task.task,
        "counters": summary["counters"],
        "seconds": summary["seconds"],
        "input_bytes": summary["input_bytes"],
    }


class _Output:
    """A map task's segments (``MapSide.drain``) on their way to its objects:
    held compressed until they pass ``MapBudget.held_bytes``, then written as
    the next spill object; the last ones in the task's own object, written
    last, whose index counts the spill objects before it."""

    def __init__(
        self,
        spec: JobSpec,
        task: MapTask,
        objects: CountingStore,
        budget: MapBudget,
        binding: Binding,
    ) -> None:
        self.spec, self.task, self.objects, self.budget = spec, task, objects, budget
        #: every object of the task attempt carries it (``shuffle.Binding``)
        self.binding = binding
        self.held = Segments(spec.buckets)
        self.keys = TaskKeys()
        self.segments = self.spills = self.written = 0

    def spill(self, side: MapSide) -> None:
        """The side's pairs so far as a segment; held ones written past the budget."""
        self._segment(side)
        if self.held.size > self.budget.held_bytes:
            self.spills += 1
            self._put(layout.shuffle_key(self.spec.job_id, self.task.task, self.spills), 0)

    def close(self, side: MapSide) -> int:
        """The last segment and the task's object; every shuffle byte written."""
        self._segment(side)
        self._put(layout.shuffle_key(self.spec.job_id, self.task.task), self.spills)
        return self.written

    def _segment(self, side: MapSide) -> None:
        salted = frozenset(self.spec.salted_keys)
        found = False
        for bucket, keys, chunk in side.drain(self.spec.buckets, salted, self.task.task):
            self.keys.add(keys)
            self.held.add(bucket, chunk)
            found = True
        self.segments += found

    def _put(self, key: str, spills: int) -> None:
        data = self.held.take(self.binding, spills)
        self.objects.put(key, data)
        self.written += len(data)


def _check_planned(spec: JobSpec) -> None:
    """A map task partitions into ``spec.buckets``, which Plan chooses."""
    if spec.reducers < 1 or spec.buckets < spec.reducers:
        raise InvalidParameterError(
            f"job {spec.job_id}: a map task needs the spec Plan returns (buckets chosen)"
        )
