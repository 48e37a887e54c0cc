"""The reconciler's wiring: an EventBridge rule on the state machine's
"Execution Status Change" events (FAILED, TIMED_OUT, ABORTED) invokes the
Reconcile function, which records FAILED the job an execution left RUNNING
(a failure no Catch can take: ``States.DataLimitExceeded``,
``States.Runtime``, the execution's own timeout, StopExecution;
docs/reliability.md). EventBridge retries the invocation and then sends the
event to a dead-letter queue, whose messages raise an alarm (``infra.deadletters``)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.deadletters import MAX_EVENT_AGE, RETRY_ATTEMPTS, DeadLetters
from logmr.workflow.names import EXECUTION_ENDINGS

#: the statuses of an execution that ended without success
ENDED_WITHOUT_SUCCESS = sorted({"FAILED", *EXECUTION_ENDINGS})


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
        dead_letters = DeadLetters(
            scope,
            "ReconcileDeadLetters",
            "an execution's end could not be reconciled: its job record may stay RUNNING"
            " (see the queue's messages)",
        )
        self.dead_letters, self.dead_letter_alarm = dead_letters.queue, dead_letters.alarm
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
