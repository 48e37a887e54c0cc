"""The MarkFailed task: record a job as FAILED with its error name and cause
(a failed Distributed Map's: its first failed child's, ``failed_child``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from logmr import layout
from logmr.errors import InvalidParameterError, LogmrError, cause_message
from logmr.spec import check_job_id
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord, ObjectStore
from logmr.tasks.common import now
from logmr.workflow.names import EXECUTION_ENDINGS, TOLERATED_FAILURE_ERROR


def mark_failed(
    job_id: str,
    error: str,
    cause: str,
    backends: Backends,
    spec: dict[str, Any] | None = None,
    *,
    execution: str | None = None,
) -> dict[str, Any]:
    """Record the job as FAILED with the error name and its cause: the record
    ``execution`` claimed, or a new record when the id has none (a request
    refused before Plan claimed it). A record of another execution (the id
    was refused as taken, or named by a failing request) is never written:
    ``recorded`` says which. A Distributed Map that failed over its children
    (``States.ExceedToleratedFailureThreshold``) is recorded with its first
    failed child's error and cause (``failed_child``), or its own when its
    results name none. The answer's ``error`` and ``cause`` are the ones recorded."""
    if error == TOLERATED_FAILURE_ERROR:
        error, cause = failed_child(job_id, backends.objects) or (error, cause)
    failed = JobRecord(
        job_id=job_id,
        job=str((spec or {}).get("job", "")),
        spec=spec or {},
        created_at=now(),
        execution=execution or "",
    )
    _fail(failed, error, cause)
    found = backends.results.claim_job(failed)
    recorded = found is None
    if found is not None and execution and found.execution == execution:
        _fail(found, error, cause)
        recorded = backends.results.update_job(found)
    return {
        "job_id": job_id,
        "status": "FAILED",
        "error": error,
        "cause": cause,
        "recorded": recorded,
    }


def failed_child(job_id: str, objects: ObjectStore) -> tuple[str, str] | None:
    """The error and cause of the first child execution to fail (the earliest
    to stop) in the job's Map Runs, as the Distributed Map's ResultWriter
    wrote them: each run's ``manifest.json`` under ``layout.map_runs_prefix``
    lists its ``FAILED_<n>.json`` files, JSON arrays of the failed children's
    records with their ``Error`` and ``Cause`` (Step Functions developer
    guide, "ResultWriter (Map)", input-output-resultwriter.html). None when
    no failed child was written, or the results cannot be read (the caller
    keeps the Map Run's own error then: MarkFailed must not fail over them)."""
    bucket_prefix = objects.location("")  # the manifests name keys in the bucket
    failed: list[Any] = []
    try:
        for key in objects.list_keys(layout.map_runs_prefix(job_id)):
            if key.endswith("/manifest.json"):
                for name in _failed_files(objects.get_json(key)):
                    records = objects.get_json(name.removeprefix(bucket_prefix))
                    failed += records if isinstance(records, list) else []
    except LogmrError:
        return None  # unreadable results: the Map Run's own error stands
    named = [record for record in failed if isinstance(record, dict) and record.get("Error")]
    if not named:
        return None
    first = min(named, key=lambda record: (str(record.get("StopDate")), str(record.get("Name"))))
    return str(first["Error"]), str(first.get("Cause") or "")


def _failed_files(manifest: Any) -> list[str]:
    """The keys of a Map Run manifest's FAILED result files (none if it has another shape)."""
    files = manifest.get("ResultFiles") if isinstance(manifest, dict) else None
    entries = files.get("FAILED") if isinstance(files, dict) else None
    return [
        str(entry["Key"])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("Key"), str)
    ]


def reconcile(job_id: str, execution: str, error: str, cause: str, backends: Backends) -> bool:
    """After an execution ended without success: its job's record, if it is
    still RUNNING and claimed by ``execution``, becomes FAILED with the
    execution's ``error`` and ``cause``. The failures no Catch can take
    (``engine.interpreter.TERMINAL_ERRORS``, a timeout, an abort) end an
    execution without MarkFailed; a record MarkFailed wrote, or another
    execution's, is left as it is. True when the record was changed."""
    found = backends.results.load_job(job_id)
    if found is None or found.status != "RUNNING" or found.execution != execution:
        return False
    _fail(found, error, cause)
    return bool(backends.results.update_job(found))


def reconcile_execution(
    detail: dict[str, Any],
    failure_of: Callable[[str], tuple[str, str]],
    backends: Backends,
) -> dict[str, Any]:
    """``reconcile`` for one "Step Functions Execution Status Change" event's
    ``detail`` (``executionArn``, ``name``, ``status``, ``input``): a FAILED
    execution's error and cause come from ``failure_of(arn)``
    (DescribeExecution: the event does not carry them); TIMED_OUT and
    ABORTED have their own (``names.EXECUTION_ENDINGS``). The job is the
    input's ``job_id``, else the execution's name, as Plan takes it."""
    arn, status = str(detail["executionArn"]), str(detail["status"])
    job_id = _job_of(detail)
    if job_id is None or status not in (*EXECUTION_ENDINGS, "FAILED"):
        return {"job_id": job_id, "status": status, "reconciled": False}
    if status == "FAILED":
        error, cause = failure_of(arn)
        error = error or "States.Runtime"  # a FAILED execution without one: AWS's own
    else:
        error, cause = EXECUTION_ENDINGS[status]
    changed = reconcile(job_id, arn, error, cause, backends)
    return {"job_id": job_id, "status": status, "error": error, "reconciled": changed}


def _job_of(detail: dict[str, Any]) -> str | None:
    """The job id an execution ran: its input's ``job_id``, else its name
    (``None`` when that is no valid job id: no record can have it)."""
    try:
        request = json.loads(detail.get("input") or "{}")
    except ValueError:
        request = {}
    named = request.get("job_id") if isinstance(request, dict) else None
    try:
        return check_job_id(str(named or detail.get("name") or ""))
    except InvalidParameterError:
        return None


def _fail(record: JobRecord, error: str, cause: str) -> None:
    record.status = "FAILED"
    record.error = error
    record.cause = cause_message(cause)[:4000]
    record.finished_at = now()
