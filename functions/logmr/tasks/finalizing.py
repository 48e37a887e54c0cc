"""The Finalize task: add up the task summaries, reduce the salted keys,
summarise the job, bill it, record it SUCCEEDED."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from logmr import layout, limits
from logmr.config import MAX_SAMPLES
from logmr.errors import CorruptJobDataError, JobExistsError
from logmr.jobs import ResultsView
from logmr.jobs.binding import prepare
from logmr.mapreduce.side import reduce_groups
from logmr.plan import cost
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.counting import CountingStore
from logmr.storage.parts import iter_part_results, json_lines, part_file, store_best
from logmr.tasks.common import add, now
from logmr.tasks.summaries import attempts_digest, map_summaries, reduce_summaries
from logmr.workflow.names import RESULT_WRITER_PUTS


def finalize(spec: JobSpec, map_task_count: int, backends: Backends) -> dict[str, Any]:
    """Add up the task summaries, reduce the salted keys' partials (every
    reducer's combined share of them) and write their results, compute the
    job's summary and its bill, record SUCCEEDED. Every summary is checked
    (bound to this job and its task, intact), and every reducer must have read
    the map outputs of the attempts whose summaries are added up
    (``tasks.summaries``): else ``CorruptJobDataError``, never a mix."""
    started = time.perf_counter()
    job, _ = prepare(spec)
    objects = CountingStore(backends.objects)
    counters: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    seconds = {"map_task_s": 0.0, "reduce_task_s": 0.0}
    requests = {"get": 0, "put": 0, "list": 0}
    # summaries as they come, each dropped once added: memory per summary, not per task
    attempts: list[str] = []
    for summary in map_summaries(objects, spec.job_id, map_task_count):
        attempts.append(summary["attempt"])
        add(counters, summary["counters"])
        samples.extend(summary["samples"][: max(MAX_SAMPLES - len(samples), 0)])
        seconds["map_task_s"] += summary["seconds"]
        add(requests, summary.get("requests", {}))
    reduce_plan = objects.get_json(layout.reduce_plan_key(spec.job_id))
    add(requests, reduce_plan["requests"])
    keys = stored = 0
    map_attempts = attempts_digest(attempts)
    partials: dict[str, list[Any]] = {}
    for summary in reduce_summaries(objects, spec.job_id, spec.reducers):
        if summary.get("map_attempts") != map_attempts:
            partition = summary["partition"]
            name = objects.location(layout.reduce_summary_key(spec.job_id, partition))
            raise CorruptJobDataError(
                f"{name}: reducer {partition} read map outputs of other attempts than the map"
                " summaries name (a map task's earlier attempt wrote its output again after"
                " its retry): adding them up would mix two attempts; run the job again"
            )
        add(counters, summary["counters"])
        keys += summary["keys"]
        stored += summary["stored"]
        seconds["reduce_task_s"] += summary["seconds"]
        add(requests, summary.get("requests", {}))
        for key, value in summary.get("partials", ()):
            partials.setdefault(key, []).append(value)
    if partials:  # before the summary reads the results; a re-run upserts the same rows
        part, rows = part_file(reduce_groups(job, partials))
        objects.put(layout.salted_part_key(spec.job_id), part)
        keys += len(rows)
        stored += store_best(backends.results, spec.job_id, rows)
        add(counters, dict(job.counters))  # anything the reducer counted
    if samples:
        lines = json_lines(samples)
        objects.put(layout.quarantine_key(spec.job_id), lines.encode())
    manifest = objects.get_json(layout.manifest_key(spec.job_id))
    # named twice, read once; left unread by a time range (docs/time-ranges.md)
    for said in ("repeated_inputs", "skipped_objects", "skipped_folders"):
        if manifest.get(said):
            counters[said] = manifest[said]
    record = backends.results.get_job(spec.job_id)
    # every result, streamed from the part files: memory per part file, not per key
    record.summary = job.finalize(ResultsView(lambda: iter_part_results(objects, spec.job_id)))
    record.status = "SUCCEEDED"
    record.spec = spec.to_dict()  # with the reducers PlanReduce chose
    record.counters = counters
    record.result_keys = keys
    record.malformed_samples = samples
    record.finished_at = now()
    record.timings.update({name: round(value, 3) for name, value in seconds.items()})
    if record.created_at:
        elapsed = datetime.fromisoformat(record.finished_at) - datetime.fromisoformat(
            record.created_at
        )
        record.timings["duration_s"] = round(elapsed.total_seconds(), 3)
    add(requests, objects.requests())
    record.bill = cost.bill(
        map_tasks=map_task_count,
        reducers=spec.reducers,
        seconds={
            "Plan": record.timings.get("plan_s", 0.0),
            "Map": seconds["map_task_s"],
            "PlanReduce": reduce_plan["seconds"],
            "Reduce": seconds["reduce_task_s"],
            "Finalize": time.perf_counter() - started,
        },
        requests=_plan_requests(manifest, spec, requests),
        result_items=stored,
        record_bytes=len(json.dumps(record.to_dict())),
    )
    if not backends.results.update_job(record):
        raise JobExistsError(f"job id {spec.job_id!r}: its record was claimed by another run")
    return {"job_id": spec.job_id, "status": "SUCCEEDED", "counters": counters, "result_keys": keys}


def _plan_requests(
    manifest: dict[str, Any], spec: JobSpec, counted: dict[str, int]
) -> dict[str, int]:
    """``counted`` (the tasks' and Finalize's own requests) plus Plan's, derived
    from what it did: a LIST page per 1,000 objects and a 4-byte GET per object
    on S3; its reads of the inputs (GETs on S3, counted as such locally too):
    each compressed object's size decompressed, the sample's and the object
    starts read for their format (``sample_reads``); the manifest
    PUT, and for a Distributed Map the item list's PUT, the ItemReader's GET
    and the ResultWriter's PUTs (``names.RESULT_WRITER_PUTS``)."""
    objects = int(manifest.get("input_objects", 0))
    size_reads = int(manifest.get("size_reads", 0))
    on_s3 = any(uri.startswith("s3://") for uri in spec.inputs)
    items = 1 if manifest.get("distributed") else 0
    return {
        "get": counted["get"]
        + (objects if on_s3 else 0)
        + size_reads
        + int(manifest.get("sample_reads", 1))
        + items,
        "put": counted["put"] + 1 + items * (1 + RESULT_WRITER_PUTS),
        "list": counted["list"] + (max(-(-objects // limits.S3_PAGE_SIZE), 1) if on_s3 else 0),
    }
