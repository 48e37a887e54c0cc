"""The Plan task: plan the job (``plan.planner.make_plan``), write the
manifest, record the job as RUNNING; and the rule for a repeated job id."""

from __future__ import annotations

import time
import uuid
from typing import Any

from logmr import layout
from logmr.errors import JobExistsError
from logmr.jobs.binding import check
from logmr.plan.planner import make_plan
from logmr.plan.tuning import Limits, local_limits
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.tasks.common import now


def plan(
    spec: JobSpec,
    backends: Backends,
    limits: Limits | None = None,
    *,
    execution: str | None = None,
) -> dict[str, Any]:
    """Check the request, claim the job id for ``execution`` (``claim_job_id``), plan the job
    (``make_plan``; ``limits`` default: this machine's cores), write the
    manifest, record the job as RUNNING. ``execution`` names the execution
    (``$$.Execution.Id``); none: a new one, for a single call."""
    started = time.time()
    execution = execution or new_execution()
    check(spec)  # a bad request is named as such, whatever id it names
    claim_job_id(spec, backends, execution)
    planned = make_plan(spec, backends.inputs, limits or local_limits())
    # the request's own figures (0: the planner's), which PlanReduce keeps
    requested = {"reducers": spec.reducers, "max_concurrency": spec.max_concurrency}
    spec = planned.spec
    manifest = {
        "spec": spec.to_dict(),
        "requested": requested,
        "map_tasks": [task.to_dict() for task in planned.map_tasks],
        "input_bytes": planned.input_bytes,
        # the bytes the map tasks read through: compressed objects decompressed
        "mapped_bytes": planned.mapped_bytes,
        "input_objects": len(planned.objects),
        "tuning": planned.tuning.to_dict(),
        "hot_keys": planned.sample.hot_keys,
        "sample_reads": planned.sample_reads,
        # compressed objects read for their size decompressed (a ranged GET each on S3)
        "size_reads": len(planned.decompressed),
        "distributed": planned.distributed,
        "repeated_inputs": planned.repeated_inputs,
        "warnings": planned.warnings,
    }
    if planned.listing is not None:  # a time range: what its dates left unread (inputs.dated)
        manifest["skipped_objects"] = len(planned.listing.skipped_objects)
        manifest["skipped_folders"] = len(planned.listing.skipped_folders)
    backends.objects.put_json(layout.manifest_key(spec.job_id), manifest)
    if planned.distributed:
        backends.objects.put_json(layout.map_items_key(spec.job_id), manifest["map_tasks"])
    record = _running(spec, execution)
    record.map_tasks = len(planned.map_tasks)
    record.timings = {"plan_s": round(time.time() - started, 3)}
    if not backends.results.update_job(record):
        raise _taken(backends.results.load_job(spec.job_id), spec.job_id)
    return {
        "job_id": spec.job_id,
        "spec": spec.to_dict(),
        "map_tasks": [] if planned.distributed else manifest["map_tasks"],
        "map_task_count": len(planned.map_tasks),
        "distributed": planned.distributed,
        "map_items_key": backends.objects.location(layout.map_items_key(spec.job_id)),
        "map_runs_prefix": backends.objects.location(layout.map_runs_prefix(spec.job_id)),
        "max_concurrency": spec.max_concurrency,
        "input_bytes": planned.input_bytes,
    }


def new_execution() -> str:
    """A fresh execution token, for a run that has no Step Functions execution."""
    return f"logmr:{uuid.uuid4().hex}"


def claim_job_id(spec: JobSpec, backends: Backends, execution: str) -> None:
    """The rule for a repeated job id (docs/reliability.md): the id is claimed
    for ``execution`` in one atomic step (a conditional put; a unique insert),
    before anything of the job is written. An id with no record is claimed;
    an id claimed by the same execution (a retried or duplicated Plan) goes
    ahead and writes the same deterministic outputs; any other record (a
    finished job, or another execution's) is refused with ``JobExistsError``
    and left as it is, so two jobs' results are never mixed."""
    found = backends.results.claim_job(_running(spec, execution))
    if found is not None and found.execution != execution:
        raise _taken(found, spec.job_id)


def _running(spec: JobSpec, execution: str) -> JobRecord:
    return JobRecord(
        job_id=spec.job_id,
        job=spec.job,
        spec=spec.to_dict(),
        created_at=now(),
        execution=execution,
    )


def _taken(record: JobRecord | None, job_id: str) -> JobExistsError:
    status = f"{record.status} ({record.job})" if record else "taken"
    return JobExistsError(
        f"job id {job_id!r} is {status}: it belongs to another run; submit the job under a new id"
    )
