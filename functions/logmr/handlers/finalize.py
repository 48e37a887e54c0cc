"""Finalize: add up the counters, compute the summary, mark the job SUCCEEDED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.handlers.runtime import backends, log_metrics, logger, metrics, tracer
from logmr.spec import JobSpec


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec = JobSpec.from_dict(event["spec"])
    logger.set_correlation_id(spec.job_id)
    result = tasks.finalize(spec, int(event["map_task_count"]), backends())
    metrics.add_dimension(name="job", value=spec.job)
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="Records", unit=MetricUnit.Count, value=result["counters"].get("records", 0)
    )
    metrics.add_metric(
        name="Malformed", unit=MetricUnit.Count, value=result["counters"].get("malformed", 0)
    )
    return result
