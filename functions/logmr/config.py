"""Settings: one typed object, read from the environment once; an explicit
argument beats the environment, which beats the default. Every environment
variable logmr reads is named here, and only ``Settings.load`` reads them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logmr.errors import InvalidParameterError

ENV_HOME = "LOGMR_HOME"
ENV_CHUNK_SIZE = "LOGMR_CHUNK_SIZE"
ENV_REDUCERS = "LOGMR_REDUCERS"
ENV_WORKERS = "LOGMR_WORKERS"
#: "aws" (S3 + DynamoDB, the default) or "local" (a folder + SQLite under LOGMR_HOME)
ENV_STORAGE = "LOGMR_STORAGE"
ENV_BUCKET = "LOGMR_BUCKET"
#: key prefix of job data (plan, shuffle, task summaries, part files) in the bucket
ENV_DATA_PREFIX = "LOGMR_DATA_PREFIX"
ENV_RESULTS_TABLE = "LOGMR_RESULTS_TABLE"
ENV_JOBS_TABLE = "LOGMR_JOBS_TABLE"
ENV_ENDPOINT_URL = "AWS_ENDPOINT_URL"
#: the deployed state machine ``logmr submit`` starts (a name or an ARN)
ENV_STATE_MACHINE = "LOGMR_STATE_MACHINE"
#: the buckets and key prefixes a job on AWS may read (comma-separated; the
#: buckets default to LOGMR_BUCKET): ``logmr.aws.allowlist`` checks Plan's inputs
ENV_INPUT_BUCKETS = "LOGMR_INPUT_BUCKETS"
ENV_INPUT_PREFIXES = "LOGMR_INPUT_PREFIXES"
#: other buckets' logs a job on AWS may read where they are, each
#: ``s3://bucket/prefix/`` (comma-separated; docs/deploying.md, "Reading logs
#: where they are"): the stack's ``logmr:inputLocations`` context
ENV_INPUT_LOCATIONS = "LOGMR_INPUT_LOCATIONS"
#: the modules whose job classes a job on AWS may name (comma-separated;
#: a package allows its submodules; none: the built-in jobs only), checked by
#: ``logmr.aws.allowlist.check_job`` before anything is imported
ENV_JOB_MODULES = "LOGMR_JOB_MODULES"
#: what the planner assumes of the map function (defaults: logmr.workflow.names.FUNCTION_SIZES
#: and Lambda's default account concurrency); the memory a map task budgets by too
#: (``plan.tuning.MapBudget``; on one machine its default is a worker's share)
ENV_MAP_MEMORY_MB = "LOGMR_MAP_MEMORY_MB"
#: the memory a reduce task budgets by (``plan.tuning.ReduceBudget``; default:
#: the Reduce function's, on one machine at most a worker's share)
ENV_REDUCE_MEMORY_MB = "LOGMR_REDUCE_MEMORY_MB"
ENV_MAP_TIMEOUT_S = "LOGMR_MAP_TIMEOUT_S"
ENV_MAP_CONCURRENCY = "LOGMR_MAP_CONCURRENCY"
#: days a job's record, results and job data are kept on AWS (0: for ever)
ENV_RETENTION_DAYS = "LOGMR_RETENTION_DAYS"
#: the share of malformed lines past which ``logmr run`` says a job's results
#: are not to be trusted and exits 3 (``--max-malformed``; 1: never)
ENV_MAX_MALFORMED = "LOGMR_MAX_MALFORMED"
#: set by Lambda in a function's environment: the handlers trace only there
ENV_LAMBDA_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"
#: Powertools' switches: tracing off (the local engine sets it), the service name
ENV_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
#: what every handler process runs with, on Lambda and in a local worker:
#: numpy's OpenBLAS (pyarrow and datasketches import numpy) starts a thread
#: per core at import, whose start-up cost about 65 ms of CPU a process on a
#: 2-core machine, as much as the import itself (docs/performance.md). logmr
#: does no linear algebra, and runs one worker per core already.
NUMERIC_LIBRARY_ENV = {"OPENBLAS_NUM_THREADS": "1"}

DEFAULT_DATA_PREFIX = "logmr/"
DEFAULT_RESULTS_TABLE = "logmr-results"
DEFAULT_JOBS_TABLE = "logmr-jobs"
#: how long a job stays on AWS: its record and results (DynamoDB TTL) and its
#: objects under ``jobs/`` (an S3 lifecycle rule), from the same figure
DEFAULT_RETENTION_DAYS = 90
#: the stack's state machine name (infra names it so)
DEFAULT_STATE_MACHINE = "Logmr"
#: the stack's input prefix (``-c logmr:inputPrefixes=...`` changes both)
DEFAULT_INPUT_PREFIXES = "incoming/"

#: the largest byte range of a map task on one machine (the planner,
#: ``logmr.plan.tuning``, chooses chunk size and reducers when they are not given)
DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
#: hash buckets every map task partitions its output into (``mapreduce.partition``):
#: more than any reducer count the planner chooses (``plan.tuning.MAX_REDUCERS``,
#: or a machine's cores), so that Reduce, planned after Map from the keys the map
#: tasks measured (``plan.reducers``), gives each reducer a contiguous group of
#: them; a request's ``reducers`` beyond it raise the job's count to that figure.
#: 256: groups of 6 or 7 buckets for 40 reducers, a 5 KB index; more buckets cost
#: shuffle bytes (small blocks compress worse: 1.32x a 2-bucket object at 256,
#: 1.65x at 1,024, for access_report over the realistic log)
SHUFFLE_BUCKETS = 256
#: worker log files kept under ``home``/logs: a worker pool removes older ones
#: when it starts (``engine.worker.prune_logs``; ``logmr gc`` removes old ones)
WORKER_LOGS_KEPT = 32
#: ``ENV_MAX_MALFORMED``'s default: a job whose lines are mostly malformed
DEFAULT_MAX_MALFORMED = 0.5
#: malformed lines kept per map task (the job keeps at most ``MAX_SAMPLES``)
SAMPLES_PER_TASK = 20
MAX_SAMPLES = 100
#: longest part of a malformed line kept in a sample, in bytes
SAMPLE_LINE_BYTES = 1024


def _default_home(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "logmr"


def _split(value: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _flag(value: str) -> bool:
    """A switch as Powertools reads one (``strtobool``)."""
    return value.strip().lower() in {"1", "y", "yes", "t", "true", "on"}


#: field -> (environment variable, how its text becomes the value)
_FROM_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "home": (ENV_HOME, Path),
    "chunk_size": (ENV_CHUNK_SIZE, int),
    "reducers": (ENV_REDUCERS, int),
    "workers": (ENV_WORKERS, int),
    "storage": (ENV_STORAGE, str),
    "bucket": (ENV_BUCKET, str),
    "data_prefix": (ENV_DATA_PREFIX, str),
    "results_table": (ENV_RESULTS_TABLE, str),
    "jobs_table": (ENV_JOBS_TABLE, str),
    "endpoint_url": (ENV_ENDPOINT_URL, str),
    "state_machine": (ENV_STATE_MACHINE, str),
    "input_buckets": (ENV_INPUT_BUCKETS, _split),
    "input_prefixes": (ENV_INPUT_PREFIXES, _split),
    "input_locations": (ENV_INPUT_LOCATIONS, _split),
    "job_modules": (ENV_JOB_MODULES, _split),
    "map_memory_mb": (ENV_MAP_MEMORY_MB, int),
    "reduce_memory_mb": (ENV_REDUCE_MEMORY_MB, int),
    "map_timeout_s": (ENV_MAP_TIMEOUT_S, int),
    "map_concurrency": (ENV_MAP_CONCURRENCY, int),
    "retention_days": (ENV_RETENTION_DAYS, int),
    "max_malformed": (ENV_MAX_MALFORMED, float),
    "lambda_function": (ENV_LAMBDA_FUNCTION, str),
    "trace_disabled": (ENV_TRACE_DISABLED, _flag),
}


@dataclass(frozen=True)
class Settings:
    """Everything logmr reads from the environment, read once (``load``).

    ``None`` (or an empty tuple) means unset: the reader takes its own
    default, named beside the field."""

    # -- on one machine ---------------------------------------------------------
    #: where local job data lives
    home: Path = field(default_factory=lambda: _default_home(os.environ))
    #: 0: chosen by the planner (logmr.plan.tuning)
    chunk_size: int = 0
    reducers: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # -- where the handlers keep job data and results ----------------------------
    #: "aws" (S3 + DynamoDB) or "local" (a folder + SQLite under ``home``)
    storage: str = "aws"
    bucket: str = ""
    data_prefix: str = DEFAULT_DATA_PREFIX
    #: None: DEFAULT_RESULTS_TABLE / DEFAULT_JOBS_TABLE for the handlers; the
    #: deployed functions' for ``logmr submit`` (logmr.run.remote)
    results_table: str | None = None
    jobs_table: str | None = None
    endpoint_url: str | None = None
    #: None: boto3's own chain (AWS_REGION, the AWS config)
    region: str | None = None
    # -- the deployed stack ------------------------------------------------------
    state_machine: str = DEFAULT_STATE_MACHINE
    #: Plan's allow-list (logmr.aws.allowlist); no buckets: ``bucket``
    input_buckets: tuple[str, ...] = ()
    input_prefixes: tuple[str, ...] = (DEFAULT_INPUT_PREFIXES,)
    #: and these ``s3://bucket/prefix/`` locations of other buckets
    input_locations: tuple[str, ...] = ()
    #: the user job modules Plan allows (logmr.aws.allowlist.check_job)
    job_modules: tuple[str, ...] = ()
    #: what the planner assumes of the map function, and the memory a map
    #: task budgets by; None: its size in logmr.workflow.names.FUNCTION_SIZES
    #: (on one machine at most a worker's share) and Lambda's default concurrency
    map_memory_mb: int | None = None
    map_timeout_s: int | None = None
    #: the memory a reduce task budgets by; None: the Reduce function's
    #: (``FUNCTION_SIZES``; on one machine at most a worker's share)
    reduce_memory_mb: int | None = None
    map_concurrency: int | None = None
    #: days DynamoDB keeps a job's items (their ``expires_at``); 0: for ever
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: the share of malformed lines past which the CLI doubts a job (exit 3)
    max_malformed: float = DEFAULT_MAX_MALFORMED
    # -- the function around the handlers ---------------------------------------
    #: the Lambda function's name; None: not in Lambda
    lambda_function: str | None = None
    trace_disabled: bool = False

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
        """Explicit keyword arguments (``None`` means unset), then ``env``
        (default ``os.environ``), then defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {"home": _default_home(env)}
        for name, (variable, convert) in _FROM_ENV.items():
            if env.get(variable):
                try:
                    values[name] = convert(env[variable])
                except ValueError:
                    raise InvalidParameterError(
                        f"{variable}={env[variable]!r} is not a valid {name.replace('_', ' ')}"
                    ) from None
        values.update({key: value for key, value in explicit.items() if value is not None})
        if "home" in explicit and explicit["home"] is not None:
            values["home"] = Path(explicit["home"])
        share = values.get("max_malformed", DEFAULT_MAX_MALFORMED)
        if not 0 <= share <= 1:
            raise InvalidParameterError(
                f"the largest malformed share ({ENV_MAX_MALFORMED}, --max-malformed) is a"
                f" number from 0 to 1, got {share}"
            )
        return cls(**values)

    @property
    def results_table_name(self) -> str:
        return self.results_table or DEFAULT_RESULTS_TABLE

    @property
    def jobs_table_name(self) -> str:
        return self.jobs_table or DEFAULT_JOBS_TABLE

    @property
    def allowed_buckets(self) -> tuple[str, ...]:
        """The buckets a job on AWS may read: the input buckets, else the data bucket."""
        return self.input_buckets or _split(self.bucket)
