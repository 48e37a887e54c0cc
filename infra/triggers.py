"""The triggers: uploads to the bucket start jobs, one EventBridge rule per
built-in job that runs without parameters."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.data import INPUT_PREFIX
from infra.deadletters import MAX_EVENT_AGE, RETRY_ATTEMPTS, DeadLetters
from logmr.jobs import JOBS, job_class


def trigger_jobs() -> list[str]:
    """Built-in jobs an upload can start: those whose parameters all have
    defaults (a trigger passes none; ``pattern_count`` and ``field_count``
    need theirs and are started with ``POST /jobs`` or start-execution)."""
    job_class("word_count")  # loads the built-in catalogue
    return sorted(
        name for name, cls in JOBS.items() if all(not param.required for param in cls.params)
    )


def trigger_input(job: str) -> dict[str, object]:
    """The execution input an upload under ``incoming/<job>/`` starts:
    ``{"job": job, "inputs": ["s3://<bucket>/<key>"]}`` (a Plan input)."""
    bucket = events.EventField.from_path("$.detail.bucket.name")
    key = events.EventField.from_path("$.detail.object.key")
    return {"job": job, "inputs": [f"s3://{bucket}/{key}"]}


class Triggers:
    """One EventBridge rule per built-in job that runs without parameters
    (``rules``, by job), the ``events_role`` they start executions of
    ``state_machine`` with, and the ``dead_letters`` queue (with its
    ``dead_letter_alarm``) of the uploads that could not start one after
    EventBridge's retries (``infra.deadletters``); created in ``scope``.

    Convention: an object uploaded under ``incoming/<job>/`` in ``bucket``
    starts one execution of ``<job>`` over that one object. The input
    transformer writes ``{"job": "<job>", "inputs": ["s3://<bucket>/<key>"]}``;
    EventBridge names the execution, and Plan takes that name as the job
    id. Jobs with required parameters (``pattern_count``, ``field_count``)
    and user jobs are started with ``POST /jobs`` or start-execution.
    """

    def __init__(
        self, scope: Construct, bucket: s3.IBucket, state_machine: sfn.StateMachine
    ) -> None:
        self.events_role = iam.Role(
            scope,
            "TriggerRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="logmr triggers: start executions of the state machine",
        )
        state_machine.grant_start_execution(self.events_role)
        dead_letters = DeadLetters(
            scope,
            "TriggerDeadLetters",
            "an upload could not start its job (see the queue's messages for the object)",
        )
        self.dead_letters, self.dead_letter_alarm = dead_letters.queue, dead_letters.alarm
        self.rules: dict[str, events.Rule] = {}
        for job in trigger_jobs():
            rule_id = "".join(part.title() for part in job.split("_"))
            self.rules[job] = events.Rule(
                scope,
                f"Trigger{rule_id}",
                description=f"S3 uploads under {INPUT_PREFIX}{job}/ start a {job} job",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [bucket.bucket_name]},
                        "object": {"key": [{"prefix": f"{INPUT_PREFIX}{job}/"}]},
                    },
                ),
                targets=[
                    targets.SfnStateMachine(
                        state_machine,
                        input=events.RuleTargetInput.from_object(trigger_input(job)),
                        role=self.events_role,
                        retry_attempts=RETRY_ATTEMPTS,
                        max_event_age=MAX_EVENT_AGE,
                        dead_letter_queue=self.dead_letters,
                    )
                ],
            )
