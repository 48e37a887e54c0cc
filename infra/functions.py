"""The Lambda functions: the six the state machine invokes and the API's,
their one code asset and dependencies layer, their environment, and the
grants of each (its own role and log group, exactly the actions its code
calls).

The handlers and their sizes come from ``logmr.workflow.names``, the
environment variable names from ``logmr.config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import bundling
from infra.data import DATA_PREFIX, Storage, log_group
from logmr import config, layout
from logmr.plan.tuning import MAX_REDUCERS
from logmr.workflow import names
from logmr.workflow.names import API_HANDLER, RECONCILE_HANDLER, SERVICE

REPO = Path(__file__).resolve().parents[1]
#: the one code asset of every function: the whole ``functions/`` folder
CODE_DIR = REPO / "functions"
CODE_EXCLUDE = [
    # the command line and the developers' tools (the synthetic log
    # generator): never run on Lambda
    "logmr/cli",
    "logmr/devtools",
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

#: memory (MB) and timeout (s) per function: one source with the planner, the
#: cost model (logmr.plan.tuning) and the engines' timeout emulation
FUNCTION_SIZES = names.FUNCTION_SIZES
#: the API function answers within API Gateway's 30-second integration limit
API_SIZE = (256, 29)
#: the reconciler reads one execution and writes one job record
RECONCILE_SIZE = (256, 60)
#: Map's reserved concurrency by default (context ``logmr:mapConcurrency``; 0:
#: none): a job's map tasks never take the whole account (1,000 by default; at
#: least 100 must stay unreserved), and Plan caps the Map states'
#: MaxConcurrency at it (LOGMR_MAP_CONCURRENCY), so a Map state never asks for
#: more than the function may run. Reduce reserves what its inline Map can run
#: at once (``tuning.MAX_REDUCERS``).
MAP_CONCURRENCY = 200


class Functions:
    """``functions`` (Plan, Map, PlanReduce, Reduce, Finalize, MarkFailed by logical name),
    ``api_function`` and ``reconcile_function``, created in ``scope`` with their ``layer``, ``code``
    and ``environment``; each may use the ``storage`` and read the
    ``input_prefixes`` as its code needs, and nothing more; what they write
    to DynamoDB expires ``retention_days`` later (0: never)."""

    def __init__(
        self,
        scope: Construct,
        storage: Storage,
        input_prefixes: Sequence[str],
        retention_days: int,
        map_concurrency: int = MAP_CONCURRENCY,
        *,
        input_locations: Sequence[tuple[str, str]] = (),
    ) -> None:
        """``input_locations``: ``(bucket, prefix)`` of other buckets' logs
        read where they are (``logmr.aws.allowlist.parse_location``)."""
        self.layer = bundling.dependencies_layer(scope, "Dependencies")
        self.code = lambda_.Code.from_asset(str(CODE_DIR), exclude=CODE_EXCLUDE)
        self.environment = {
            config.ENV_STORAGE: "aws",
            config.ENV_BUCKET: storage.bucket.bucket_name,
            config.ENV_DATA_PREFIX: DATA_PREFIX,
            config.ENV_RESULTS_TABLE: storage.results_table.table_name,
            config.ENV_JOBS_TABLE: storage.jobs_table.table_name,
            config.ENV_SERVICE_NAME: SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": SERVICE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # the items' expiry, the tables' TTL and the jobs/ lifecycle rule: one figure
            config.ENV_RETENTION_DAYS: str(retention_days),
            **config.NUMERIC_LIBRARY_ENV,
        }
        self.functions = {
            logical: self._function(scope, logical, handler, *FUNCTION_SIZES[logical])
            for logical, handler in names.FUNCTIONS.items()
        }
        # Plan refuses inputs outside what the grants below let it read: the
        # same buckets and prefixes, from the same value (logmr.aws.allowlist)
        self.functions["Plan"].add_environment(config.ENV_INPUT_BUCKETS, storage.bucket.bucket_name)
        self.functions["Plan"].add_environment(config.ENV_INPUT_PREFIXES, ",".join(input_prefixes))
        if input_locations:
            self.functions["Plan"].add_environment(
                config.ENV_INPUT_LOCATIONS,
                ",".join(f"s3://{bucket}/{prefix}" for bucket, prefix in input_locations),
            )
        self._reserve(map_concurrency)
        self.api_function = self._function(scope, "Api", API_HANDLER, *API_SIZE)
        self.reconcile_function = self._function(
            scope, "Reconcile", RECONCILE_HANDLER, *RECONCILE_SIZE
        )
        self._grant(storage, input_prefixes)
        self._grant_locations(input_locations)

    def _function(
        self, scope: Construct, logical: str, handler: str, memory: int, timeout: int
    ) -> lambda_.Function:
        # Own role and log group per function: the role writes only to its
        # log group (no AWSLambdaBasicExecutionRole and its "*" resources).
        logs = log_group(scope, f"{logical}Logs")
        role = iam.Role(
            scope,
            f"{logical}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"logmr {logical} function",
        )
        logs.grant_write(role)
        return lambda_.Function(
            scope,
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
            log_group=logs,
            role=role,
            description=f"logmr {logical}: {handler}",
        )

    def _reserve(self, map_concurrency: int) -> None:
        """Reserved concurrency for Map (``map_concurrency``) and Reduce, and
        the planner's concurrency from it; 0 reserves nothing."""
        if map_concurrency < 0:
            raise ValueError(f"map concurrency: 0 (none reserved) or more, got {map_concurrency}")
        if not map_concurrency:
            return
        for logical, reserved in (("Map", map_concurrency), ("Reduce", MAX_REDUCERS)):
            cfn = self.functions[logical].node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.reserved_concurrent_executions = reserved
        self.functions["Plan"].add_environment(config.ENV_MAP_CONCURRENCY, str(map_concurrency))

    def _grant(self, storage: Storage, input_prefixes: Sequence[str]) -> None:
        """Each function exactly the actions its code calls, on its own data
        (issue 5's table; docs/security.md). Explicit statements, not CDK's
        ``grant_*`` (which add Scan, DeleteItem, UpdateItem, ``s3:List*``, ...)."""
        fns, bucket = self.functions, storage.bucket
        data = bucket.arn_for_objects(DATA_PREFIX + "*")
        inputs = [bucket.arn_for_objects(prefix + "*") for prefix in input_prefixes]
        results = storage.results_table.table_arn
        index = f"{storage.results_table.table_arn}/index/*"
        jobs = storage.jobs_table.table_arn
        # Plan lists the input prefixes (and nothing else of the bucket) and
        # reads heads and samples of the inputs; Map reads its byte range
        _allow(
            fns["Plan"],
            "ListInputs",
            ["s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [prefix + "*" for prefix in input_prefixes]}},
        )
        for reader in (fns["Plan"], fns["Map"]):
            _allow(reader, "ReadInputs", ["s3:GetObject"], inputs)
        # A GET of a missing object is 404 (NoSuchKey: InputNotFoundError)
        # only for a caller that may list the bucket, else 403 AccessDenied
        # (S3 API reference, GetObject, "Permissions"): the functions that read
        # what may have vanished since Plan (an input, a shuffle object, a
        # summary) may list it. Unconditioned: S3 decides that 404 on
        # ListBucket on the bucket, with no prefix in the GET to match a
        # condition against. Listing gives names, never contents.
        for reader in (fns[name] for name in ("Map", "PlanReduce", "Reduce", "Finalize")):
            _allow(reader, "TellMissingObjects", ["s3:ListBucket"], [bucket.bucket_arn])
        # job data: plans, shuffle objects, task summaries, the reduce plan,
        # parts, quarantine; PlanReduce reads the manifest and the map summaries
        writers = ("Plan", "Map", "PlanReduce", "Reduce", "Finalize")
        for writer in (fns[name] for name in writers):
            _allow(writer, "WriteJobData", ["s3:PutObject"], [data])
        for reader in (fns["PlanReduce"], fns["Reduce"], fns["Finalize"]):
            _allow(reader, "ReadJobData", ["s3:GetObject"], [data])
        # Reduce puts its partition's results; Finalize the salted keys' (it reduces them)
        for writer in (fns["Reduce"], fns["Finalize"]):
            _allow(writer, "WriteResults", ["dynamodb:BatchWriteItem"], [results])
        _allow(fns["Finalize"], "ReadResults", ["dynamodb:Query"], [results])
        # MarkFailed reads a failed Distributed Map's results (its manifests and
        # FAILED files, tasks.failure.failed_child): it lists them under the
        # job's map_runs/ prefix, and nothing else of the bucket
        runs = DATA_PREFIX + layout.map_runs_prefix("*")
        _allow(
            fns["MarkFailed"],
            "ListMapRunResults",
            ["s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [runs + "*"]}},
        )
        _allow(
            fns["MarkFailed"],
            "ReadMapRunResults",
            ["s3:GetObject"],
            [bucket.arn_for_objects(runs + "*")],
        )
        for keeper in (fns["Plan"], fns["Finalize"], fns["MarkFailed"], self.reconcile_function):
            _allow(keeper, "JobRecord", ["dynamodb:GetItem", "dynamodb:PutItem"], [jobs])
        _allow(self.api_function, "ReadJobRecord", ["dynamodb:GetItem"], [jobs])
        _allow(self.api_function, "ReadResults", ["dynamodb:Query"], [results, index])

    def _grant_locations(self, input_locations: Sequence[tuple[str, str]]) -> None:
        """Plan and Map read other buckets' logs where they are, as they read
        the input prefixes: Plan lists each location's bucket under its
        prefixes only and reads heads and samples, Map reads its ranges and
        may list the bucket so that a vanished input is a 404 (see
        ``_grant``). Nothing else of those buckets, and never a write."""
        if not input_locations:
            return
        fns = self.functions
        by_bucket: dict[str, list[str]] = {}
        for bucket, prefix in input_locations:
            by_bucket.setdefault(bucket, []).append(prefix)
        objects = [location_objects_arn(bucket, prefix) for bucket, prefix in input_locations]
        for number, (bucket, prefixes) in enumerate(by_bucket.items()):
            _allow(
                fns["Plan"],
                f"ListLocation{number}",
                ["s3:ListBucket"],
                [location_bucket_arn(bucket)],
                {"StringLike": {"s3:prefix": [prefix + "*" for prefix in prefixes]}},
            )
        for reader in (fns["Plan"], fns["Map"]):
            _allow(reader, "ReadLocations", ["s3:GetObject"], objects)
        buckets = [location_bucket_arn(bucket) for bucket in by_bucket]
        _allow(fns["Map"], "TellMissingLocations", ["s3:ListBucket"], buckets)


def location_bucket_arn(bucket: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{bucket}"


def location_objects_arn(bucket: str, prefix: str) -> str:
    return f"{location_bucket_arn(bucket)}/{prefix}*"


def _allow(
    fn: lambda_.Function,
    sid: str,
    actions: list[str],
    resources: list[str],
    conditions: dict[str, Any] | None = None,
) -> None:
    fn.add_to_role_policy(
        iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
    )
