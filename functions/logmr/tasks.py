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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logmr import formats
from logmr import spec as layout
from logmr.config import MAX_SAMPLES, SAMPLES_PER_TASK
from logmr.errors import EmptyInputError, InvalidParameterError, JobExistsError, cause_message
from logmr.formats.base import Format
from logmr.inputs import InputSource, decompressing, read_head
from logmr.jobs import Job, ResultsView, load_job

__all__ = [
    "Backends",
    "check_job_id_free",
    "finalize",
    "load_job",
    "map_task",
    "mark_failed",
    "plan",
    "prepare",
    "reduce_task",
]
from logmr.lines import iter_range_texts
from logmr.mapreduce import MapSide, reduce_groups
from logmr.planner import cut
from logmr.shuffle import encode
from logmr.spec import JobSpec, MapTask
from logmr.storage.base import JobRecord, ObjectStore, ResultStore

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


def detect(spec: JobSpec, backends: Backends, first: Any) -> JobSpec:
    """``spec`` with ``format="auto"`` replaced by the detected format."""
    job = load_job(spec.job, spec.params)
    if spec.format != "auto":
        return spec
    if job.raw_lines:
        chosen = "plain"
    else:
        head = read_head(backends.inputs, first, DETECT_SAMPLE_BYTES)
        lines = [line.rstrip(b"\r") for line in head.split(b"\n")[:DETECT_SAMPLE_LINES]]
        chosen = formats.detect_format(lines).name
    return JobSpec(**{**spec.to_dict(), "format": chosen})


def plan(spec: JobSpec, backends: Backends) -> dict[str, Any]:
    """Validate the job, list and cut the inputs, record the job as RUNNING."""
    started = time.time()
    check_job_id_free(spec, backends)
    load_job(spec.job, spec.params)  # unknown job or bad parameters: fail before any I/O
    if spec.format != "auto":
        prepare(spec)
    objects = backends.inputs.list_inputs(spec.inputs)
    if not objects or all(obj.size == 0 for obj in objects):
        raise EmptyInputError(f"the inputs hold no bytes: {', '.join(spec.inputs)}")
    spec = detect(spec, backends, next(obj for obj in objects if obj.size))
    prepare(spec)
    tasks = cut(objects, spec.chunk_size)
    manifest = {
        "spec": spec.to_dict(),
        "map_tasks": [task.to_dict() for task in tasks],
        "input_bytes": sum(obj.size for obj in objects),
        "input_objects": len(objects),
    }
    backends.objects.put_json(layout.manifest_key(spec.job_id), manifest)
    distributed = spec.map_mode == "distributed" or (
        spec.map_mode == "auto" and len(tasks) > layout.INLINE_MAP_MAX_TASKS
    )
    if distributed:
        backends.objects.put_json(layout.map_items_key(spec.job_id), manifest["map_tasks"])
    backends.results.put_job(
        JobRecord(
            job_id=spec.job_id,
            job=spec.job,
            spec=spec.to_dict(),
            created_at=_now(),
            map_tasks=len(tasks),
            timings={"plan_s": round(time.time() - started, 3)},
        )
    )
    return {
        "job_id": spec.job_id,
        "spec": spec.to_dict(),
        "map_tasks": [] if distributed else manifest["map_tasks"],
        "map_task_count": len(tasks),
        "distributed": distributed,
        "map_items_key": backends.objects.location(layout.map_items_key(spec.job_id)),
        "max_concurrency": spec.max_concurrency,
        "partitions": list(range(spec.reducers)),
        "input_bytes": manifest["input_bytes"],
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
    return bool(mine == theirs)


def map_task(spec: JobSpec, task: MapTask, backends: Backends) -> dict[str, Any]:
    """Read one byte range, map and combine it, write one shuffle object."""
    started = time.perf_counter()
    job, fmt = prepare(spec)
    side = MapSide(job, fmt, SAMPLES_PER_TASK, sample_origin=f"{task.uri}@{task.start}")
    raw = backends.inputs.open_at(task.uri, max(task.start - 1, 0))
    with decompressing(raw, task.compression, task.uri) as stream:
        for text in iter_range_texts(stream, task.start, task.end):
            side.feed_text(text)
    side.combine()
    parts = side.partitions(spec.reducers)
    data = encode(parts)
    backends.objects.put(layout.shuffle_key(spec.job_id, task.task), data)
    summary = {
        "task": task.task,
        "counters": side.counters(),
        "samples": side.samples,
        "shuffle_bytes": len(data),
        "input_bytes": (task.end - task.start) if task.end is not None else None,
        "seconds": round(time.perf_counter() - started, 4),
    }
    backends.objects.put_json(layout.map_summary_key(spec.job_id, task.task), summary)
    return {
        "task": task.task,
        "counters": summary["counters"],
        "seconds": summary["seconds"],
        "input_bytes": summary["input_bytes"],
    }


def reduce_task(
    spec: JobSpec, partition: int, map_task_count: int, backends: Backends
) -> dict[str, Any]:
    """Read one partition from every map task's shuffle object, reduce, write results."""
    started = time.perf_counter()
    if not 0 <= partition < spec.reducers:
        raise InvalidParameterError(f"partition {partition} outside 0..{spec.reducers - 1}")
    job, _ = prepare(spec)
    groups: dict[str, list[Any]] = {}
    for task in range(map_task_count):
        key = layout.shuffle_key(spec.job_id, task)
        for out_key, value in backends.objects.read_partition(key, partition, spec.reducers):
            bucket = groups.get(out_key)
            if bucket is None:
                groups[out_key] = [value]
            else:
                bucket.append(value)
    reduced = reduce_groups(job, groups)
    part = "".join(_json_line([key, value]) for key, value in reduced)
    backends.objects.put(layout.part_key(spec.job_id, partition), part.encode())
    written = backends.results.put_results(spec.job_id, reduced)
    summary = {
        "partition": partition,
        "keys": written,
        "counters": dict(job.counters),
        "seconds": round(time.perf_counter() - started, 4),
    }
    backends.objects.put_json(layout.reduce_summary_key(spec.job_id, partition), summary)
    return {"partition": partition, "keys": written, "seconds": summary["seconds"]}


def finalize(spec: JobSpec, map_task_count: int, backends: Backends) -> dict[str, Any]:
    """Add up the task summaries, compute the job's summary, record SUCCEEDED."""
    job, _ = prepare(spec)
    counters: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    seconds = {"map_task_s": 0.0, "reduce_task_s": 0.0}
    for task in range(map_task_count):
        summary = backends.objects.get_json(layout.map_summary_key(spec.job_id, task))
        _add(counters, summary["counters"])
        samples.extend(summary["samples"][: max(MAX_SAMPLES - len(samples), 0)])
        seconds["map_task_s"] += summary["seconds"]
    keys = 0
    for partition in range(spec.reducers):
        summary = backends.objects.get_json(layout.reduce_summary_key(spec.job_id, partition))
        _add(counters, summary["counters"])
        keys += summary["keys"]
        seconds["reduce_task_s"] += summary["seconds"]
    if samples:
        lines = "".join(_json_line(sample) for sample in samples)
        backends.objects.put(layout.quarantine_key(spec.job_id), lines.encode())
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
    backends.results.put_job(record)
    return {"job_id": spec.job_id, "status": "SUCCEEDED", "counters": counters, "result_keys": keys}


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


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _json_line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
