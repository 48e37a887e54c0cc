"""Settings: one typed object; an explicit argument beats the environment,
which beats the default. Every environment variable logmr reads is named here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
#: what the planner assumes of the map function (defaults: logmr.workflow.names.FUNCTION_SIZES
#: and Lambda's default account concurrency)
ENV_MAP_MEMORY_MB = "LOGMR_MAP_MEMORY_MB"
ENV_MAP_TIMEOUT_S = "LOGMR_MAP_TIMEOUT_S"
ENV_MAP_CONCURRENCY = "LOGMR_MAP_CONCURRENCY"

DEFAULT_DATA_PREFIX = "logmr/"
DEFAULT_RESULTS_TABLE = "logmr-results"
DEFAULT_JOBS_TABLE = "logmr-jobs"
#: the stack's state machine name (infra names it so)
DEFAULT_STATE_MACHINE = "Logmr"
#: the stack's input prefix (``-c logmr:inputPrefixes=...`` changes both)
DEFAULT_INPUT_PREFIXES = "incoming/"

#: the largest byte range of a map task on one machine (the planner,
#: ``logmr.plan.tuning``, chooses chunk size and reducers when they are not given)
DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024
#: malformed lines kept per map task (the job keeps at most ``MAX_SAMPLES``)
SAMPLES_PER_TASK = 20
MAX_SAMPLES = 100
#: longest part of a malformed line kept in a sample, in bytes
SAMPLE_LINE_BYTES = 1024


def _default_home(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "logmr"


@dataclass(frozen=True)
class Settings:
    """Where local job data lives and how work is cut."""

    home: Path = field(default_factory=lambda: _default_home(os.environ))
    #: 0: chosen by the planner (logmr.plan.tuning)
    chunk_size: int = 0
    reducers: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
        """Explicit keyword arguments (``None`` means unset), then ``env``, then defaults."""
        env = os.environ if env is None else env
        settings = cls(home=_default_home(env))
        from_env: dict[str, Any] = {}
        if env.get(ENV_HOME):
            from_env["home"] = Path(env[ENV_HOME])
        for name, var in (
            ("chunk_size", ENV_CHUNK_SIZE),
            ("reducers", ENV_REDUCERS),
            ("workers", ENV_WORKERS),
        ):
            if env.get(var):
                from_env[name] = int(env[var])
        chosen = {key: value for key, value in explicit.items() if value is not None}
        if "home" in chosen:
            chosen["home"] = Path(chosen["home"])
        return replace(settings, **{**from_env, **chosen})


@dataclass(frozen=True)
class StorageSettings:
    """Where the handlers keep job data and results."""

    storage: str = "aws"
    bucket: str = ""
    data_prefix: str = DEFAULT_DATA_PREFIX
    results_table: str = DEFAULT_RESULTS_TABLE
    jobs_table: str = DEFAULT_JOBS_TABLE
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **explicit: Any) -> StorageSettings:
        values: dict[str, Any] = {
            "storage": env.get(ENV_STORAGE) or "aws",
            "bucket": env.get(ENV_BUCKET) or "",
            "data_prefix": env.get(ENV_DATA_PREFIX) or DEFAULT_DATA_PREFIX,
            "results_table": env.get(ENV_RESULTS_TABLE) or DEFAULT_RESULTS_TABLE,
            "jobs_table": env.get(ENV_JOBS_TABLE) or DEFAULT_JOBS_TABLE,
            "endpoint_url": env.get(ENV_ENDPOINT_URL) or None,
        }
        values.update({key: value for key, value in explicit.items() if value is not None})
        return cls(**values)
