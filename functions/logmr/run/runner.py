"""The one interface of the three ways to run a job: ``run(request,
progress) -> JobRecord``. ``InlineRunner`` (``run.inline``) calls the task
functions directly, ``EngineRunner`` (``run.engine``) runs the state machine
definition on the local engine, ``RemoteRunner`` (``run.remote``) starts the
deployed state machine and watches it.

Each checks the request first (``run.request.validate``: a request that cannot
be a job raises, before any work); a job that then fails comes back as a
FAILED record, with the error name Retry and Catch match and its cause.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from logmr.errors import JobExistsError, cause_message
from logmr.run.watch import Progress
from logmr.spec import JobSpec
from logmr.storage.base import JobRecord, ResultStore


def quiet(phase: str, done: int, total: int) -> None:
    """The default progress: none."""


class Runner(Protocol):
    def run(self, request: dict[str, Any], progress: Progress | None = None) -> JobRecord:
        """Run the job ``request`` asks for to its end; its record."""
        ...


def failed_record(store: ResultStore, spec: JobSpec, error: str, cause: str) -> JobRecord:
    """A failed run's record: the stored one (MarkFailed wrote it) with the
    run's own error and cause; for a refused job id, whose stored record is
    another job's, or a run that ended before any record, one made from the
    failure alone."""
    stored = None if error == JobExistsError.__name__ else store.load_job(spec.job_id)
    record = stored or JobRecord(job_id=spec.job_id, job=spec.job, spec=spec.to_dict())
    return replace(record, status="FAILED", error=error, cause=cause_message(cause))
