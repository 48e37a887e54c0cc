"""PlanReduce: after Map, the reducers from the keys the map tasks measured."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.handlers.runtime import backends, log_metrics, logger, metrics, settings, tracer
from logmr.plan import tuning
from logmr.spec import JobSpec


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec = JobSpec.from_dict(event["spec"])
    logger.set_correlation_id(spec.job_id)
    planned = tasks.plan_reduce(
        spec, int(event["map_task_count"]), backends(), tuning.limits_for(settings())
    )
    metrics.add_metric(name="Reducers", unit=MetricUnit.Count, value=len(planned["partitions"]))
    logger.info("reduce planned", extra={"reducers": len(planned["partitions"])})
    return planned
