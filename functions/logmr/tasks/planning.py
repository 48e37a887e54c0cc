"""The Plan task: plan the job (``plan.planner.make_plan``), write the
manifest, record the job as RUNNING; and the rule for a repeated job id."""

from __future__ import annotations

import json
import time
from typing import Any

from logmr import layout
from logmr.errors import JobExistsError
from logmr.plan.planner import make_plan
from logmr.plan.tuning import Limits, local_limits
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.tasks.common import now


def plan(spec: JobSpec, backends: Backends, limits: Limits | None = None) -> dict[str, Any]:
    """Plan the job (``make_plan``; ``limits`` default: this machine's cores),
    write the manifest, record the job as RUNNING."""
    started = time.time()
    check_job_id_free(spec, backends)
    planned = make_plan(spec, backends.inputs, limits or local_limits())
    # the request's own figures (0: the planner's), which PlanReduce keeps
    requested = {"reducers": spec.reducers, "max_concurrency": spec.max_concurrency}
    spec = planned.spec
    manifest = {
        "spec": spec.to_dict(),
        "requested": requested,
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
            created_at=now(),
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
    for name in ("reducers", "chunk_size", "max_concurrency", "salted_keys", "buckets"):
        if not mine.get(name):  # left to the planner, which is deterministic too
            theirs[name] = mine.get(name)
    return bool(mine == theirs)
