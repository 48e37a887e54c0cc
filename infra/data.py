"""Where logmr keeps things: the data bucket and its access-log bucket, the
results and jobs tables, and how long every log group keeps its logs.

The S3 layout comes from ``logmr.layout``, the tables' keys and indexes from
``logmr.aws.tables``; nothing here names a key or an index itself.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from logmr import config, layout
from logmr.aws import tables

#: uploads under ``incoming/<job>/`` start that job (see ``infra.triggers``); the
#: default input prefix of the grants and of Plan's allow-list (logmr.aws.allowlist)
INPUT_PREFIX = config.DEFAULT_INPUT_PREFIXES
#: job data (plans, shuffle, task summaries, part files) under this prefix
DATA_PREFIX = config.DEFAULT_DATA_PREFIX
#: shuffle objects, expired by the lifecycle rule: ``logmr/shuffle/``
SHUFFLE_PREFIX = DATA_PREFIX + layout.SHUFFLE_PREFIX
SHUFFLE_EXPIRY_DAYS = 7
#: every job's other objects (plan, summaries, part files), expired with its
#: record and results: ``logmr/jobs/``
JOBS_PREFIX = DATA_PREFIX + layout.JOBS_PREFIX

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def log_group(scope: Construct, construct_id: str, name: str | None = None) -> logs.LogGroup:
    """A log group of the functions, the state machine or the API: kept
    ``LOG_RETENTION``, deleted with the stack (logs are not data)."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=LOG_RETENTION,
        removal_policy=RemovalPolicy.DESTROY,
    )


def _attribute(described: dict[str, str]) -> dynamodb.Attribute:
    kinds = {
        "S": dynamodb.AttributeType.STRING,
        "N": dynamodb.AttributeType.NUMBER,
        "B": dynamodb.AttributeType.BINARY,
    }
    return dynamodb.Attribute(name=described["name"], type=kinds[described["type"]])


class Storage:
    """The buckets (``bucket``, ``access_logs``) and the tables
    (``results_table``, ``jobs_table``), created in ``scope`` and removed
    with the stack or kept, as ``removal_policy`` says. A job's record and
    results (the tables' TTL) and its objects (a lifecycle rule) go
    ``retention_days`` after they were written; 0 keeps them."""

    def __init__(
        self, scope: Construct, removal_policy: RemovalPolicy, retention_days: int
    ) -> None:
        if retention_days < 0:
            raise ValueError(f"retention days: 0 (keep) or more, got {retention_days}")
        self.removal_policy = removal_policy
        self.retention_days = retention_days
        self._buckets(scope)
        described = tables.describe()
        self.results_table = self._table(scope, "ResultsTable", described["results"])
        self.jobs_table = self._table(scope, "JobsTable", described["jobs"])

    def _buckets(self, scope: Construct) -> None:
        # The access-log bucket receives S3 server access logs of the data
        # bucket (S3-managed keys: the log delivery cannot use SSE-KMS).
        self.access_logs = s3.Bucket(
            scope,
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
            scope,
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
                *self._job_expiry(),
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

    def _job_expiry(self) -> list[s3.LifecycleRule]:
        if not self.retention_days:
            return []
        return [
            s3.LifecycleRule(
                id="ExpireJobs",
                prefix=JOBS_PREFIX,
                expiration=Duration.days(self.retention_days),
            )
        ]

    def _table(self, scope: Construct, construct_id: str, design: dict[str, Any]) -> dynamodb.Table:
        sort_key = design["sort_key"]
        table = dynamodb.Table(
            scope,
            construct_id,
            partition_key=_attribute(design["partition_key"]),
            sort_key=_attribute(sort_key) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=self.removal_policy,
            time_to_live_attribute=design["ttl"] if self.retention_days else None,
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
