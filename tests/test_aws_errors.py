"""The AWS boundary: botocore errors become logmr's, and clients are built lazily."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from moto import mock_aws

from logmr.aws.clients import DEFAULT_MAX_ATTEMPTS, Clients
from logmr.aws.errors import classify, error_code, translate
from logmr.errors import (
    InputNotFoundError,
    InvalidJobError,
    LogmrError,
    PermanentError,
    TransientError,
)

pytestmark = pytest.mark.functional


def client_error(code: str, status: int, message: str = "boom") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "AnOperation",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("RequestLimitExceeded", 400),
        ("SlowDown", 503),
        ("InternalError", 500),
        ("ServiceUnavailable", 503),
        ("InternalServerError", 500),
        ("RequestTimeout", 400),
        ("SomethingNew", 502),  # any 5xx
        ("SomethingElse", 429),
    ],
)
def test_throttling_and_server_faults_are_transient(code: str, status: int) -> None:
    error = translate(client_error(code, status), "get s3://b/k")
    assert type(error) is TransientError
    assert str(error) == f"get s3://b/k: {code} (HTTP {status}): boom"


@pytest.mark.parametrize(
    ("code", "status"),
    [("NoSuchKey", 404), ("NoSuchBucket", 404), ("404", 404), ("NotFound", 404), ("Odd", 404)],
)
def test_missing_keys_and_buckets_are_input_not_found(code: str, status: int) -> None:
    assert type(translate(client_error(code, status), "x")) is InputNotFoundError


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ResourceNotFoundException", 400),
        ("AccessDenied", 403),
        ("ValidationException", 400),
        ("ItemCollectionSizeLimitExceededException", 400),
        ("ConditionalCheckFailedException", 400),
    ],
)
def test_other_client_errors_are_permanent(code: str, status: int) -> None:
    assert type(translate(client_error(code, status), "x")) is PermanentError


def test_classification_never_reads_the_message() -> None:
    throttled_text = client_error("ValidationException", 400, "Rate exceeded: throttling, 503")
    assert type(translate(throttled_text, "x")) is PermanentError
    not_found_text = client_error("SlowDown", 503, "NoSuchKey: the key does not exist")
    assert type(translate(not_found_text, "x")) is TransientError


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://s3.example"),
        ConnectionClosedError(endpoint_url="https://s3.example"),
        ReadTimeoutError(endpoint_url="https://s3.example"),
        ConnectTimeoutError(endpoint_url="https://s3.example"),
        ResponseStreamingError(error="reset"),
        IncompleteReadError(actual_bytes=1, expected_bytes=2),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
    ],
)
def test_network_faults_are_transient(exc: Exception) -> None:
    error = translate(exc, "read s3://b/k")
    assert type(error) is TransientError
    assert str(error).startswith(f"read s3://b/k: {type(exc).__name__}: ")
    assert "\n" not in str(error)


def test_anything_else_is_permanent_and_logmr_errors_pass_through() -> None:
    assert type(translate(NoCredentialsError(), "x")) is PermanentError
    assert type(translate(ValueError("odd"), "x")) is PermanentError
    own = InvalidJobError("no such job")
    assert translate(own, "x") is own


def test_error_code_and_classify() -> None:
    assert error_code(client_error("SlowDown", 503)) == ("SlowDown", 503)
    assert error_code(ValueError()) == ("", 0)
    bare = ClientError({}, "Op")  # a response without Error or metadata
    assert error_code(bare) == ("", 0)
    assert issubclass(type(translate(bare, "x")), LogmrError)
    assert classify("SlowDown", 0) is TransientError
    assert classify("NoSuchKey", 0) is InputNotFoundError
    assert classify("AccessDenied", 0) is PermanentError


def test_translated_errors_chain_to_the_aws_error() -> None:
    cause = client_error("SlowDown", 503)
    with pytest.raises(TransientError) as caught:
        try:
            raise cause
        except ClientError as exc:
            raise translate(exc, "put s3://b/k") from exc
    assert caught.value.__cause__ is cause


# -- clients ---------------------------------------------------------------------


def test_clients_are_built_lazily_once_and_honour_endpoint_and_region() -> None:
    clients = Clients(endpoint_url="http://localhost:4566", region="eu-west-1", max_attempts=7)
    assert clients._cache == {}  # nothing built yet
    s3 = clients.client("s3")
    assert clients.client("s3") is s3
    assert s3.meta.endpoint_url == "http://localhost:4566"
    assert s3.meta.region_name == "eu-west-1"
    config = s3.meta.config
    # botocore's max_attempts counts retries; it reports calls in all
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert (config.connect_timeout, config.read_timeout) == (5.0, 60.0)
    assert clients.client("dynamodb").meta.service_model.service_name == "dynamodb"
    assert "localhost:4566" in repr(clients)


def test_the_environment_endpoint_is_not_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack.example:4566")
    client = Clients().client("dynamodb")
    assert client.meta.endpoint_url == "http://localstack.example:4566"
    assert client.meta.region_name == "us-east-1"  # boto3's own lookup
    assert client.meta.config.retries["total_max_attempts"] == DEFAULT_MAX_ATTEMPTS + 1
    explicit = Clients(endpoint_url="http://other:1234").client("dynamodb")
    assert explicit.meta.endpoint_url == "http://other:1234"


def test_clients_pickle_without_their_cache() -> None:
    clients = Clients(endpoint_url="http://localhost:4566", region="us-east-1", read_timeout=9)
    first = clients.client("s3")
    copy = pickle.loads(pickle.dumps(clients))
    assert copy._cache == {}
    assert (copy.endpoint_url, copy.region, copy.read_timeout) == (
        "http://localhost:4566",
        "us-east-1",
        9,
    )
    rebuilt = copy.client("s3")
    assert rebuilt is not first and rebuilt.meta.config.read_timeout == 9


def test_clients_are_shared_safely_between_threads() -> None:
    clients = Clients(region="us-east-1")
    built: list[Any] = []
    with mock_aws():
        threads = [
            threading.Thread(target=lambda: built.append(clients.client("s3"))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(built) == 8 and all(client is built[0] for client in built)


def test_importing_the_adapters_builds_and_imports_no_boto3() -> None:
    code = (
        "import sys, logmr.aws.s3, logmr.aws.dynamodb, logmr.aws.tables, logmr.aws.clients;"
        "print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
