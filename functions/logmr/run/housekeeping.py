"""The jobs of one machine's store (``LOGMR_HOME``), looked after: listed
newest first, named by a unique prefix of their id or ``last``, and removed
(``logmr rm``, ``logmr gc``) with everything they left: the record and
results (SQLite), their objects (plan, task summaries, part files, a
spooled standard input) and shuffle objects (the folder), and, for ``gc``,
the worker log files older than the cutoff (a worker serves many jobs, so its
log belongs to none; a pool keeps them bounded, ``engine.worker.prune_logs``).

Local only: the deployed stack's jobs expire by its retention rules
(``config.DEFAULT_RETENTION_DAYS``: DynamoDB TTL, an S3 lifecycle rule), and
listing a DynamoDB table by time would be a scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from logmr import layout
from logmr.config import Settings
from logmr.engine.worker import prune_logs
from logmr.errors import AmbiguousJobError, InvalidParameterError, JobNotFoundError
from logmr.run.embedded import check_home, logs_folder, objects_folder, results_file
from logmr.storage.base import JobRecord
from logmr.storage.folder import FolderObjectStore
from logmr.storage.sqlite import SqliteResultStore

#: the name of the newest job (``logmr status last``)
LAST = "last"
#: matches an ambiguous prefix lists, at most
SHOWN_MATCHES = 10


@dataclass(frozen=True)
class Removed:
    """What removing jobs removed."""

    jobs: list[str]
    objects: int
    logs: int = 0


class LocalJobs:
    """The jobs under ``settings.home``."""

    def __init__(self, settings: Settings) -> None:
        check_home(settings.home)
        self.settings = settings
        self.store = SqliteResultStore(results_file(settings))
        self.objects = FolderObjectStore(objects_folder(settings))

    def listed(self, limit: int) -> list[JobRecord]:
        """The newest ``limit`` jobs, newest first."""
        return self.store.list_jobs(limit)

    def resolve(self, given: str) -> str:
        """The job id ``given`` names: ``last`` (the newest job), the id
        itself, or the one id it starts; ``JobNotFoundError`` when none,
        ``AmbiguousJobError`` (listing them) when several."""
        if given == LAST:
            newest = self.store.list_jobs(1)
            if not newest:
                raise JobNotFoundError(f"no jobs yet in {self.settings.home}")
            return newest[0].job_id
        if self.store.load_job(given) is not None:
            return given
        found = self.store.job_ids_starting(given, SHOWN_MATCHES + 1)
        if not found:
            raise JobNotFoundError(f"no job {given!r} (logmr ls lists them)")
        if len(found) > 1:
            shown = ", ".join(found[:SHOWN_MATCHES]) + (
                ", ..." if len(found) > SHOWN_MATCHES else ""
            )
            raise AmbiguousJobError(f"{given!r} starts several job ids: {shown}")
        return found[0]

    def remove(self, job_id: str, *, running: bool = False) -> int:
        """The job's record, results, objects and shuffle objects removed;
        how many objects. A RUNNING job is refused unless ``running``."""
        record = self.store.get_job(job_id)
        if record.status == "RUNNING" and not running:
            raise InvalidParameterError(
                f"job {job_id} is RUNNING: stop it first, or give --force if it is not"
                " running any more (a run that was killed)"
            )
        count = self.objects.delete_prefix(layout.job_prefix(job_id))
        for prefix in layout.shuffle_prefixes(job_id):
            count += self.objects.delete_prefix(prefix)
        self.store.delete_job(job_id)
        return count

    def collect(self, older_than_s: int, *, dry_run: bool = False) -> Removed:
        """Every job created more than ``older_than_s`` seconds ago removed
        (RUNNING ones too: a run that old was killed), and the worker log
        files last written before then."""
        now = datetime.now(UTC).timestamp()
        cutoff = datetime.fromtimestamp(now - older_than_s, UTC)
        doomed = self.store.job_ids_created_before(cutoff.isoformat(timespec="milliseconds"))
        if dry_run:
            return Removed(doomed, 0)
        count = sum(self.remove(job_id, running=True) for job_id in doomed)
        logs = prune_logs(logs_folder(self.settings), before=cutoff.timestamp())
        return Removed(doomed, count, logs)
