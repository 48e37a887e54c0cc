"""``Backends``: where a task reads and writes, passed to every task function.
The local folder and SQLite (``run.embedded``) and S3 and DynamoDB
(``aws.backends``) each build one."""

from __future__ import annotations

from dataclasses import dataclass

from logmr.inputs.source import InputSource
from logmr.storage.base import ObjectStore, ResultStore
from logmr.storage.parts import JobResults


@dataclass
class Backends:
    """Where a task reads and writes: inputs, job objects, results."""

    inputs: InputSource
    objects: ObjectStore
    results: ResultStore

    def job_results(self) -> JobResults:
        """Jobs' records and results: every result from the part files."""
        return JobResults(self.objects, self.results)
