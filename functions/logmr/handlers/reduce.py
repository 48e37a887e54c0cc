"""Reduce: one partition of every shuffle object in, results out."""

from __future__ import annotations

from typing import Any

from logmr import tasks
from logmr.handlers.runtime import backends, log_metrics, logger, record_task, settings, tracer
from logmr.plan import tuning
from logmr.spec import JobSpec


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec = JobSpec.from_dict(event["spec"])
    logger.set_correlation_id(spec.job_id)
    result = tasks.reduce_task(
        spec,
        int(event["partition"]),
        int(event["map_task_count"]),
        backends(),
        budget=tuning.reduce_budget_for(settings()),
    )
    record_task("reduce", spec.job, {"records": result["keys"]}, result["seconds"], None)
    return result
