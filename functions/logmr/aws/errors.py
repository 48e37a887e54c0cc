"""AWS errors turned into logmr's own, at the boundary.

The state machine's Retry matches ``TransientError`` by name and everything
else is permanent, so each adapter call wraps botocore's exceptions with
``raise translate(exc, "what was being done") from exc``. Classification uses
the error code, the HTTP status and the exception class, never message text.
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from logmr.errors import InputNotFoundError, LogmrError, PermanentError, TransientError

__all__ = ["NOT_FOUND_CODES", "TRANSIENT_CODES", "classify", "error_code", "translate"]

#: codes AWS services use for throttling, overload and server faults
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionConflictException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
#: codes for an object or bucket that is not there (HEAD answers a bare "404")
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})

#: botocore's exceptions for a network fault: connect/read timeouts, a closed
#: connection, a stream cut short (all subclasses of these bases)
_TRANSIENT_CLASSES: tuple[type[BaseException], ...] = (
    BotoConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError
    HTTPClientError,  # ConnectionClosedError, ReadTimeoutError, ResponseStreamingError
    IncompleteReadError,  # a body shorter than its Content-Length
    FlexibleChecksumError,  # a body damaged in transit
    ConnectionError,  # the builtin: a reset socket while streaming a body
    TimeoutError,
)


def error_code(exc: BaseException) -> tuple[str, int]:
    """The error code and HTTP status of a ``ClientError`` (``("", 0)`` otherwise)."""
    if not isinstance(exc, ClientError):
        return "", 0
    response = exc.response or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, status


def classify(code: str, status: int) -> type[LogmrError]:
    """The logmr error class for an AWS error code and HTTP status."""
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError
    if code in NOT_FOUND_CODES or status == 404:
        return InputNotFoundError
    # ResourceNotFoundException (a table that does not exist), AccessDenied,
    # ValidationException, ItemCollectionSizeLimitExceededException...: no
    # retry mends them.
    return PermanentError


def translate(exc: BaseException, what: str) -> LogmrError:
    """A logmr error for ``exc``, raised by the caller ``from exc``.

    ``what`` says what was being done ("get s3://bucket/key"); the message is
    one line: ``what: code (HTTP status): AWS message``.
    """
    if isinstance(exc, LogmrError):
        return exc
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        detail = f"{code} (HTTP {status})" if status else code
        text = f"{what}: {detail}: {message}" if message else f"{what}: {detail}"
        return classify(code, status)(text)
    if isinstance(exc, _TRANSIENT_CLASSES):
        return TransientError(f"{what}: {type(exc).__name__}: {exc}")
    # NoCredentialsError, NoRegionError, ParamValidationError, anything else
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}")
