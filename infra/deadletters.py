"""Where an EventBridge rule's undeliverable events go: its target retried
(``RETRY_ATTEMPTS`` over at most ``MAX_EVENT_AGE``), then an encrypted,
TLS-only SQS queue kept ``RETENTION``, with an alarm as soon as it holds one."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: EventBridge's attempts at a target, and how long it keeps trying
RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(24)
#: how long an undelivered event waits in the queue (the SQS maximum)
RETENTION = Duration.days(14)


class DeadLetters:
    """``queue`` and its ``alarm`` (``description``: what a message there means),
    created in ``scope`` as ``<construct_id>`` and ``<construct_id>Alarm``."""

    def __init__(self, scope: Construct, construct_id: str, description: str) -> None:
        self.queue = sqs.Queue(
            scope,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        self.alarm = self.queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5)
        ).create_alarm(
            scope,
            f"{construct_id}Alarm",
            alarm_description=description,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
