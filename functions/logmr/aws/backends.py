"""The storage of the Lambda handlers on AWS: S3 for inputs and job data,
DynamoDB for results and job records, all from ``Settings``."""

from __future__ import annotations

from logmr.aws.clients import Clients
from logmr.aws.dynamodb import DynamoResultStore
from logmr.aws.s3 import S3InputSource, S3ObjectStore
from logmr.config import Settings
from logmr.errors import InvalidParameterError
from logmr.storage.backends import Backends


def aws_backends(settings: Settings, clients: Clients | None = None) -> Backends:
    if not settings.bucket:
        raise InvalidParameterError("no bucket for job data: set LOGMR_BUCKET")
    clients = clients or Clients(endpoint_url=settings.endpoint_url)
    return Backends(
        inputs=S3InputSource(clients=clients),
        objects=S3ObjectStore(settings.bucket, settings.data_prefix, clients=clients),
        results=DynamoResultStore(
            settings.results_table_name,
            settings.jobs_table_name,
            clients=clients,
            retention_days=settings.retention_days,
        ),
    )
