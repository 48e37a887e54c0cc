"""The reconciler's wiring: an EventBridge rule on the state machine's
"Execution Status Change" events (FAILED, TIMED_OUT, ABORTED) invokes the
Reconcile function, which records FAILED the job an execution left RUNNING
(a failure no Catch can take: ``States.DataLimitExceeded``,
``States.Runtime``, the execution's own timeout, StopExecution;
docs/reliability.md). EventBridge retries the invocation and then sends the
event to a dead-letter queue, whose messages raise an alarm."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from logmr.workflow.names import EXECUTION_ENDINGS

#: the statuses of an execution that ended without success
ENDED_WITHOUT_SUCCESS = sorted({"FAILED", *EXECUTION_ENDINGS})
#: EventBridge's attempts at the function, and how long it keeps trying
RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(24)
#: how long an undelivered event waits in the dead-letter queue (the SQS maximum)
DEAD_LETTER_RETENTION = Duration.days(14)


class Reconciler:
    """The rule (``rule``), its dead-letter queue (``dead_letters``) and the
    alarm on it (``dead_letter_alarm``), created in ``scope``; ``function``
    may describe the executions of ``state_machine`` (named
    ``state_machine_name``) and nothing else of it."""

    def __init__(
        self,
        scope: Construct,
        state_machine: sfn.StateMachine,
        state_machine_name: str,
        function: lambda_.Function,
    ) -> None:
        executions = Stack.of(scope).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeExecutions",
                actions=["states:DescribeExecution"],
                resources=[executions],
            )
        )
        self.dead_letters = sqs.Queue(
            scope,
            "ReconcileDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        self.rule = events.Rule(
            scope,
            "ReconcileRule",
            description="an execution that ended without success: record its job FAILED",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ENDED_WITHOUT_SUCCESS,
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    function,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                    dead_letter_queue=self.dead_letters,
                )
            ],
        )
        self.dead_letter_alarm = self.dead_letters.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5)
        ).create_alarm(
            scope,
            "ReconcileDeadLettersAlarm",
            alarm_description=(
                "an execution's end could not be reconciled: its job record may stay"
                " RUNNING (see the queue's messages)"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
