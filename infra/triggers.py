"""The triggers: uploads to the bucket start jobs, one EventBridge rule per
built-in job that runs without parameters, and one per query configured at
deploy time."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.data import INPUT_PREFIX
from infra.deadletters import MAX_EVENT_AGE, RETRY_ATTEMPTS, DeadLetters
from logmr.errors import QueryError
from logmr.jobs import JOBS, job_class, load_job
from logmr.spec import QUERY_JOB


def trigger_jobs() -> list[str]:
    """Built-in jobs an upload can start: those whose parameters all have
    defaults (a trigger passes none; ``pattern_count`` and ``field_count``
    need theirs and are started with ``POST /jobs`` or start-execution)."""
    job_class("word_count")  # loads the built-in catalogue
    return sorted(
        name for name, cls in JOBS.items() if all(not param.required for param in cls.params)
    )


def _uploaded() -> str:
    """The uploaded object's URI, as the input transformer fills it in."""
    bucket = events.EventField.from_path("$.detail.bucket.name")
    key = events.EventField.from_path("$.detail.object.key")
    return f"s3://{bucket}/{key}"


def trigger_input(job: str) -> dict[str, object]:
    """The execution input an upload under ``incoming/<job>/`` starts:
    ``{"job": job, "inputs": ["s3://<bucket>/<key>"]}`` (a Plan input)."""
    return {"job": job, "inputs": [_uploaded()]}


#: under the input prefix, the folder of the configured queries' triggers
QUERY_PREFIX = "queries/"
#: a configured query's name: a folder name and part of a rule's id
QUERY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def query_trigger_input(query: str) -> dict[str, object]:
    """The execution input an upload under ``incoming/queries/<name>/``
    starts: ``{"query": query, "inputs": ["s3://<bucket>/<key>"]}``."""
    return {"query": query, "inputs": [_uploaded()]}


def check_queries(queries: Mapping[str, str]) -> dict[str, str]:
    """The deploy-time queries (name -> query), each name a folder name and
    each query compiled once here: a mistake fails the synthesis, never an
    upload."""
    for name, query in queries.items():
        if not QUERY_NAME.fullmatch(name):
            raise ValueError(
                f"query name {name!r}: expected 1-63 of a-z, 0-9, '-' and '_' (a folder name)"
            )
        if not isinstance(query, str):
            raise ValueError(f"query {name!r}: expected the query's text")
        try:
            load_job(QUERY_JOB, {"query": query})
        except QueryError as exc:
            raise ValueError(f"query {name!r}: {exc}") from None
    return dict(queries)


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

    And one rule per deploy-time query (``queries``: name -> Logs Insights
    query, ``-c logmr:queries=...``): an object uploaded under
    ``incoming/queries/<name>/`` starts ``{"query": <query>, "inputs":
    ["s3://<bucket>/<key>"]}`` (``rules["queries/<name>"]``).
    """

    def __init__(
        self,
        scope: Construct,
        bucket: s3.IBucket,
        state_machine: sfn.StateMachine,
        queries: Mapping[str, str] | None = None,
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
        self._scope, self._bucket, self._machine = scope, bucket, state_machine
        for job in trigger_jobs():
            rule_id = "".join(part.title() for part in job.split("_"))
            self._rule(
                job,
                f"Trigger{rule_id}",
                f"a {job} job",
                f"{INPUT_PREFIX}{job}/",
                trigger_input(job),
            )
        for name, query in sorted(check_queries(queries or {}).items()):
            rule_id = "".join(part.title() for part in re.split("[-_]", name))
            prefix = f"{INPUT_PREFIX}{QUERY_PREFIX}{name}/"
            self._rule(
                f"{QUERY_PREFIX}{name}",
                f"TriggerQuery{rule_id}",
                f"the query {name!r}",
                prefix,
                query_trigger_input(query),
            )

    def _rule(
        self, key: str, rule_id: str, what: str, prefix: str, given: dict[str, object]
    ) -> None:
        """The rule that starts ``given`` for an upload under ``prefix``."""
        self.rules[key] = events.Rule(
            self._scope,
            rule_id,
            description=f"S3 uploads under {prefix} start {what}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self._bucket.bucket_name]},
                    "object": {"key": [{"prefix": prefix}]},
                },
            ),
            targets=[
                targets.SfnStateMachine(
                    self._machine,
                    input=events.RuleTargetInput.from_object(given),
                    role=self.events_role,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                    dead_letter_queue=self.dead_letters,
                )
            ],
        )
