"""Reconcile: an EventBridge rule sends the state machine's executions that
ended FAILED, TIMED_OUT or ABORTED; the job record a failure no Catch could
take left RUNNING becomes FAILED with the execution's error
(``tasks.reconcile_execution``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logmr import tasks
from logmr.aws.clients import Clients
from logmr.aws.executions import Executions
from logmr.handlers.runtime import backends, log_metrics, logger, metrics, settings, tracer


@logger.inject_lambda_context
@log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    executions = Executions(clients=Clients(endpoint_url=settings().endpoint_url))
    outcome = tasks.reconcile_execution(event["detail"], executions.failure, backends())
    if outcome["reconciled"]:
        logger.error("job reconciled as failed", extra=outcome)
        metrics.add_metric(name="JobsReconciled", unit=MetricUnit.Count, value=1)
    return outcome
