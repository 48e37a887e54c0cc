"""The MarkFailed task: record a job as FAILED with its error name and cause."""

from __future__ import annotations

from typing import Any

from logmr.errors import JobExistsError, cause_message
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.tasks.common import now


def mark_failed(
    job_id: str, error: str, cause: str, backends: Backends, spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record a job as FAILED with the error name and its cause (except when the
    job id was refused: the record is then another job's, and stays as it is)."""
    if error == JobExistsError.__name__:
        return {"job_id": job_id, "status": "FAILED", "error": error}
    record = backends.results.load_job(job_id) or JobRecord(
        job_id=job_id, job=str((spec or {}).get("job", "")), spec=spec or {}, created_at=now()
    )
    record.status = "FAILED"
    record.error = error
    record.cause = cause_message(cause)[:4000]
    record.finished_at = now()
    backends.results.put_job(record)
    return {"job_id": job_id, "status": "FAILED", "error": error}
