"""Plan: validate the job, cut the inputs into map tasks, record the job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.aws import allowlist
from logmr.handlers.runtime import backends, log_metrics, logger, metrics, settings, tracer
from logmr.jobs.binding import check
from logmr.plan import tuning
from logmr.spec import request_to_spec


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec = request_to_spec(event["input"], default_job_id=event.get("execution_name"))
    logger.set_correlation_id(spec.job_id)
    if settings().storage == "aws":
        allowlist.check_job(spec.job, settings())  # before any user module is imported
        check(spec)  # a bad job is named first, as tasks.plan does
        allowlist.check_inputs(spec.inputs, settings())  # before any listing (docs/security.md)
    plan = tasks.plan(
        spec, backends(), tuning.limits_for(settings()), execution=event.get("execution_id")
    )
    metrics.add_metric(name="MapTasks", unit=MetricUnit.Count, value=plan["map_task_count"])
    logger.info(
        "planned", extra={"map_tasks": plan["map_task_count"], "distributed": plan["distributed"]}
    )
    return plan
