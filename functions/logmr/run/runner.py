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

from logmr.errors import JobExistsError, LocalStoreError, cause_message, error_name
from logmr.run.watch import Progress
from logmr.spec import JobSpec
from logmr.storage.backends import Backends
from logmr.storage.base import JobRecord
from logmr.tasks import reconcile


def quiet(phase: str, done: int, total: int) -> None:
    """The default progress: none."""


class Runner(Protocol):
    def run(self, request: dict[str, Any], progress: Progress | None = None) -> JobRecord:
        """Run the job ``request`` asks for to its end; its record."""
        ...


def failed_record(
    backends: Backends, spec: JobSpec, error: str, cause: str, *, execution: str = ""
) -> JobRecord:
    """A failed run's record: the stored one (MarkFailed wrote it) with the
    run's own error and cause; for a refused job id, whose stored record is
    another job's, or a run that ended before any record, one made from the
    failure alone. When ``execution``'s own record is still RUNNING (neither
    MarkFailed nor the engine's reconciler could write it: a full disk under
    ``LOGMR_HOME``, say), it is reconciled once more from here, and if that
    fails too the cause says so: the record stays RUNNING."""
    store = backends.results
    stored = None if error == JobExistsError.__name__ else store.load_job(spec.job_id)
    mine = stored is not None and bool(execution) and stored.execution == execution
    if mine and stored is not None and stored.status == "RUNNING":
        try:
            reconcile(spec.job_id, execution, error, cause, backends)
        except LocalStoreError as exc:
            cause = (
                f"{cause_message(cause)} (and the job record stays RUNNING: it could not be"
                f" marked FAILED: {error_name(exc)})"
            )
    record = stored or JobRecord(job_id=spec.job_id, job=spec.job, spec=spec.to_dict())
    return replace(record, status="FAILED", error=error, cause=cause_message(cause))
