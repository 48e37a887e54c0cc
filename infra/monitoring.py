"""Monitoring: the alarms (a failed job, throttled functions, a job's
malformed share) and the dashboard, from the state machine's and the
functions' metrics and the EMF metrics the handlers emit (namespace
``logmr``, Powertools)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from logmr.jobs import JOBS, job_class
from logmr.workflow.names import SERVICE

#: alarm when more than this share of a job's lines is malformed
MALFORMED_SHARE_THRESHOLD = 0.1
#: the period of every alarm and graph
PERIOD = Duration.minutes(5)


def _emf(name: str, dims: dict[str, str], label: str | None = None) -> cloudwatch.Metric:
    """A metric the handlers emit with Powertools (EMF, namespace ``logmr``)."""
    return cloudwatch.Metric(
        namespace=SERVICE,
        metric_name=name,
        dimensions_map=dims,
        statistic="Sum",
        period=PERIOD,
        label=label,
    )


def _search(metric: str, schema: str, stat: str) -> cloudwatch.MathExpression:
    """Every series of an EMF metric, whatever its job (a search, for graphs only)."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{SERVICE},{schema}}} MetricName=\"{metric}\"', '{stat}', 300)",
        using_metrics={},
        period=PERIOD,
    )


def _alarm(
    scope: Construct,
    construct_id: str,
    metric: cloudwatch.Metric | cloudwatch.MathExpression,
    description: str,
    threshold: float = 0,
) -> cloudwatch.Alarm:
    """An alarm as soon as one period's value exceeds ``threshold`` (no data: OK)."""
    return metric.create_alarm(
        scope,
        construct_id,
        alarm_description=description,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


class Monitoring:
    """``failed_alarm``, ``throttles_alarm``, ``malformed_alarms`` (by job)
    and the ``dashboard``, created in ``scope``, on ``state_machine``,
    ``functions`` (by logical name) and ``api_function``."""

    def __init__(
        self,
        scope: Construct,
        state_machine: sfn.StateMachine,
        functions: dict[str, lambda_.Function],
        api_function: lambda_.Function,
    ) -> None:
        machine = state_machine
        every_function = {**functions, "Api": api_function}
        self.failed_alarm = _alarm(
            scope,
            "ExecutionsFailedAlarm",
            machine.metric_failed(period=PERIOD),
            "A logmr job failed: see its job record (logmr status JOB).",
        )
        throttles = {
            f"t{i}": fn.metric_throttles(period=PERIOD)
            for i, fn in enumerate(every_function.values())
        }
        self.throttles_alarm = _alarm(
            scope,
            "LambdaThrottlesAlarm",
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in throttles),
                using_metrics=throttles,
                label="Lambda throttles (logmr functions)",
                period=PERIOD,
            ),
            "logmr functions were throttled (account concurrency?).",
        )
        # Malformed share per job, from the totals Finalize emits (EMF,
        # namespace logmr, dimensions service and job): one alarm per
        # built-in job, as an alarm cannot search over dimension values.
        self.malformed_alarms: dict[str, cloudwatch.Alarm] = {}
        job_class("word_count")
        for job in sorted(JOBS):
            dims = {"service": SERVICE, "job": job}
            share = cloudwatch.MathExpression(
                expression="IF(records > 0, malformed / records, 0)",
                using_metrics={
                    "malformed": _emf("Malformed", dims),
                    "records": _emf("Records", dims),
                },
                label=f"malformed share ({job})",
                period=PERIOD,
            )
            rule_id = "".join(part.title() for part in job.split("_"))
            self.malformed_alarms[job] = _alarm(
                scope,
                f"MalformedShare{rule_id}Alarm",
                share,
                f"Over {MALFORMED_SHARE_THRESHOLD:.0%} of a {job} job's lines were malformed:"
                " wrong --format? See the job's quarantine samples.",
                MALFORMED_SHARE_THRESHOLD,
            )
        self.dashboard = cloudwatch.Dashboard(
            scope, "Dashboard", default_interval=Duration.hours(24)
        )
        self._graphs(machine, functions, every_function)

    def _graphs(
        self,
        machine: sfn.StateMachine,
        functions: dict[str, lambda_.Function],
        every_function: dict[str, lambda_.Function],
    ) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    machine.metric_started(period=PERIOD, label="started"),
                    machine.metric_succeeded(period=PERIOD, label="succeeded"),
                    machine.metric_failed(period=PERIOD, label="failed"),
                    machine.metric_timed_out(period=PERIOD, label="timed out"),
                    machine.metric_aborted(period=PERIOD, label="aborted"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Throttling and task errors (each retried, or caught to MarkFailed)",
                left=[
                    machine.metric_throttled(period=PERIOD, label="ExecutionThrottled"),
                    *(
                        fn.metric_errors(period=PERIOD, label=f"{logical} errors")
                        for logical, fn in functions.items()
                    ),
                ],
                right=[
                    fn.metric_throttles(period=PERIOD, label=f"{logical} throttles")
                    for logical, fn in every_function.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Task duration by task and job (s, average)",
                left=[_search("TaskDuration", "job,service,task", "Average")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Task duration by task and job (s, maximum)",
                left=[_search("TaskDuration", "job,service,task", "Maximum")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Records per job",
                left=[_search("Records", "job,service", "Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Malformed lines per job",
                left=[_search("Malformed", "job,service", "Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Jobs and map tasks",
                left=[
                    _search("JobsSucceeded", "job,service", "Sum"),
                    _emf("JobsFailed", {"service": SERVICE}, "JobsFailed"),
                ],
                right=[_emf("MapTasks", {"service": SERVICE}, "MapTasks")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Input bytes read by map tasks",
                left=[_search("InputBytes", "job,service,task", "Sum")],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[
                    self.failed_alarm,
                    self.throttles_alarm,
                    *self.malformed_alarms.values(),
                ],
                width=12,
            ),
        )
