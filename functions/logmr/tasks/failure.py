"""The MarkFailed task: record a job as FAILED with its error name and cause."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from logmr.errors import InvalidParameterError, cause_message
from logmr.spec import check_job_id
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.tasks.common import now
from logmr.workflow.names import EXECUTION_ENDINGS


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
    ``recorded`` says which."""
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
    return {"job_id": job_id, "status": "FAILED", "error": error, "recorded": recorded}


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
