"""The ``Logmr`` stack: the pipeline construct, its outputs, and the
acknowledged findings of cdk-nag and CloudFormation validation, each with
its reason."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, RemovalPolicy, Stack, Validations
from constructs import Construct, IConstruct

from infra.construct import DATA_PREFIX, INPUT_PREFIX, LogmrPipeline
from infra.functions import MAP_CONCURRENCY
from logmr import layout
from logmr.config import DEFAULT_RETENTION_DAYS

STACK_NAME = "Logmr"

#: context keys: ``cdk synth -c logmr:removalPolicy=destroy`` (data buckets and
#: tables are deleted with the stack: for trials) and ``-c
#: logmr:inputPrefixes=incoming/,archive/`` (prefixes Plan and Map may read: the
#: IAM grants and Plan's allow-list, LOGMR_INPUT_PREFIXES, both come from it)
CONTEXT_REMOVAL_POLICY = "logmr:removalPolicy"
CONTEXT_INPUT_PREFIXES = "logmr:inputPrefixes"
#: ``-c logmr:inputLocations=s3://my-alb-logs/AWSLogs/123456789012/,s3://my-cf-logs/cf/``
#: (or the same key in cdk.json's context): other buckets' logs read where they
#: are; the IAM grants and Plan's allow-list, LOGMR_INPUT_LOCATIONS, both come
#: from it (docs/deploying.md, "Reading logs where they are")
CONTEXT_INPUT_LOCATIONS = "logmr:inputLocations"
#: ``-c logmr:retentionDays=30``: days a job's record, results and objects are
#: kept (config.DEFAULT_RETENTION_DAYS; 0: for ever)
CONTEXT_RETENTION_DAYS = "logmr:retentionDays"
#: ``-c logmr:mapConcurrency=100``: Map's reserved concurrency and the Map
#: states' cap (infra.functions.MAP_CONCURRENCY; 0: none reserved, for an
#: account whose concurrency quota is too small to reserve any)
CONTEXT_MAP_CONCURRENCY = "logmr:mapConcurrency"
#: ``-c 'logmr:queries={"errors": "filter status >= 500 | stats count(*) by path"}'``
#: (a JSON object, or an object in cdk.json's context): Logs Insights queries
#: by name, each started by an upload under ``incoming/queries/<name>/``
CONTEXT_QUERIES = "logmr:queries"

# reasons, one sentence each
XRAY = (
    "X-Ray PutTraceSegments and PutTelemetryRecords (tracing ACTIVE) accept no resource"
    " narrower than '*'."
)
INPUTS = "The input prefix: a job reads whatever object a user put under it."
LOCATIONS = (
    "A log location of another bucket the deployer named (logmr:inputLocations): a job reads"
    " whatever log objects the service writes under it."
)
DATA = (
    "The job-data prefix (plans, shuffle, task summaries, parts), keyed by job ids known only"
    " at run time."
)
INDEX = "The results table's by_value local index, which top-N queries read."
INVOKE = "grant_invoke's form: the function and its versions and aliases."
ITEMS = "The Distributed Map's item file of each job (logmr/jobs/<job id>/map_tasks.json)."
CHILDREN = "The Distributed Map's child executions, named by Step Functions at run time."
RESULTS = (
    "The Distributed Map's results of each job (logmr/jobs/<job id>/map_runs/<map run id>/),"
    " written by its ResultWriter under a Map Run id Step Functions picks at run time."
)
EXECUTIONS = (
    "This state machine's executions, named at run time: the reconciler describes the one an"
    " event names."
)
DEAD_LETTERS = "This queue is itself the dead-letter queue of an EventBridge rule's target."
MACHINE_STAR = (
    "X-Ray (tracing) and CloudWatch Logs vended-log delivery (CreateLogDelivery, ...) actions"
    " accept no resource narrower than '*'."
)
RUNTIME = (
    "Python 3.13 is the runtime the dependencies layer is built for and the code is tested on;"
    " the move to 3.14 changes layer, runtime and tests together."
)
SUBSTITUTIONS = (
    "The ${...} in DefinitionString are Step Functions DefinitionSubstitutions placeholders"
    " filled by CloudFormation, not Fn::Sub variables."
)


class LogmrStack(Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = str(self.node.try_get_context(CONTEXT_REMOVAL_POLICY) or "retain").lower()
        prefixes = str(self.node.try_get_context(CONTEXT_INPUT_PREFIXES) or INPUT_PREFIX)
        retention = self.node.try_get_context(CONTEXT_RETENTION_DAYS)
        concurrency = self.node.try_get_context(CONTEXT_MAP_CONCURRENCY)
        locations = self.node.try_get_context(CONTEXT_INPUT_LOCATIONS) or ""
        if isinstance(locations, list):  # cdk.json may hold a list
            locations = ",".join(map(str, locations))
        queries = self.node.try_get_context(CONTEXT_QUERIES) or {}
        if isinstance(queries, str):
            queries = json.loads(queries)
        self.pipeline = LogmrPipeline(
            self,
            "Logmr",
            input_prefixes=[prefix.strip() for prefix in prefixes.split(",") if prefix.strip()],
            removal_policy=RemovalPolicy.DESTROY if removal == "destroy" else RemovalPolicy.RETAIN,
            retention_days=DEFAULT_RETENTION_DAYS if retention is None else int(retention),
            map_concurrency=MAP_CONCURRENCY if concurrency is None else int(concurrency),
            input_locations=[part.strip() for part in str(locations).split(",") if part.strip()],
            queries=queries,
        )
        p = self.pipeline
        CfnOutput(self, "BucketName", value=p.bucket.bucket_name)
        CfnOutput(self, "StateMachineArn", value=p.state_machine.state_machine_arn)
        CfnOutput(self, "ResultsTableName", value=p.results_table.table_name)
        CfnOutput(self, "JobsTableName", value=p.jobs_table.table_name)
        CfnOutput(self, "ApiUrl", value=p.api.api_endpoint)
        CfnOutput(self, "DashboardName", value=p.dashboard.dashboard_name)
        self.acknowledged: list[tuple[str, str, str]] = []
        self._acknowledge()

    def _ref(self, construct: IConstruct) -> str:
        """``<LogicalId.Arn>``: how cdk-nag names a resource's ARN in a finding."""
        element = construct.node.default_child
        assert isinstance(element, CfnElement)
        return f"<{self.resolve(self.get_logical_id(element))}.Arn>"

    def _ack(self, scope: IConstruct, rule: str, reason: str) -> None:
        Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
        self.acknowledged.append((scope.node.path, rule, reason))

    def _acknowledge(self) -> None:
        p = self.pipeline
        bucket = self._ref(p.bucket)
        fns = p.functions
        every = [*fns.items(), ("Api", p.api_function), ("Reconcile", p.reconcile_function)]
        map_runs = f"{bucket}/{DATA_PREFIX}{layout.map_runs_prefix('*')}*"
        for logical, fn in every:
            role = fn.role
            assert role is not None
            self._ack(fn, "AwsSolutions-L1", RUNTIME)
            self._ack(role, "AwsSolutions-IAM5[Resource::*]", XRAY)
            if logical in ("Plan", "Map", "PlanReduce", "Reduce", "Finalize"):
                self._ack(role, f"AwsSolutions-IAM5[Resource::{bucket}/{DATA_PREFIX}*]", DATA)
            if logical in ("Plan", "Map"):
                for prefix in p.input_prefixes:
                    self._ack(role, f"AwsSolutions-IAM5[Resource::{bucket}/{prefix}*]", INPUTS)
                for other, prefix in p.input_locations:
                    objects = f"arn:<AWS::Partition>:s3:::{other}/{prefix}*"
                    self._ack(role, f"AwsSolutions-IAM5[Resource::{objects}]", LOCATIONS)
            if logical == "Reconcile":
                executions = (
                    "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                    f"{p.state_machine_name}:*"
                )
                self._ack(role, f"AwsSolutions-IAM5[Resource::{executions}]", EXECUTIONS)
            if logical == "Api":
                results = self._ref(p.results_table)
                self._ack(role, f"AwsSolutions-IAM5[Resource::{results}/index/*]", INDEX)
            if logical == "MarkFailed":
                self._ack(role, f"AwsSolutions-IAM5[Resource::{map_runs}]", RESULTS)
        machine_role = p.state_machine_role
        self._ack(machine_role, "AwsSolutions-IAM5[Resource::*]", MACHINE_STAR)
        for fn in fns.values():
            self._ack(machine_role, f"AwsSolutions-IAM5[Resource::{self._ref(fn)}:*]", INVOKE)
        items = f"{bucket}/{DATA_PREFIX}jobs/*/map_tasks.json"
        self._ack(machine_role, f"AwsSolutions-IAM5[Resource::{items}]", ITEMS)
        self._ack(machine_role, f"AwsSolutions-IAM5[Resource::{map_runs}]", RESULTS)
        children = (
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{p.state_machine_name}/*"
        )
        self._ack(machine_role, f"AwsSolutions-IAM5[Resource::{children}]", CHILDREN)
        self._ack(p.state_machine, "CloudFormation-Validate::E1029", SUBSTITUTIONS)
        for queue in (p.reconcile_dead_letters, p.trigger_dead_letters):
            self._ack(queue, "AwsSolutions-SQS3", DEAD_LETTERS)
