"""MarkFailed: record the error name and cause on the job record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.handlers.runtime import backends, log_metrics, logger, metrics, tracer


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The state is the plan (after Plan succeeded) or the execution input, plus the error.
    state = event["state"]
    error = state.get("error") or {}
    job_id = str(state.get("job_id") or event["execution_name"])
    logger.set_correlation_id(job_id)
    logger.error("job failed", extra={"error": error.get("Error")})
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    spec = state.get("spec") or {key: state[key] for key in ("job", "inputs") if key in state}
    cause = str(error.get("Cause", ""))
    name = str(error.get("Error", "Unknown"))
    return tasks.mark_failed(
        job_id, name, cause, backends(), spec, execution=event.get("execution_id")
    )
