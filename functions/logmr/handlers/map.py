"""Map: one byte range in, one shuffle object out, within the function's memory."""

from __future__ import annotations

from typing import Any

from logmr import tasks
from logmr.handlers.runtime import backends, log_metrics, logger, record_task, settings, tracer
from logmr.plan import tuning
from logmr.spec import JobSpec, MapTask


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spec, task = JobSpec.from_dict(event["spec"]), MapTask.from_dict(event["task"])
    logger.set_correlation_id(spec.job_id)
    result = tasks.map_task(spec, task, backends(), tuning.limits_for(settings()))
    record_task("map", spec.job, result["counters"], result["seconds"], result["input_bytes"])
    return result
