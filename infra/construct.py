"""``LogmrPipeline``: the whole of logmr on AWS as one reusable construct.

Names come from the code the functions run: the handlers and the ASL
placeholders from ``logmr.names``, the table keys from ``logmr.aws.tables``,
the environment variable names from ``logmr.config``, the S3 layout from
``logmr.spec``. The infrastructure only fills in names and ARNs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ArnFormat, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import bundling
from logmr import config, layout
from logmr.aws import tables
from logmr.jobs import JOBS, job_class
from logmr.workflow import names
from logmr.workflow.names import API_HANDLER, SERVICE

REPO = Path(__file__).resolve().parents[1]
#: the one code asset of every function: the whole ``functions/`` folder
CODE_DIR = REPO / "functions"
CODE_EXCLUDE = [
    "**/tests",
    "**/__pycache__",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.hypothesis",
    "**/.ruff_cache",
    "**/*.egg-info",
    "**/.DS_Store",
]

#: uploads under ``incoming/<job>/`` start that job (see ``_triggers``); the
#: default input prefix of the grants and of Plan's allow-list (logmr.allowlist)
INPUT_PREFIX = config.DEFAULT_INPUT_PREFIXES
#: job data (plans, shuffle, task summaries, part files) under this prefix
DATA_PREFIX = config.DEFAULT_DATA_PREFIX
#: shuffle objects, expired by the lifecycle rule: ``logmr/shuffle/``
SHUFFLE_PREFIX = DATA_PREFIX + layout.SHUFFLE_PREFIX
SHUFFLE_EXPIRY_DAYS = 7

#: memory (MB) and timeout (s) per function: one source with the planner, the
#: cost model (logmr.tuning) and the engines' timeout emulation
FUNCTION_SIZES = names.FUNCTION_SIZES
#: the API function answers within API Gateway's 30-second integration limit
API_SIZE = (256, 29)

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
#: HTTP API stage throttling: steady requests per second and burst
API_RATE_LIMIT = 20
API_BURST_LIMIT = 40
#: alarm when more than this share of a job's lines is malformed
MALFORMED_SHARE_THRESHOLD = 0.1


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


def _attribute(described: dict[str, str]) -> dynamodb.Attribute:
    kinds = {
        "S": dynamodb.AttributeType.STRING,
        "N": dynamodb.AttributeType.NUMBER,
        "B": dynamodb.AttributeType.BINARY,
    }
    return dynamodb.Attribute(name=described["name"], type=kinds[described["type"]])


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """HTTP API access logs: JSON lines in a log group."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(
            json.dumps(
                {
                    "requestId": "$context.requestId",
                    "ip": "$context.identity.sourceIp",
                    "caller": "$context.identity.caller",
                    "user": "$context.identity.userArn",
                    "requestTime": "$context.requestTime",
                    "routeKey": "$context.routeKey",
                    "status": "$context.status",
                    "responseLength": "$context.responseLength",
                    "integrationError": "$context.integrationErrorMessage",
                }
            )
        )


class LogmrPipeline(Construct):
    """Bucket, tables, functions, state machine, triggers, HTTP API, monitoring."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str | None = None,
        input_prefixes: Sequence[str] = (INPUT_PREFIX,),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.input_prefixes = [p if p.endswith("/") else p + "/" for p in input_prefixes]
        if not self.input_prefixes:
            raise ValueError("no input prefix: give at least one (incoming/ by default)")
        for prefix in self.input_prefixes:
            # one value for the IAM grants and Plan's allow-list (a comma-separated
            # variable); job data is never an input (a job would read other jobs' data)
            if prefix == "/" or "," in prefix or prefix.startswith(DATA_PREFIX):
                raise ValueError(f"not an input prefix: {prefix!r} (job data is {DATA_PREFIX})")
        self.removal_policy = removal_policy
        self._storage()
        self._tables()
        self._functions()
        self._state_machine(state_machine_name or Stack.of(self).stack_name)
        self._triggers()
        self._http_api()
        self._monitoring()
        for resource in [*self.functions.values(), self.api_function, self.state_machine]:
            self._depend_on_policy_only(resource)

    @staticmethod
    def _depend_on_policy_only(resource: Construct) -> None:
        """DependsOn the role's policy, not the role: the role is already a
        GetAtt dependency (cfn-lint W3005), the policy must exist first so
        the function or state machine starts with its permissions."""
        role = getattr(resource, "role", None)
        policy = role.node.try_find_child("DefaultPolicy") if role else None
        cfn = resource.node.default_child
        if policy is None or not isinstance(cfn, CfnResource):
            return
        policy_cfn = policy.node.default_child
        assert isinstance(policy_cfn, CfnResource)
        cfn.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy_cfn)])

    # -- storage ---------------------------------------------------------------
    def _storage(self) -> None:
        # The access-log bucket receives S3 server access logs of the data
        # bucket (S3-managed keys: the log delivery cannot use SSE-KMS).
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(90))],
            removal_policy=self.removal_policy,
        )
        # Versioning is off, by choice: inputs are copies of logs kept
        # elsewhere (the source of truth is the system that wrote them), job
        # data is rebuilt by running the job again, and a retried task
        # overwrites its shuffle object on purpose (deterministic names), so
        # versions would only keep every overwritten copy and need a second
        # lifecycle rule for noncurrent versions. Turn it on for inputs that
        # exist nowhere else.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireShuffle",
                    prefix=SHUFFLE_PREFIX,
                    expiration=Duration.days(SHUFFLE_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=self.removal_policy,
        )
        # S3 "Object Created" events go to EventBridge (the triggers). Set on
        # the bucket's own NotificationConfiguration rather than with
        # ``event_bridge_enabled=True``, which adds a custom resource: a
        # Lambda function whose role has s3:PutBucketNotification on "*" and
        # AWSLambdaBasicExecutionRole, for what CloudFormation does natively.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    def _tables(self) -> None:
        described = tables.describe()
        self.results_table = self._table("ResultsTable", described["results"])
        self.jobs_table = self._table("JobsTable", described["jobs"])

    def _table(self, construct_id: str, design: dict[str, Any]) -> dynamodb.Table:
        sort_key = design["sort_key"]
        table = dynamodb.Table(
            self,
            construct_id,
            partition_key=_attribute(design["partition_key"]),
            sort_key=_attribute(sort_key) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=self.removal_policy,
        )
        for index in design["indexes"]:
            projection = dynamodb.ProjectionType[index["projection"]]
            extra = list(index["non_key_attributes"]) or None
            if index["kind"] == "local":
                table.add_local_secondary_index(
                    index_name=index["name"],
                    sort_key=_attribute(index["sort_key"]),
                    projection_type=projection,
                    non_key_attributes=extra,
                )
            else:
                table.add_global_secondary_index(
                    index_name=index["name"],
                    partition_key=_attribute(index["partition_key"]),
                    sort_key=_attribute(index["sort_key"]) if index["sort_key"] else None,
                    projection_type=projection,
                    non_key_attributes=extra,
                )
        return table

    # -- functions -------------------------------------------------------------
    def _functions(self) -> None:
        self.layer = bundling.dependencies_layer(self, "Dependencies")
        self.code = lambda_.Code.from_asset(str(CODE_DIR), exclude=CODE_EXCLUDE)
        self.environment = {
            config.ENV_STORAGE: "aws",
            config.ENV_BUCKET: self.bucket.bucket_name,
            config.ENV_DATA_PREFIX: DATA_PREFIX,
            config.ENV_RESULTS_TABLE: self.results_table.table_name,
            config.ENV_JOBS_TABLE: self.jobs_table.table_name,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": SERVICE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        self.functions = {
            logical: self._function(logical, handler, *FUNCTION_SIZES[logical])
            for logical, handler in names.FUNCTIONS.items()
        }
        # Plan refuses inputs outside what the grants below let it read: the
        # same buckets and prefixes, from the same value (logmr.allowlist)
        self.functions["Plan"].add_environment(config.ENV_INPUT_BUCKETS, self.bucket.bucket_name)
        self.functions["Plan"].add_environment(
            config.ENV_INPUT_PREFIXES, ",".join(self.input_prefixes)
        )
        self.api_function = self._function("Api", API_HANDLER, *API_SIZE)
        self._grant_functions()

    def _function(self, logical: str, handler: str, memory: int, timeout: int) -> lambda_.Function:
        # Own role and log group per function: the role writes only to its
        # log group (no AWSLambdaBasicExecutionRole and its "*" resources).
        log_group = logs.LogGroup(
            self,
            f"{logical}Logs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{logical}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"logmr {logical} function",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self,
            f"{logical}Function",
            code=self.code,
            handler=handler,
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            layers=[self.layer],
            memory_size=memory,
            timeout=Duration.seconds(timeout),
            tracing=lambda_.Tracing.ACTIVE,
            environment=self.environment,
            log_group=log_group,
            role=role,
            description=f"logmr {logical}: {handler}",
        )

    def _grant_functions(self) -> None:
        """Each function exactly the actions its code calls, on its own data
        (issue 5's table; docs/security.md). Explicit statements, not CDK's
        ``grant_*`` (which add Scan, DeleteItem, UpdateItem, ``s3:List*``, ...)."""
        fns, bucket = self.functions, self.bucket
        data = bucket.arn_for_objects(DATA_PREFIX + "*")
        inputs = [bucket.arn_for_objects(prefix + "*") for prefix in self.input_prefixes]
        results, index = self.results_table.table_arn, f"{self.results_table.table_arn}/index/*"
        jobs = self.jobs_table.table_arn
        allow = self._allow
        # Plan lists the input prefixes (and nothing else of the bucket) and
        # reads heads and samples of the inputs; Map reads its byte range
        allow(
            fns["Plan"],
            "ListInputs",
            ["s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [prefix + "*" for prefix in self.input_prefixes]}},
        )
        for reader in (fns["Plan"], fns["Map"]):
            allow(reader, "ReadInputs", ["s3:GetObject"], inputs)
        # job data: plans, shuffle objects, task summaries, parts, quarantine
        for writer in (fns["Plan"], fns["Map"], fns["Reduce"], fns["Finalize"]):
            allow(writer, "WriteJobData", ["s3:PutObject"], [data])
        for reader in (fns["Reduce"], fns["Finalize"]):
            allow(reader, "ReadJobData", ["s3:GetObject"], [data])
        # Reduce puts its partition's results; Finalize the salted keys' (it reduces them)
        for writer in (fns["Reduce"], fns["Finalize"]):
            allow(writer, "WriteResults", ["dynamodb:BatchWriteItem"], [results])
        allow(fns["Finalize"], "ReadResults", ["dynamodb:Query"], [results])
        for keeper in (fns["Plan"], fns["Finalize"], fns["MarkFailed"]):
            allow(keeper, "JobRecord", ["dynamodb:GetItem", "dynamodb:PutItem"], [jobs])
        allow(self.api_function, "ReadJobRecord", ["dynamodb:GetItem"], [jobs])
        allow(self.api_function, "ReadResults", ["dynamodb:Query"], [results, index])

    @staticmethod
    def _allow(
        fn: lambda_.Function,
        sid: str,
        actions: list[str],
        resources: list[str],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid=sid, actions=actions, resources=resources, conditions=conditions
            )
        )

    # -- state machine ---------------------------------------------------------
    def _state_machine(self, name: str) -> None:
        stack = Stack.of(self)
        self.state_machine_name = name
        self.state_machine_role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="logmr state machine: invokes its five functions",
        )
        role = self.state_machine_role
        for fn in self.functions.values():
            fn.grant_invoke(role)
        # The Distributed Map reads its items from the plan's map_tasks.json ...
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapItems",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(DATA_PREFIX + layout.map_items_key("*"))],
            )
        )
        # ... and runs each item as a child execution of this state machine
        # (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
        # The ARNs are built from the name, so the role does not depend on the machine.
        machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        children_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapStart",
                actions=["states:StartExecution"],
                resources=[machine_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DistributedMapChildren",
                actions=[
                    "states:DescribeExecution",
                    "states:StopExecution",
                    "states:RedriveExecution",
                ],
                resources=[children_arn],
            )
        )
        self.state_machine_logs = logs.LogGroup(
            self,
            "StateMachineLogs",
            # the prefix AWS recommends for vended logs (keeps the resource policy small)
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The ASL is inlined as DefinitionString (``from_string`` of the file;
        # ``from_file`` would upload it as an S3 asset that neither cfn-lint nor
        # the tests could see) and its placeholders filled by
        # DefinitionSubstitutions, every one of them from logmr.names.
        self.definition_substitutions = {
            names.function_placeholder(logical): fn.function_arn
            for logical, fn in self.functions.items()
        }
        self.definition_substitutions[names.BUCKET_PLACEHOLDER] = self.bucket.bucket_name
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(
                names.state_machine_path().read_text(encoding="utf-8")
            ),
            definition_substitutions=self.definition_substitutions,
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_logs,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )

    # -- triggers --------------------------------------------------------------
    def _triggers(self) -> None:
        """One EventBridge rule per built-in job that runs without parameters.

        Convention: an object uploaded under ``incoming/<job>/`` in the bucket
        starts one execution of ``<job>`` over that one object. The input
        transformer writes ``{"job": "<job>", "inputs": ["s3://<bucket>/<key>"]}``;
        EventBridge names the execution, and Plan takes that name as the job
        id. Jobs with required parameters (``pattern_count``, ``field_count``)
        and user jobs are started with ``POST /jobs`` or start-execution.
        """
        self.events_role = iam.Role(
            self,
            "TriggerRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="logmr triggers: start executions of the state machine",
        )
        self.state_machine.grant_start_execution(self.events_role)
        self.rules: dict[str, events.Rule] = {}
        for job in trigger_jobs():
            rule_id = "".join(part.title() for part in job.split("_"))
            self.rules[job] = events.Rule(
                self,
                f"Trigger{rule_id}",
                description=f"S3 uploads under {INPUT_PREFIX}{job}/ start a {job} job",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [self.bucket.bucket_name]},
                        "object": {"key": [{"prefix": f"{INPUT_PREFIX}{job}/"}]},
                    },
                ),
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        input=events.RuleTargetInput.from_object(trigger_input(job)),
                        role=self.events_role,
                    )
                ],
            )

    # -- HTTP API --------------------------------------------------------------
    def _http_api(self) -> None:
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="logmr jobs: POST /jobs, GET /jobs/{id}, GET /jobs/{id}/results",
            default_authorizer=authorizers.HttpIamAuthorizer(),
            create_default_stage=False,
        )
        self.api_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.api_stage = apigwv2.HttpStage(
            self,
            "HttpApiStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=API_RATE_LIMIT, burst_limit=API_BURST_LIMIT
            ),
            access_log_settings=_AccessLogs(self.api_logs),
        )
        # POST /jobs: API Gateway starts the execution itself, the request
        # body is the execution input (a job request, as for start-execution)
        start = integrations.HttpStepFunctionsIntegration(
            "StartJob",
            state_machine=self.state_machine,
            subtype=apigwv2.HttpIntegrationSubtype.STEPFUNCTIONS_START_EXECUTION,
            parameter_mapping=apigwv2.ParameterMapping()
            .custom("StateMachineArn", self.state_machine.state_machine_arn)
            .custom("Input", "$request.body"),
        )
        self.api.add_routes(path="/jobs", methods=[apigwv2.HttpMethod.POST], integration=start)
        read = integrations.HttpLambdaIntegration("ReadJobs", self.api_function)
        for path in ("/jobs/{id}", "/jobs/{id}/results"):
            self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.GET], integration=read)

    # -- monitoring ------------------------------------------------------------
    def _monitoring(self) -> None:
        machine = self.state_machine
        period = Duration.minutes(5)
        every_function = {**self.functions, "Api": self.api_function}

        self.failed_alarm = machine.metric_failed(period=period).create_alarm(
            self,
            "ExecutionsFailedAlarm",
            alarm_description="A logmr job failed: see its job record (logmr status JOB).",
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        throttles = {
            f"t{i}": fn.metric_throttles(period=period)
            for i, fn in enumerate(every_function.values())
        }
        self.throttles_alarm = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({name}, 0)" for name in throttles),
            using_metrics=throttles,
            label="Lambda throttles (logmr functions)",
            period=period,
        ).create_alarm(
            self,
            "LambdaThrottlesAlarm",
            alarm_description="logmr functions were throttled (account concurrency?).",
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
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
                    "malformed": self._emf("Malformed", dims, period),
                    "records": self._emf("Records", dims, period),
                },
                label=f"malformed share ({job})",
                period=period,
            )
            rule_id = "".join(part.title() for part in job.split("_"))
            self.malformed_alarms[job] = share.create_alarm(
                self,
                f"MalformedShare{rule_id}Alarm",
                alarm_description=(
                    f"Over {MALFORMED_SHARE_THRESHOLD:.0%} of a {job} job's lines were malformed:"
                    " wrong --format? See the job's quarantine samples."
                ),
                threshold=MALFORMED_SHARE_THRESHOLD,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        def search(metric: str, schema: str, stat: str) -> cloudwatch.MathExpression:
            """Every series of an EMF metric, whatever its job (a search, for graphs only)."""
            return cloudwatch.MathExpression(
                expression=(
                    f"SEARCH('{{{SERVICE},{schema}}} MetricName=\"{metric}\"', '{stat}', 300)"
                ),
                using_metrics={},
                period=period,
            )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", default_interval=Duration.hours(24)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    machine.metric_started(period=period, label="started"),
                    machine.metric_succeeded(period=period, label="succeeded"),
                    machine.metric_failed(period=period, label="failed"),
                    machine.metric_timed_out(period=period, label="timed out"),
                    machine.metric_aborted(period=period, label="aborted"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Throttling and task errors (each retried, or caught to MarkFailed)",
                left=[
                    machine.metric_throttled(period=period, label="ExecutionThrottled"),
                    *(
                        fn.metric_errors(period=period, label=f"{logical} errors")
                        for logical, fn in self.functions.items()
                    ),
                ],
                right=[
                    fn.metric_throttles(period=period, label=f"{logical} throttles")
                    for logical, fn in every_function.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Task duration by task and job (s, average)",
                left=[search("TaskDuration", "job,service,task", "Average")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Task duration by task and job (s, maximum)",
                left=[search("TaskDuration", "job,service,task", "Maximum")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Records per job",
                left=[search("Records", "job,service", "Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Malformed lines per job",
                left=[search("Malformed", "job,service", "Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Jobs and map tasks",
                left=[
                    search("JobsSucceeded", "job,service", "Sum"),
                    self._emf("JobsFailed", {"service": SERVICE}, period, "JobsFailed"),
                ],
                right=[self._emf("MapTasks", {"service": SERVICE}, period, "MapTasks")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Input bytes read by map tasks",
                left=[search("InputBytes", "job,service,task", "Sum")],
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

    @staticmethod
    def _emf(
        name: str, dims: dict[str, str], period: Duration, label: str | None = None
    ) -> cloudwatch.Metric:
        """A metric the handlers emit with Powertools (EMF, namespace ``logmr``)."""
        return cloudwatch.Metric(
            namespace=SERVICE,
            metric_name=name,
            dimensions_map=dims,
            statistic="Sum",
            period=period,
            label=label,
        )
