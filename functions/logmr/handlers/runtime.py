"""What every handler shares: the Powertools logger, metrics and tracer, and
the storage the tasks use, built on the first invocation from the environment
(``logmr.config`` names every variable) and kept for the warm container."""

from __future__ import annotations

import functools
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from logmr import config
from logmr.tasks import Backends

SERVICE = "logmr"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
tracer = Tracer(service=SERVICE)


@functools.cache
def backends() -> Backends:
    """Local folder + SQLite when ``LOGMR_STORAGE=local``, else S3 + DynamoDB."""
    settings = config.StorageSettings.from_env(os.environ)
    if settings.storage == "local":
        from logmr.local import local_backends

        return local_backends(config.Settings.load())
    from logmr.aws.backends import aws_backends

    return aws_backends(settings)


def record_task(
    kind: str, job: str, counters: dict[str, int], seconds: float, input_bytes: int | None
) -> None:
    """One set of metrics per task: records, malformed, bytes and duration."""
    metrics.add_dimension(name="task", value=kind)
    metrics.add_dimension(name="job", value=job)
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=counters.get("records", 0))
    metrics.add_metric(name="Malformed", unit=MetricUnit.Count, value=counters.get("malformed", 0))
    if input_bytes is not None:
        metrics.add_metric(name="InputBytes", unit=MetricUnit.Bytes, value=input_bytes)
    metrics.add_metric(name="TaskDuration", unit=MetricUnit.Seconds, value=seconds)
