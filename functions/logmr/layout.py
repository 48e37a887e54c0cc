"""Where a job's objects live in the object store (S3 or the local folder):
one function per kind of object, used by the tasks, the runners and the
stack's grants and lifecycle rules (``infra``)."""

from __future__ import annotations

import mmh3

from logmr.mapreduce.partition import PARTITION_SEED

#: every job's objects but its shuffle objects: a lifecycle rule expires them
#: with the job's record and results (``config.DEFAULT_RETENTION_DAYS``)
JOBS_PREFIX = "jobs/"


def job_prefix(job_id: str) -> str:
    """Every object of a job but its shuffle objects."""
    return f"{JOBS_PREFIX}{job_id}/"


#: shuffle objects live under their own prefix so that a lifecycle rule can expire them
SHUFFLE_PREFIX = "shuffle/"


#: hex digits of the hash segment that spreads shuffle objects over key prefixes
SHUFFLE_SPREAD_DIGITS = 2


def shuffle_key(job_id: str, task: int, spill: int = 0) -> str:
    """``shuffle/<hh>/<job>/m-<task>.bin``: ``hh`` (two hex digits of the task
    number's murmur3 hash) comes before the job id, so one job's mappers (PUT)
    and reducers (GET) spread over 256 key prefixes, each with S3's own request
    rate (3,500 PUT and 5,500 GET per second), instead of sharing one.
    ``spill`` 1, 2, ...: the map task's spill objects (``mapreduce.shuffle``),
    ``m-<task>.s<spill>.bin`` beside it."""
    spread = format(
        mmh3.hash(str(task).encode(), PARTITION_SEED, signed=False) % 16**SHUFFLE_SPREAD_DIGITS,
        f"0{SHUFFLE_SPREAD_DIGITS}x",
    )
    suffix = f".s{spill}" if spill else ""
    return f"{SHUFFLE_PREFIX}{spread}/{job_id}/m-{task:05d}{suffix}.bin"


def stdin_key(job_id: str) -> str:
    """Standard input, spooled for a local run (``logmr run -``)."""
    return f"{job_prefix(job_id)}input/stdin"


def shuffle_prefixes(job_id: str) -> list[str]:
    """Every folder a job's shuffle objects may be in (``shuffle_key``)."""
    spread = 16**SHUFFLE_SPREAD_DIGITS
    return [
        f"{SHUFFLE_PREFIX}{format(hh, f'0{SHUFFLE_SPREAD_DIGITS}x')}/{job_id}/"
        for hh in range(spread)
    ]


def map_summary_key(job_id: str, task: int) -> str:
    return f"{job_prefix(job_id)}tasks/m-{task:05d}.json"


def reduce_summary_key(job_id: str, partition: int) -> str:
    return f"{job_prefix(job_id)}tasks/r-{partition:05d}.json"


def part_key(job_id: str, partition: int) -> str:
    return f"{job_prefix(job_id)}results/part-{partition:05d}.parquet"


def salted_part_key(job_id: str) -> str:
    """The part file of the salted keys' results (Finalize reduces them)."""
    return f"{job_prefix(job_id)}results/part-salted.parquet"


def manifest_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}plan.json"


def reduce_plan_key(job_id: str) -> str:
    """PlanReduce's decision: the reducers, the keys measured, its requests."""
    return f"{job_prefix(job_id)}reduce_plan.json"


def map_items_key(job_id: str) -> str:
    """The JSON array of map tasks a Distributed Map reads with its ItemReader."""
    return f"{job_prefix(job_id)}map_tasks.json"


def map_runs_prefix(job_id: str) -> str:
    """Where the Distributed Map's ResultWriter writes its Map Run's results:
    ``<prefix><map run id>/manifest.json`` and the ``SUCCEEDED_0.json``,
    ``FAILED_0.json``, ``PENDING_0.json`` it lists (under the job's prefix,
    so the retention rule expires them with the rest)."""
    return f"{job_prefix(job_id)}map_runs/"


def quarantine_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}malformed.jsonl"
