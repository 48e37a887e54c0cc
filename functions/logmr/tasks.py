"""The task functions: ``plan``, ``map_task``, ``reduce_task``, ``finalize`` and
``mark_failed``. The Lambda handlers, the local engine and the inline runner
all call these, with storage passed in through ``Backends``.

Every task is idempotent: its outputs have deterministic names (a retried or
duplicated map task overwrites its shuffle object and summary, a reducer
upserts its keys), so running a task twice never counts twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from logmr import cost, formats
from logmr import spec as layout
from logmr.config import MAX_SAMPLES, SAMPLES_PER_TASK
from logmr.errors import EmptyInputError, InvalidParameterError, JobExistsError, cause_message
from logmr.formats.base import Format
from logmr.inputs import InputObject, InputSource, decompressing, read_head, read_spread
from logmr.jobs import Job, ResultsView, load_job

__all__ = [
    "Backends",
    "check_job_id_free",
    "finalize",
    "load_job",
    "make_plan",
    "map_task",
    "mark_failed",
    "plan",
    "prepare",
    "reduce_task",
]
from logmr.cost import READ_THREADS
from logmr.lines import iter_range_texts
from logmr.mapreduce import MapSide, reduce_groups
from logmr.planner import count_tasks, cut
from logmr.sample import SAMPLE_BYTES, SAMPLE_SLICES, SampleStats, sample_stats
from logmr.shuffle import encode
from logmr.spec import JobSpec, MapTask
from logmr.storage.base import JobRecord, ObjectStore, ResultStore
from logmr.storage.counting import CountingStore
from logmr.tuning import Limits, Tuning, local_limits, tune

T = TypeVar("T")

#: bytes of the first input read to detect the format
DETECT_SAMPLE_BYTES = 256 * 1024
DETECT_SAMPLE_LINES = 500


@dataclass
class Backends:
    """Where a task reads and writes: inputs, job objects, results."""

    inputs: InputSource
    objects: ObjectStore
    results: ResultStore


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def prepare(spec: JobSpec) -> tuple[Job, Format]:
    """The job and its format, checked against each other (no I/O)."""
    job = load_job(spec.job, spec.params)
    fmt = formats.get_format("plain" if spec.format == "auto" else spec.format, spec.format_options)
    job.bind(fmt)
    return job, fmt


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
    tune the figures the request leaves open (``logmr.tuning``) and cut the
    inputs. Reads the listing and ``SAMPLE_BYTES`` of whole lines only, the
    first object's start and ``SAMPLE_SLICES - 1`` pieces spread over the
    inputs (``inputs.read_spread``)."""
    load_job(spec.job, spec.params)  # unknown job or bad parameters: fail before any I/O
    if spec.format != "auto":
        prepare(spec)
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
    )
    map_tasks = cut(objects, spec.chunk_size)
    distributed = spec.map_mode == "distributed" or (
        spec.map_mode == "auto" and len(map_tasks) > layout.INLINE_MAP_MAX_TASKS
    )
    return Plan(spec, objects, map_tasks, sample, tuning, distributed)


def plan(spec: JobSpec, backends: Backends, limits: Limits | None = None) -> dict[str, Any]:
    """Plan the job (``make_plan``; ``limits`` default: this machine's cores),
    write the manifest, record the job as RUNNING."""
    started = time.time()
    check_job_id_free(spec, backends)
    planned = make_plan(spec, backends.inputs, limits or local_limits())
    spec = planned.spec
    manifest = {
        "spec": spec.to_dict(),
        "map_tasks": [task.to_dict() for task in planned.map_tasks],
        "input_bytes": planned.input_bytes,
        "input_objects": len(planned.objects),
        "tuning": planned.tuning.to_dict(),
        "hot_keys": planned.sample.hot_keys,
        "sample_reads": planned.sample.reads,
        "distributed": planned.distributed,
    }
    backends.objects.put_json(layout.manifest_key(spec.job_id), manifest)
    if planned.distributed:
        backends.objects.put_json(layout.map_items_key(spec.job_id), manifest["map_tasks"])
    backends.results.put_job(
        JobRecord(
            job_id=spec.job_id,
            job=spec.job,
            spec=spec.to_dict(),
            created_at=_now(),
            map_tasks=len(planned.map_tasks),
            timings={"plan_s": round(time.time() - started, 3)},
        )
    )
    return {
        "job_id": spec.job_id,
        "spec": spec.to_dict(),
        "map_tasks": [] if planned.distributed else manifest["map_tasks"],
        "map_task_count": len(planned.map_tasks),
        "distributed": planned.distributed,
        "map_items_key": backends.objects.location(layout.map_items_key(spec.job_id)),
        "max_concurrency": spec.max_concurrency,
        "partitions": list(range(spec.reducers)),
        "input_bytes": planned.input_bytes,
    }


def check_job_id_free(spec: JobSpec, backends: Backends) -> None:
    """The rule for a repeated job id (docs/reliability.md): no record, or a
    RUNNING record of the same spec (a retried or duplicated Plan of the same
    execution: it writes the same deterministic outputs), goes ahead; a
    finished job (SUCCEEDED or FAILED), or a RUNNING one of another spec, is
    refused with ``JobExistsError`` so two jobs' results are never mixed."""
    record = backends.results.load_job(spec.job_id)
    if record is None:
        return
    if record.status == "RUNNING" and _same_spec(record.spec, spec):
        return
    what = "a job of another spec is running" if record.status == "RUNNING" else "it is taken"
    raise JobExistsError(
        f"job id {spec.job_id!r} is {record.status} ({record.job}): {what};"
        " submit the job under a new id"
    )


def _same_spec(recorded: dict[str, Any], spec: JobSpec) -> bool:
    """``recorded`` (the spec Plan stored, its format detected) is ``spec``'s."""
    mine = json.loads(json.dumps(spec.to_dict()))
    theirs = json.loads(json.dumps(recorded))
    if mine.get("format") == "auto":  # detection is deterministic on the same inputs
        theirs["format"] = "auto"
    for name in ("reducers", "chunk_size", "max_concurrency", "salted_keys"):
        if not mine.get(name):  # left to the planner, which is deterministic too
            theirs[name] = mine.get(name)
    return bool(mine == theirs)


def map_task(spec: JobSpec, task: MapTask, backends: Backends) -> dict[str, Any]:
    """Read one byte range, map and combine it, write one shuffle object."""
    started = time.perf_counter()
    _check_planned(spec)
    job, fmt = prepare(spec)
    objects = CountingStore(backends.objects)
    side = MapSide(job, fmt, SAMPLES_PER_TASK, sample_origin=f"{task.uri}@{task.start}")
    raw = backends.inputs.open_at(task.uri, max(task.start - 1, 0))  # one ranged GET on S3
    with decompressing(raw, task.compression, task.uri) as stream:
        for text in iter_range_texts(stream, task.start, task.end):
            side.feed_text(text)
            del text  # one 8 MiB text alive at a time: the allocator reuses it in place
    side.combine()
    parts = side.partitions(spec.reducers, frozenset(spec.salted_keys), task.task)
    data = encode(parts)
    objects.put(layout.shuffle_key(spec.job_id, task.task), data)
    requests = objects.requests()
    summary = {
        "task": task.task,
        "counters": side.counters(),
        "samples": side.samples,
        "shuffle_bytes": len(data),
        "input_bytes": (task.end - task.start) if task.end is not None else None,
        "seconds": round(time.perf_counter() - started, 4),
        # the input GET, and this summary's own PUT
        "requests": {**requests, "get": requests["get"] + 1, "put": requests["put"] + 1},
    }
    objects.put_json(layout.map_summary_key(spec.job_id, task.task), summary)
    return {
        "task": task.task,
        "counters": summary["counters"],
        "seconds": summary["seconds"],
        "input_bytes": summary["input_bytes"],
    }


def reduce_task(
    spec: JobSpec, partition: int, map_task_count: int, backends: Backends
) -> dict[str, Any]:
    """Read one partition from every map task's shuffle object (an index and a
    block each: at most 2 GETs per map task, ``READ_THREADS`` at a time),
    reduce, write results. A salted key's values (``spec.salted_keys``: the
    key is in every partition) are only combined: the partial pairs go to the
    reduce summary, for Finalize to reduce."""
    started = time.perf_counter()
    if not 0 <= partition < spec.reducers:
        raise InvalidParameterError(f"partition {partition} outside 0..{spec.reducers - 1}")
    job, _ = prepare(spec)
    objects = CountingStore(backends.objects)
    groups: dict[str, list[Any]] = {}

    def read(task: int) -> list[tuple[str, Any]]:
        key = layout.shuffle_key(spec.job_id, task)
        return objects.read_partition(key, partition, spec.reducers)

    for pairs in _read_all(read, range(map_task_count)):
        for out_key, value in pairs:
            bucket = groups.get(out_key)
            if bucket is None:
                groups[out_key] = [value]
            else:
                bucket.append(value)
    salted = set(spec.salted_keys)
    partials = [
        [out_key, value]
        for key in sorted(salted.intersection(groups))
        for out_key, value in job.combiner(key, groups.pop(key))
    ]
    reduced = reduce_groups(job, groups)
    part = "".join(_json_line([key, value]) for key, value in reduced)
    objects.put(layout.part_key(spec.job_id, partition), part.encode())
    written = backends.results.put_results(spec.job_id, reduced)
    requests = objects.requests()
    summary = {
        "partition": partition,
        "keys": written,
        "counters": dict(job.counters),
        "seconds": round(time.perf_counter() - started, 4),
        "requests": {**requests, "put": requests["put"] + 1},  # and this summary's PUT
    }
    if partials:
        summary["partials"] = partials
    objects.put_json(layout.reduce_summary_key(spec.job_id, partition), summary)
    return {"partition": partition, "keys": written, "seconds": summary["seconds"]}


def finalize(spec: JobSpec, map_task_count: int, backends: Backends) -> dict[str, Any]:
    """Add up the task summaries, reduce the salted keys' partials (every
    reducer's combined share of them) and write their results, compute the
    job's summary and its bill, record SUCCEEDED."""
    started = time.perf_counter()
    job, _ = prepare(spec)
    objects = CountingStore(backends.objects)
    counters: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    seconds = {"map_task_s": 0.0, "reduce_task_s": 0.0}
    requests = {"get": 0, "put": 0, "list": 0}
    map_summaries = _read_all(
        lambda task: objects.get_json(layout.map_summary_key(spec.job_id, task)),
        range(map_task_count),
    )
    for summary in map_summaries:
        _add(counters, summary["counters"])
        samples.extend(summary["samples"][: max(MAX_SAMPLES - len(samples), 0)])
        seconds["map_task_s"] += summary["seconds"]
        _add(requests, summary.get("requests", {}))
    keys = 0
    reduce_summaries = _read_all(
        lambda partition: objects.get_json(layout.reduce_summary_key(spec.job_id, partition)),
        range(spec.reducers),
    )
    partials: dict[str, list[Any]] = {}
    for summary in reduce_summaries:
        _add(counters, summary["counters"])
        keys += summary["keys"]
        seconds["reduce_task_s"] += summary["seconds"]
        _add(requests, summary.get("requests", {}))
        for key, value in summary.get("partials", ()):
            partials.setdefault(key, []).append(value)
    if partials:  # before the summary reads the results; a re-run upserts the same rows
        salted = reduce_groups(job, partials)
        part = "".join(_json_line([key, value]) for key, value in salted)
        objects.put(layout.salted_part_key(spec.job_id), part.encode())
        keys += backends.results.put_results(spec.job_id, salted)
        _add(counters, dict(job.counters))  # anything the reducer counted
    if samples:
        lines = "".join(_json_line(sample) for sample in samples)
        objects.put(layout.quarantine_key(spec.job_id), lines.encode())
    manifest = objects.get_json(layout.manifest_key(spec.job_id))
    record = backends.results.get_job(spec.job_id)
    record.summary = job.finalize(ResultsView(backends.results.iter_results(spec.job_id)))
    record.status = "SUCCEEDED"
    record.counters = counters
    record.result_keys = keys
    record.malformed_samples = samples
    record.finished_at = _now()
    record.timings.update({name: round(value, 3) for name, value in seconds.items()})
    if record.created_at:
        elapsed = datetime.fromisoformat(record.finished_at) - datetime.fromisoformat(
            record.created_at
        )
        record.timings["duration_s"] = round(elapsed.total_seconds(), 3)
    _add(requests, objects.requests())
    record.bill = cost.bill(
        map_tasks=map_task_count,
        reducers=spec.reducers,
        seconds={
            "Plan": record.timings.get("plan_s", 0.0),
            "Map": seconds["map_task_s"],
            "Reduce": seconds["reduce_task_s"],
            "Finalize": time.perf_counter() - started,
        },
        requests=_plan_requests(manifest, spec, requests),
        result_items=keys,
        record_bytes=len(json.dumps(record.to_dict())),
    )
    backends.results.put_job(record)
    return {"job_id": spec.job_id, "status": "SUCCEEDED", "counters": counters, "result_keys": keys}


def _plan_requests(
    manifest: dict[str, Any], spec: JobSpec, counted: dict[str, int]
) -> dict[str, int]:
    """``counted`` (the tasks' and Finalize's own requests) plus Plan's, derived
    from what it did: a LIST page per 1,000 objects and a 4-byte GET per object
    on S3, the sample's GETs, the manifest PUT, and the item list's PUT and the
    ItemReader's GET for a Distributed Map."""
    objects = int(manifest.get("input_objects", 0))
    on_s3 = any(uri.startswith("s3://") for uri in spec.inputs)
    items = 1 if manifest.get("distributed") else 0
    return {
        "get": counted["get"]
        + (objects if on_s3 else 0)
        + int(manifest.get("sample_reads", 1))
        + items,
        "put": counted["put"] + 1 + items,
        "list": counted["list"] + (max(-(-objects // 1000), 1) if on_s3 else 0),
    }


def mark_failed(
    job_id: str, error: str, cause: str, backends: Backends, spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record a job as FAILED with the error name and its cause (except when the
    job id was refused: the record is then another job's, and stays as it is)."""
    if error == JobExistsError.__name__:
        return {"job_id": job_id, "status": "FAILED", "error": error}
    record = backends.results.load_job(job_id) or JobRecord(
        job_id=job_id, job=str((spec or {}).get("job", "")), spec=spec or {}, created_at=_now()
    )
    record.status = "FAILED"
    record.error = error
    record.cause = cause_message(cause)[:4000]
    record.finished_at = _now()
    backends.results.put_job(record)
    return {"job_id": job_id, "status": "FAILED", "error": error}


def _read_all(read: Callable[[int], T], items: Iterable[int]) -> list[T]:
    """``read`` over ``items``, ``READ_THREADS`` at a time, in order."""
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        return list(pool.map(read, items))


def _check_planned(spec: JobSpec) -> None:
    """A map task partitions by ``spec.reducers``, which Plan chooses when the request did not."""
    if spec.reducers < 1:
        raise InvalidParameterError(
            f"job {spec.job_id}: a map task needs the spec Plan returns (reducers chosen)"
        )


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _json_line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
