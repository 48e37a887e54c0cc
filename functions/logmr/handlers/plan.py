"""Plan: validate the job, cut the inputs into map tasks, record the job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.handlers.runtime import backends, logger, metrics, tracer
from logmr.spec import request_to_spec


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec = request_to_spec(event["input"], default_job_id=event.get("execution_name"))
    logger.set_correlation_id(spec.job_id)
    plan = tasks.plan(spec, backends())
    metrics.add_metric(name="MapTasks", unit=MetricUnit.Count, value=plan["map_task_count"])
    logger.info(
        "planned", extra={"map_tasks": plan["map_task_count"], "distributed": plan["distributed"]}
    )
    return plan
