"""What every handler shares: the Powertools logger, metrics and tracer, and
the storage the tasks use, built on the first invocation from the environment
(``logmr.config`` names every variable) and kept for the warm container."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from logmr.config import Settings
from logmr.storage.backends import Backends
from logmr.workflow.names import SERVICE

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """Tracing runs in Lambda unless ``POWERTOOLS_TRACE_DISABLED`` says no
    (Powertools' own rule; off on this machine, where the engine sets it)."""
    return bool(settings().lambda_function) and not settings().trace_disabled


class LazyTracer:
    """Powertools' ``Tracer``, created on a handler's first call and only when
    tracing is on: creating it imports the X-Ray SDK (about 0.4 s of a worker's
    start here) even when tracing is disabled."""

    def __init__(self, service: str) -> None:
        self.service = service

    @functools.cached_property
    def tracer(self) -> Any:
        from aws_lambda_powertools import Tracer

        return Tracer(service=self.service)

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        traced: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            if not traced:
                enabled = tracing_enabled()
                traced.append(self.tracer.capture_lambda_handler(handler) if enabled else handler)
            return traced[0](event, context)

        return wrapper  # type: ignore[return-value]


tracer = LazyTracer(SERVICE)


@functools.cache
def settings() -> Settings:
    """The environment the function runs in, read on the first invocation."""
    return Settings.load()


@functools.cache
def backends() -> Backends:
    """Local folder + SQLite when ``LOGMR_STORAGE=local``, else S3 + DynamoDB."""
    if settings().storage == "local":
        from logmr.run.embedded import embedded_backends

        return embedded_backends(settings())
    from logmr.aws.backends import aws_backends

    return aws_backends(settings())


def reset() -> None:
    """Forget the settings and storage read so far (a test changed the environment)."""
    settings.cache_clear()
    backends.cache_clear()


def log_metrics(handler: Handler) -> Handler:
    """Powertools' ``log_metrics`` without its ``No application metrics to
    publish`` warning (printed on every failed run before the real error): a
    handler that raised counts ``HandlerErrors``, one that added no metric
    (Reconcile with nothing to do) publishes nothing; the metrics, dimensions
    and metadata are cleared for the next invocation either way."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        except Exception:
            metrics.add_metric(name="HandlerErrors", unit=MetricUnit.Count, value=1)
            raise
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()
            else:
                metrics.clear_metrics()

    return wrapper  # type: ignore[return-value]


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
