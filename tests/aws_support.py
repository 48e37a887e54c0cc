"""A moto account laid out as the stack lays out AWS: a bucket with logs under
``incoming/`` and job data under ``logmr/``, the tables from ``logmr.aws.tables``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from conftest import AWS_BUCKET as BUCKET
from logmr.aws import tables
from logmr.config import DEFAULT_JOBS_TABLE, DEFAULT_RESULTS_TABLE


def create_account() -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(**tables.results_table_spec(DEFAULT_RESULTS_TABLE))
    dynamodb.create_table(**tables.jobs_table_spec(DEFAULT_JOBS_TABLE))
    return s3


def upload(s3: Any, path: Path, key: str) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    return f"s3://{BUCKET}/{key}"
