"""``make_plan``: what Plan decides before it writes anything: the inputs
listed, the format detected, a sample mapped, the figures the request leaves
open tuned (``plan.tuning``), the inputs cut into map tasks (``plan.cutting``),
the map mode chosen. ``logmr plan`` shows it; the Plan task records it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from logmr import formats
from logmr.errors import EmptyInputError
from logmr.inputs.source import InputObject, InputSource, read_head, read_spread
from logmr.jobs import load_job
from logmr.jobs.binding import check, prepare
from logmr.mapreduce.partition import buckets_for
from logmr.plan.cutting import count_tasks, cut
from logmr.plan.sample import SAMPLE_BYTES, SAMPLE_SLICES, SampleStats, sample_stats
from logmr.plan.tuning import Limits, Tuning, tune
from logmr.spec import INLINE_MAP_MAX_TASKS, JobSpec, MapTask

#: bytes of the first input read to detect the format
DETECT_SAMPLE_BYTES = 256 * 1024
DETECT_SAMPLE_LINES = 500


def detect(spec: JobSpec, head: bytes) -> JobSpec:
    """``spec`` with ``format="auto"`` replaced by the format detected in ``head``."""
    if spec.format != "auto":
        return spec
    if load_job(spec.job, spec.params).raw_lines:
        chosen = "plain"
    else:
        lines = [line.rstrip(b"\r") for line in head.split(b"\n")[:DETECT_SAMPLE_LINES]]
        chosen = formats.detect_format(lines).name
    return JobSpec(**{**spec.to_dict(), "format": chosen})


@dataclass(frozen=True)
class Plan:
    """What Plan decides before it writes anything (``logmr plan`` shows it)."""

    spec: JobSpec
    objects: list[InputObject]
    map_tasks: list[MapTask]
    sample: SampleStats
    tuning: Tuning
    distributed: bool

    @property
    def input_bytes(self) -> int:
        return sum(obj.size for obj in self.objects)


def make_plan(spec: JobSpec, inputs: InputSource, limits: Limits) -> Plan:
    """Validate the job, list the inputs, detect the format, map a sample,
    tune the figures the request leaves open (``logmr.plan.tuning``) and cut the
    inputs. Reads the listing and ``SAMPLE_BYTES`` of whole lines only, the
    first object's start and ``SAMPLE_SLICES - 1`` pieces spread over the
    inputs (``inputs.read_spread``)."""
    check(spec)  # unknown job, bad parameters or format: fail before any I/O
    objects = inputs.list_inputs(spec.inputs)
    if not objects or all(obj.size == 0 for obj in objects):
        raise EmptyInputError(f"the inputs hold no bytes: {', '.join(spec.inputs)}")
    first = next(obj for obj in objects if obj.size)
    wanted = max(DETECT_SAMPLE_BYTES, SAMPLE_BYTES)
    head = read_head(inputs, first, wanted)
    spec = detect(spec, head)
    job, fmt = prepare(spec)
    total = sum(obj.size for obj in objects)
    whole = len(head) < wanted and total == first.size
    text, reads = head[:SAMPLE_BYTES], 0
    if total > SAMPLE_BYTES and not whole:
        text, reads = read_spread(inputs, objects, head, SAMPLE_BYTES, SAMPLE_SLICES)
    sample = sample_stats(job, fmt, text, complete=whole, reads=1 + reads)
    tuning = tune(
        total,
        sample,
        limits,
        chunk_size=spec.chunk_size,
        reducers=spec.reducers,
        max_concurrency=spec.max_concurrency,
        salted_keys=spec.salted_keys,
        count_tasks=lambda chunk: count_tasks(objects, chunk),
    )
    spec = replace(
        spec,
        chunk_size=tuning.chunk_size,
        reducers=tuning.reducers,
        max_concurrency=tuning.max_concurrency,
        salted_keys=tuning.salted_keys,
        buckets=spec.buckets or buckets_for(tuning.reducers),
    )
    map_tasks = cut(objects, spec.chunk_size)
    distributed = spec.map_mode == "distributed" or (
        spec.map_mode == "auto" and len(map_tasks) > INLINE_MAP_MAX_TASKS
    )
    return Plan(spec, objects, map_tasks, sample, tuning, distributed)
